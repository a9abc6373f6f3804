//! Filing an application: the window open today, the child's age for the service, no
//! second application for the child — all checked before anything is asked —; then the
//! registry's fact (residence, audited there), the protocol register's number, and in one
//! unit of work the application with its code, its health data apart, and the event.
//!
//! The protocol call comes first, keyed from the application's id, so a retry repeats
//! the very same call and gets the same number; a received application is never annulled
//! because of an internal error of ours (DPR 445/2000 art. 54).

use prost::Message as _;
use sportello_kit::{
    Aggregate, CallContext, IdempotencyKey, RequesterRef, Role, ServiceError,
    protocol::{Incoming, document_key, sha256_hex},
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    education::v1::{ApplicationFiled, FileApplicationRequest, FileApplicationResponse},
    routing::v1::IncomingKind,
};

use super::{
    Office,
    age::{self, Entry},
    criteria,
    domain::{ApplicationId, NewApplication, Service},
    message, store,
};
use crate::error::EducationError;

/// The idempotent operation of a filing.
const FILE: &str = "education.file_application";

/// The field every age and identity error names.
const CHILD: &str = "child_fiscal_code";

/// Files an application.
pub async fn file(
    office: &Office,
    context: &CallContext,
    request: FileApplicationRequest,
) -> Result<FileApplicationResponse, ServiceError> {
    context.require_role(Role::OPERATORS)?;
    let new = NewApplication::try_from(&request)?;
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = FileApplicationRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = office.db.replay(FILE, key, &fingerprint).await? {
        return Ok(response);
    }
    let window = store::find_window(office.db.pool(), new.window_id)
        .await?
        .ok_or(EducationError::NotFound {
            field: "window_id",
            what: "nessuna finestra di iscrizione con questo id / no enrolment window with this id",
        })?;
    let w = &window.window;
    context.ensure_municipality(w.municipality)?;
    let today = rome::date_of(office.db.clock().now());
    if today < w.opens_on || today > w.closes_on {
        return Err(EducationError::Precondition(format!(
            "le iscrizioni sono aperte dal {} al {}: oggi è il {today} / applications are taken \
             from {} to {}",
            w.opens_on, w.closes_on, w.opens_on, w.closes_on
        ))
        .into());
    }
    let birth = new.child.birth_date(today);
    let entry = match w.service {
        Service::Nursery => age::nursery(birth, w.starts_on, CHILD).map(|()| Entry::Regular)?,
        Service::PreSchool => age::pre_school(birth, w.year, CHILD)?,
    };
    let child_ref = RequesterRef::derive(&office.key, w.municipality, new.child.as_str());
    let applicant_ref = RequesterRef::derive(&office.key, w.municipality, new.applicant.as_str());
    if let Some(existing) =
        store::application_of_child(office.db.pool(), window.id, child_ref.as_str()).await?
    {
        return Err(EducationError::ApplicationExists {
            code: Some(existing.code),
        }
        .into());
    }

    let resident = office
        .facts
        .is_resident(context, CHILD, &new.child, w.municipality, today)
        .await?;
    let declared = criteria::Declared {
        resident,
        ..new.declared.clone()
    };
    let score = criteria::score(&w.criteria, &declared);

    let base = key.map_or_else(
        || {
            document_key(&[
                &sha256_hex(&fingerprint.encode_to_vec()),
                &today.to_string(),
            ])
        },
        |k| k.uuid(),
    );
    let id = ApplicationId(document_key(&[&base.to_string(), "application"]));
    tracing::Span::current().record("application_id", tracing::field::display(id.0));
    let service_name = match w.service {
        Service::Nursery => "nido d'infanzia",
        Service::PreSchool => "scuola dell'infanzia",
    };
    // What the register records of the form: its hash, over ids and declarations only.
    let form = format!(
        "domanda {}\nfinestra {}\nbambino {child_ref}\nrichiedente {applicant_ref}\n\
         genitori che lavorano {}\nfratelli frequentanti {}\ncertificazione L. 104/1992 {}\n\
         ISEE {:?} DSU {:?}\n",
        id.0,
        window.id.0,
        declared.working_parents,
        declared.siblings_enrolled,
        declared.disability,
        declared.isee_cents,
        new.dsu_protocol,
    );
    let channel = new.filing.channel();
    let entry_in_register = office
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: w.municipality,
                kind: IncomingKind::Application,
                sender_ref: applicant_ref.to_string(),
                sender_name: new.applicant_name.clone(),
                subject: format!("Domanda di iscrizione al {service_name}, anno {}", w.year),
                document_sha256: sha256_hex(form.as_bytes()),
                channel,
                idempotency_key: document_key(&[&id.0.to_string(), "protocol"]),
            },
        )
        .await?;

    let actor = context.actor().to_owned();
    let municipality = w.municipality;
    let prefix = format!("{}{:02}", w.service.code_prefix(), w.year.0 % 100);
    let disability = declared.disability;
    let window_id = window.id;
    office
        .db
        .idempotent(FILE, key, &fingerprint, move |uow| {
            Box::pin(async move {
                // The lock numbers the codes in turn.
                store::lock_window(uow, window_id).await?;
                let number = store::next_number(uow, window_id).await?;
                let application = store::Application {
                    id,
                    window_id,
                    code: format!("{prefix}-{number:05}"),
                    child_ref: child_ref.to_string(),
                    applicant_ref: applicant_ref.to_string(),
                    birth_date: birth,
                    entry,
                    resident,
                    working_parents: i16::from(declared.working_parents),
                    siblings_enrolled: i16::from(declared.siblings_enrolled),
                    isee_cents: declared.isee_cents,
                    dsu_protocol: new.dsu_protocol,
                    score: i32::try_from(score.total).unwrap_or(i32::MAX),
                    filing: new.filing,
                    filed_by: actor,
                    protocol_registration_id: entry_in_register.id.clone(),
                    protocol_number: entry_in_register.number.clone(),
                    filed_at: entry_in_register.registered_at,
                    offer_status: None,
                    offer_last_day: None,
                };
                store::insert_application(uow, &application, disability).await?;
                let key = id.0.to_string();
                // Ids only: a score or a declaration may reveal a disability or an income.
                let event = ApplicationFiled {
                    application_id: key.clone(),
                    window_id: window_id.0.to_string(),
                    municipality_istat_code: municipality.to_string(),
                    child_ref: application.child_ref.clone(),
                    protocol_id: application.protocol_registration_id.clone(),
                };
                uow.emit(
                    &event,
                    Aggregate {
                        kind: "education.application",
                        id: &key,
                        version: 1,
                        municipality,
                    },
                )
                .await?;
                Ok(FileApplicationResponse {
                    application: Some(message::application(&application)),
                })
            })
        })
        .await
}
