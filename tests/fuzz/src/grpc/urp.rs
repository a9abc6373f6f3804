//! URP's public RPCs: feedback, access-to-documents requests, the knowledge base, reports.

use sportello_proto::urp::v1::{
    DefineCategoryRequest, FileAccessRequest, FileReportRequest, GetRateableCaseRequest,
    GetSatisfactionReportRequest, PublishAnswerRequest, ReplyToReportRequest, SearchAnswersRequest,
    SubmitFeedbackRequest,
};
use sportello_urp::{
    access_requests::domain::NewAccess,
    feedback::domain::{RateableQuery, Rating, ReportQuery},
    knowledge::domain::{NewAnswer, Question},
    reports::domain::{Category, NewReport, Reply},
};

use super::{dispatch, parse};

const PARSERS: &[fn(&[u8])] = &[
    |b| parse(b, |r: &SubmitFeedbackRequest| Rating::try_from(r).map(drop)),
    |b| {
        parse(b, |r: &GetRateableCaseRequest| {
            RateableQuery::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &GetSatisfactionReportRequest| {
            ReportQuery::try_from(r).map(drop)
        })
    },
    |b| parse(b, |r: &FileAccessRequest| NewAccess::try_from(r).map(drop)),
    |b| {
        parse(b, |r: &PublishAnswerRequest| {
            NewAnswer::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &SearchAnswersRequest| {
            Question::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &DefineCategoryRequest| {
            Category::try_from(r).map(drop)
        })
    },
    |b| parse(b, |r: &FileReportRequest| NewReport::try_from(r).map(drop)),
    |b| parse(b, |r: &ReplyToReportRequest| Reply::try_from(r).map(drop)),
];

/// A request to one of URP's public RPCs.
pub fn grpc_urp(data: &[u8]) {
    dispatch(data, PARSERS);
}
