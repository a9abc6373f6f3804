//! Education's public RPCs: schools, enrolment windows and applications, fees.

use sportello_education::{
    enrolment::domain::{NewApplication, NewWindow},
    fees::domain::{NewSchedule, NewSubscription},
    schools::domain::NewSchool,
};
use sportello_proto::education::v1::{
    FileApplicationRequest, OpenWindowRequest, RegisterSchoolRequest, SetFeeScheduleRequest,
    SubscribeRequest,
};

use super::{dispatch, parse};

const PARSERS: &[fn(&[u8])] = &[
    |b| {
        parse(b, |r: &FileApplicationRequest| {
            NewApplication::try_from(r).map(drop)
        })
    },
    |b| parse(b, |r: &OpenWindowRequest| NewWindow::try_from(r).map(drop)),
    |b| {
        parse(b, |r: &RegisterSchoolRequest| {
            NewSchool::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &SetFeeScheduleRequest| {
            NewSchedule::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &SubscribeRequest| {
            NewSubscription::try_from(r).map(drop)
        })
    },
];

/// A request to one of education's public RPCs.
pub fn grpc_education(data: &[u8]) {
    dispatch(data, PARSERS);
}
