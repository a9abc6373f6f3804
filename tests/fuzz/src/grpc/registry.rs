//! The registry's public RPCs: certificates (issue, get, verify), residents, residence
//! changes and immigration, streets.

use jiff::civil::Date;
use sportello_proto::registry::v1::{
    AnswerObservationsRequest, DeclareImmigrationRequest, DeclareResidenceChangeRequest,
    GetCertificateRequest, IssueCertificateRequest, RecordAddressCheckRequest,
    RecordNoticeReceiptRequest, RecordObservationsRequest, RegisterResidentRequest,
    RegisterStreetRequest, SendReasonsAgainstRequest, VerifyCertificateRequest,
};
use sportello_registry::{
    certificates::{
        code::VerificationCode,
        grpc::{parse_case_id, parse_issue},
    },
    domain::CertificateId,
    residence::{
        domain::{Answer, DeclaredChange, Notice, Observations, Receipt, RecordedCheck},
        immigration::DeclaredImmigration,
    },
    residents::domain::NewResident,
    streets::domain::NewStreet,
};

use super::{dispatch, parse};

/// The request's day, fixed so a failing input fails the same way every day.
const TODAY: Date = Date::constant(2026, 12, 7);

const PARSERS: &[fn(&[u8])] = &[
    |b| parse(b, |r: &IssueCertificateRequest| parse_issue(r, None)),
    |b| {
        parse(b, |r: &IssueCertificateRequest| {
            parse_issue(r, Some("AUT/2026/1"))
        })
    },
    |b| {
        parse(b, |r: &GetCertificateRequest| {
            CertificateId::parse("certificate_id", &r.certificate_id)?;
            parse_case_id(&r.case_id).map(drop)
        })
    },
    |b| {
        parse(b, |r: &VerifyCertificateRequest| {
            VerificationCode::parse("verification_code", &r.verification_code).map(drop)
        })
    },
    |b| {
        parse(b, |r: &RegisterResidentRequest| {
            NewResident::parse(r, TODAY).map(drop)
        })
    },
    |b| {
        parse(b, |r: &DeclareImmigrationRequest| {
            DeclaredImmigration::parse(r, TODAY).map(drop)
        })
    },
    |b| {
        parse(b, |r: &DeclareResidenceChangeRequest| {
            DeclaredChange::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &RecordAddressCheckRequest| {
            RecordedCheck::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &SendReasonsAgainstRequest| {
            Notice::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &RecordNoticeReceiptRequest| {
            Receipt::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &RecordObservationsRequest| {
            Observations::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &AnswerObservationsRequest| {
            Answer::try_from(r).map(drop)
        })
    },
    |b| {
        parse(b, |r: &RegisterStreetRequest| {
            NewStreet::try_from(r).map(drop)
        })
    },
];

/// A request to one of the registry's public RPCs.
pub fn grpc_registry(data: &[u8]) {
    dispatch(data, PARSERS);
}
