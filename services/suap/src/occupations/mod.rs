//! Occupations of public land (suolo pubblico) and dehors, with the canone unico: the place
//! as a polygon checked against the others in the database (`geometry`, `store`), the
//! tariff engine (`canone`), the transitions (`flow`), a temporary one's end (`expiry`) and
//! the gRPC edge (`grpc`, `message`).

pub mod canone;
pub mod domain;
pub mod events;
pub mod expiry;
pub mod flow;
pub mod geometry;
pub mod grpc;
pub mod message;
pub mod payment;
pub mod store;
