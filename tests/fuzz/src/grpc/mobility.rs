//! Mobility's public RPCs: disabled badges (CUDE), permits, and the ZTL cameras' check of
//! a plate.

use sportello_mobility::{
    badges::domain::NewBadge, permits::domain::Application, whitelist::grpc::whitelist_plate,
};
use sportello_proto::mobility::v1::{CheckTransitRequest, IssueBadgeRequest, IssuePermitRequest};

use super::{dispatch, parse};

const PARSERS: &[fn(&[u8])] = &[
    |b| parse(b, |r: &IssueBadgeRequest| NewBadge::try_from(r).map(drop)),
    |b| {
        parse(b, |r: &IssuePermitRequest| {
            Application::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &CheckTransitRequest| {
            whitelist_plate(&r.plate).map(drop)
        })
    },
];

/// A request to one of mobility's public RPCs.
pub fn grpc_mobility(data: &[u8]) {
    dispatch(data, PARSERS);
}
