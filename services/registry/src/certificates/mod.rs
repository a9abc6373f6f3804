//! Certificates issued on the spot: what each type certifies and for whom, stamp duty and
//! fees, the text (in Italian, as the law wants it), the PDF, the verification code, and
//! their storage and public verification.

pub mod code;
pub mod compose;
pub mod grpc;
pub mod kind;
pub mod pdf;
pub mod stamp;
pub mod store;
