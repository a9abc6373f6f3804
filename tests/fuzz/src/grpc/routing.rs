//! Routing's public RPCs: `CaseService` (open a case, a kiosk ticket, the counter's
//! actions), `ProtocolService`'s incoming register, `SiteService`'s new site,
//! `BackOfficeService`'s operator and outcome.

use sportello_proto::routing::v1::{
    CallNextRequest, CallTicketRequest, CompleteRequest, CompleteWorkRequest, CreateSiteRequest,
    GetCaseRequest, IssueTicketRequest, OpenCaseRequest, ParkRequest, RegisterIncomingRequest,
    TransferRequest,
};
use sportello_routing::{
    cases::{
        domain::{NewCase, NewTicket, parse_outcome},
        grpc::{case_id, operator_id, reason},
    },
    operators::domain::parse_operator_id,
    protocol::domain::Entry,
    sites::domain::NewSite,
};

use super::{dispatch, parse};

const PARSERS: &[fn(&[u8])] = &[
    |b| parse(b, |r: &OpenCaseRequest| NewCase::try_from(r).map(drop)),
    |b| parse(b, |r: &IssueTicketRequest| NewTicket::try_from(r).map(drop)),
    |b| {
        parse(b, |r: &CallNextRequest| {
            operator_id(&r.operator_id).map(drop)
        })
    },
    |b| {
        parse(b, |r: &CallTicketRequest| {
            operator_id(&r.operator_id).map(drop)
        })
    },
    |b| parse(b, |r: &GetCaseRequest| case_id(&r.case_id).map(drop)),
    |b| {
        parse(b, |r: &ParkRequest| {
            reason(&r.reason)?;
            operator_id(&r.operator_id)?;
            case_id(&r.case_id).map(drop)
        })
    },
    |b| {
        parse(b, |r: &TransferRequest| {
            operator_id(&r.operator_id)?;
            case_id(&r.case_id).map(drop)
        })
    },
    |b| {
        parse(b, |r: &CompleteRequest| {
            operator_id(&r.operator_id)?;
            case_id(&r.case_id)?;
            parse_outcome("outcome_code", &r.outcome_code).map(drop)
        })
    },
    |b| {
        parse(b, |r: &CompleteWorkRequest| {
            parse_operator_id("operator_id", &r.operator_id)?;
            parse_outcome("outcome_code", &r.outcome_code).map(drop)
        })
    },
    |b| {
        parse(b, |r: &RegisterIncomingRequest| {
            Entry::try_from(r).map(drop)
        })
    },
    |b| parse(b, |r: &CreateSiteRequest| NewSite::try_from(r).map(drop)),
];

/// A request to one of routing's public RPCs.
pub fn grpc_routing(data: &[u8]) {
    dispatch(data, PARSERS);
}
