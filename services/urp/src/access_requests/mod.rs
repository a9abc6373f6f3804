//! Access requests on their statutory terms: access to documents (L. 241/1990 art.
//! 22-25, DPR 184/2006) and civic access (D.Lgs 33/2013 art. 5, simple and generalised),
//! the counter-interested parties, the decision with its grounds and remedies, the
//! transparency officer's review with the Garante, and the public register of access
//! requests.
//!
//! [`domain`] parses and holds the law's lists, [`terms`] computes every term (pure),
//! [`flow`] holds what every step shares and [`filing`], [`irregular`],
//! [`objections`], [`decision`], [`review`] and [`expiry`] are the steps, each one unit of
//! work; [`work`] hands the office's work to
//! routing, [`store`] is the SQL, [`message`] the protobuf views, [`grpc`] the service.

pub mod decision;
pub mod domain;
pub mod expiry;
pub mod filing;
pub mod flow;
pub mod grpc;
pub mod irregular;
pub mod message;
pub mod objections;
pub mod review;
pub mod store;
pub mod terms;
pub mod work;
