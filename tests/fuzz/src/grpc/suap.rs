//! SUAP's public RPCs: businesses, applications, public-land occupations and their fee.

use sportello_proto::suap::v1::{
    FileApplicationRequest, QuoteCanoneRequest, RegisterBusinessRequest, RequestOccupationRequest,
};
use sportello_suap::{
    applications::domain::NewApplication,
    businesses::domain::NewBusiness,
    occupations::domain::{NewOccupation, QuoteInput},
};

use super::{dispatch, parse};

const PARSERS: &[fn(&[u8])] = &[
    |b| {
        parse(b, |r: &RegisterBusinessRequest| {
            NewBusiness::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &FileApplicationRequest| {
            NewApplication::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &RequestOccupationRequest| {
            NewOccupation::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &QuoteCanoneRequest| {
            QuoteInput::try_from(r).map(drop)
        })
    },
];

/// A request to one of SUAP's public RPCs.
pub fn grpc_suap(data: &[u8]) {
    dispatch(data, PARSERS);
}
