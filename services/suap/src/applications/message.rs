//! Applications as the API shows them.

use sportello_kit::{ServiceError, events::to_proto_timestamp};
use sportello_pa::Procedure;
use sportello_proto::{
    common::v1::Channel,
    suap::v1::{self as proto, ApplicationStatus, ChecklistItem, DocumentEntry, ProcedureInfo},
};

use super::{
    clock,
    domain::Status,
    procedures::{ProcedureDef, Regime},
    store::{Application, DocumentRow, OpinionRow},
};

/// The regime's enum.
pub fn regime(regime: Regime) -> proto::Regime {
    match regime {
        Regime::Scia => proto::Regime::Scia,
        Regime::SciaBuilding => proto::Regime::SciaBuilding,
        Regime::Communication => proto::Regime::Communication,
        Regime::Ordinary(_) => proto::Regime::Ordinary,
    }
}

/// The status's enum.
pub fn status(status: Status) -> ApplicationStatus {
    match status {
        Status::Effective => ApplicationStatus::Effective,
        Status::ConformOrdered => ApplicationStatus::ConformOrdered,
        Status::MeasuresReported => ApplicationStatus::MeasuresReported,
        Status::Compliant => ApplicationStatus::Compliant,
        Status::Consolidated => ApplicationStatus::Consolidated,
        Status::Prohibited => ApplicationStatus::Prohibited,
        Status::Filed => ApplicationStatus::Filed,
        Status::UnderReview => ApplicationStatus::UnderReview,
        Status::IntegrationRequested => ApplicationStatus::IntegrationRequested,
        Status::Granted => ApplicationStatus::Granted,
        Status::GrantedBySilence => ApplicationStatus::GrantedBySilence,
        Status::DecisionOverdue => ApplicationStatus::DecisionOverdue,
        Status::Refused => ApplicationStatus::Refused,
        Status::ReasonsNotified => ApplicationStatus::ReasonsNotified,
    }
}

/// A procedure of the guidance.
pub fn procedure(p: &ProcedureDef) -> ProcedureInfo {
    ProcedureInfo {
        code: p.code.into(),
        title: p.title.into(),
        regime: regime(p.regime) as i32,
        legal_basis: p.legal_basis.into(),
        clock: p.clock_text(),
        outcome_on_expiry: p.outcome_text().into(),
        checklist: p
            .checklist
            .iter()
            .map(|i| ChecklistItem {
                code: i.code.into(),
                title: i.title.into(),
                required: i.required,
                basis: i.basis.into(),
            })
            .collect(),
        forwarded_to_other_bodies: !p.forwarded_to.is_empty(),
        costs: p.costs.into(),
        occupies_land: p.occupies_land(),
    }
}

/// An opinion.
pub fn opinion(o: &OpinionRow) -> proto::Opinion {
    let on_expiry = Procedure::parse(
        &o.rule,
        o.term_days
            .and_then(|d| u32::try_from(d).ok())
            .map(sportello_pa::Term::Days),
    )
    .map(|p| p.outcome_rule().to_owned())
    .unwrap_or_default();
    proto::Opinion {
        id: o.id.to_string(),
        office: o.office.clone(),
        rule: o.rule.clone(),
        requested_date: o.requested_on.to_string(),
        due_date: o.due_on.to_string(),
        request_protocol_number: o.request_number.clone(),
        state: o.state.clone(),
        received_date: o.received_on.map(|d| d.to_string()).unwrap_or_default(),
        late: o.late,
        on_expiry,
    }
}

/// An application with its documents and opinions.
pub fn application(
    app: &Application,
    documents: &[DocumentRow],
    opinions: &[OpinionRow],
) -> Result<proto::Application, ServiceError> {
    let deadline = clock::deadline(app)?;
    let running = clock::running_due(app)?;
    Ok(proto::Application {
        id: app.id.to_string(),
        municipality_istat_code: app.municipality.to_string(),
        business_id: app.business_id.to_string(),
        procedure_code: app.procedure_code.clone(),
        regime: regime(app.regime) as i32,
        status: status(app.status) as i32,
        subject: app.subject.clone(),
        protocol_number: app.protocol_number.clone(),
        received_date: app.received_on.to_string(),
        receipt_protocol_number: app.receipt_number.clone().unwrap_or_default(),
        due_date: running.map(|d| d.to_string()).unwrap_or_default(),
        outcome_on_expiry: if running.is_some() {
            deadline
                .as_ref()
                .map(|d| d.outcome_rule.to_owned())
                .unwrap_or_default()
        } else {
            String::new()
        },
        awaiting: deadline
            .as_ref()
            .and_then(|d| d.waiting.as_ref())
            .filter(|_| !app.status.is_final())
            .map(|w| w.awaiting.to_owned())
            .unwrap_or_default(),
        documents: documents
            .iter()
            .map(|d| DocumentEntry {
                checklist_item: d.checklist_item.clone(),
                sha256: d.sha256.clone(),
                media_type: d.media_type.clone(),
                size_bytes: u64::try_from(d.size_bytes).unwrap_or_default(),
            })
            .collect(),
        opinions: opinions.iter().map(opinion).collect(),
        case_id: app.case_id.clone().unwrap_or_default(),
        channel: if app.channel == "counter" {
            Channel::Counter as i32
        } else {
            Channel::Unspecified as i32
        },
        version: u64::try_from(app.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(app.created_at)),
        occupation_id: app
            .occupation_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
    })
}
