//! The control on operators' reads of residents' data (issue 19): after every audited
//! read by a person, that person's reads in the last hour are counted; more than the
//! threshold (`PRIVACY_READS_PER_HOUR`) raises an alert for the privacy/security officer,
//! at most one per operator and clock hour. Operators are told of the control on their
//! console (L. 300/1970 art. 4 c. 3; GDPR art. 13): it is a check on access to personal
//! data, not a measure of anyone's work — so the metric has no operator label, and the
//! alert and its event name the operator and a count, never whose data was read.

pub mod grpc;
pub mod watch;
