//! Objections to the provisional ranking (*ricorsi*): filed within the window's
//! objection days from the ranking's publication, registered in the protocol register,
//! handed to the back office as work; the specialist's outcome rescored the application
//! (`upheld`, with only the corrected declarations) or leaves it as it was (`rejected`).
//! The final ranking waits until the days have passed and every objection is decided.

use std::collections::HashMap;

use jiff::{Span, civil::Date};
use sportello_kit::{
    Aggregate, CallContext, IdempotencyKey, Role, ServiceError, UnitOfWork, domain,
    protocol::{Incoming, document_key, sha256_hex},
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    education::v1::{
        FileObjectionRequest, FileObjectionResponse, ObjectionDecided, ObjectionFiled,
    },
    routing::v1::IncomingKind,
};

use super::{
    Office,
    criteria::{self, Declared},
    domain::{ApplicationId, Filing, ObjectionId, Stage, corrected_declarations},
    message, store, work,
};
use crate::error::EducationError;

/// The idempotent operation of an objection.
const FILE: &str = "education.file_objection";

/// The last day families may object: the window's objection days after the provisional
/// ranking's day of publication (Europe/Rome).
pub fn last_day(
    window: &store::Window,
    provisional: &store::Ranking,
) -> Result<Date, ServiceError> {
    rome::date_of(provisional.published_at)
        .checked_add(Span::new().days(i64::from(window.window.objection_days)))
        .map_err(ServiceError::internal)
}

/// The family's grounds: free text in paragraphs, 1 to 2000 characters.
fn parse_grounds(raw: &str) -> Result<String, ServiceError> {
    let grounds = raw.trim();
    if grounds.is_empty() {
        return Err(ServiceError::invalid_field(
            "grounds",
            "obbligatori: che cosa la famiglia contesta / required: what the family objects to",
        ));
    }
    if grounds.chars().count() > 2000 {
        return Err(ServiceError::invalid_field(
            "grounds",
            "al massimo 2000 caratteri / at most 2000 characters",
        ));
    }
    if grounds
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ServiceError::invalid_field(
            "grounds",
            "caratteri di controllo non ammessi / control characters are not allowed",
        ));
    }
    Ok(grounds.to_owned())
}

/// Whether the window takes objections on `today`: the provisional ranking out, the final
/// not yet, the objection days not over. Asked before anything is registered, and again
/// under the window's lock with the insert.
async fn check_open(
    conn: &mut sqlx::PgConnection,
    window: &store::Window,
    today: Date,
) -> Result<(), ServiceError> {
    let Some(provisional) = store::find_ranking(&mut *conn, window.id, Stage::Provisional).await?
    else {
        return Err(EducationError::Precondition(
            "la graduatoria provvisoria non è ancora pubblicata: il ricorso si presenta dopo / \
             the provisional ranking is not published yet"
                .into(),
        )
        .into());
    };
    if store::find_ranking(&mut *conn, window.id, Stage::Final)
        .await?
        .is_some()
    {
        return Err(EducationError::Precondition(
            "la graduatoria definitiva è già pubblicata / the final ranking is out".into(),
        )
        .into());
    }
    let last = last_day(window, &provisional)?;
    if today > last {
        return Err(EducationError::Precondition(format!(
            "i ricorsi si presentano entro il {last} ({} giorni dalla graduatoria provvisoria) \
             / objections are taken until {last}",
            window.window.objection_days
        ))
        .into());
    }
    Ok(())
}

/// Files an objection.
pub async fn file(
    office: &Office,
    context: &CallContext,
    request: FileObjectionRequest,
) -> Result<FileObjectionResponse, ServiceError> {
    context.require_role(Role::OPERATORS)?;
    let application_id = ApplicationId(domain::parse_field(
        "application_id",
        request.application_id.trim(),
    )?);
    let grounds = parse_grounds(&request.grounds)?;
    let filing = Filing::parse(request.channel)?;
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = FileObjectionRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = office.db.replay(FILE, key, &fingerprint).await? {
        return Ok(response);
    }
    let not_found = || EducationError::NotFound {
        field: "application_id",
        what: "nessuna domanda con questo id / no application with this id",
    };
    let pool = office.db.pool();
    let application = store::find_application(pool, application_id)
        .await?
        .ok_or_else(not_found)?;
    let window = store::find_window(pool, application.window_id)
        .await?
        .ok_or_else(not_found)?;
    let municipality = window.window.municipality;
    if context.ensure_municipality(municipality).is_err() {
        return Err(not_found().into());
    }
    let today = rome::date_of(office.db.clock().now());
    check_open(
        &mut *pool.acquire().await.map_err(ServiceError::from)?,
        &window,
        today,
    )
    .await?;
    if store::objection_of(pool, application_id).await?.is_some() {
        return Err(EducationError::ObjectionExists.into());
    }

    let base = key.map_or_else(
        || {
            document_key(&[
                &sha256_hex(&prost::Message::encode_to_vec(&fingerprint)),
                &today.to_string(),
            ])
        },
        |k| k.uuid(),
    );
    let id = ObjectionId(document_key(&[&base.to_string(), "objection"]));
    let entry = office
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality,
                kind: IncomingKind::Request,
                sender_ref: application.applicant_ref.clone(),
                sender_name: String::new(),
                subject: format!(
                    "Ricorso contro la graduatoria provvisoria, domanda {}",
                    application.code
                ),
                document_sha256: sha256_hex(
                    format!("ricorso {}\ndomanda {}\n{grounds}", id.0, application.id.0).as_bytes(),
                ),
                channel: filing.channel(),
                idempotency_key: document_key(&[&id.0.to_string(), "protocol"]),
            },
        )
        .await?;
    let objection = store::Objection {
        id,
        application_id,
        window_id: window.id,
        grounds,
        filing,
        filed_by: context.actor().to_owned(),
        protocol_registration_id: entry.id,
        protocol_number: entry.number,
        filed_at: entry.registered_at,
        status: "open".into(),
        score_before: application.score,
        score_after: None,
        case_id: None,
        decided_by: None,
        decided_at: None,
    };
    office
        .db
        .idempotent(FILE, key, &fingerprint, move |uow| {
            Box::pin(async move {
                // Under the window's lock: a final ranking published meanwhile, or the
                // last day passed at midnight, refuses it still.
                let window = store::lock_window(uow, objection.window_id)
                    .await?
                    .ok_or_else(|| ServiceError::internal("an objection's window vanished"))?;
                let today = rome::date_of(uow.now());
                check_open(uow.conn(), &window, today).await?;
                store::insert_objection(uow, &objection).await?;
                work::request(uow, &objection, &application, municipality).await?;
                emit(
                    uow,
                    &objection,
                    municipality,
                    ObjectionFiled {
                        objection_id: objection.id.0.to_string(),
                        application_id: application_id.0.to_string(),
                        window_id: objection.window_id.0.to_string(),
                        municipality_istat_code: municipality.to_string(),
                    },
                    1,
                )
                .await?;
                Ok(FileObjectionResponse {
                    objection: Some(message::objection(&objection, &application.code)),
                })
            })
        })
        .await
}

async fn emit<E: sportello_proto::Event>(
    uow: &mut UnitOfWork,
    objection: &store::Objection,
    municipality: sportello_kit::MunicipalityCode,
    event: E,
    version: i64,
) -> Result<(), ServiceError> {
    let id = objection.id.0.to_string();
    uow.emit(
        &event,
        Aggregate {
            kind: "education.objection",
            id: &id,
            version,
            municipality,
        },
    )
    .await?;
    Ok(())
}

/// Applies the back office's outcome to `objection`, in `uow`; an objection decided
/// already keeps its first decision.
pub async fn decide(
    uow: &mut UnitOfWork,
    mut objection: store::Objection,
    outcome: &str,
    result: &HashMap<String, String>,
    actor: &str,
    case_id: &str,
) -> Result<(), ServiceError> {
    if objection.status != "open" {
        return Ok(());
    }
    let not_found = || {
        ServiceError::from(EducationError::NotFound {
            field: "application_id",
            what: "la domanda del ricorso non c'è più / the objection's application is gone",
        })
    };
    let window = store::lock_window(uow, objection.window_id)
        .await?
        .ok_or_else(not_found)?;
    let (mut application, disability) = store::lock_application(uow, objection.application_id)
        .await?
        .ok_or_else(not_found)?;
    let upheld = match outcome {
        "upheld" => {
            let declared = Declared {
                resident: application.resident,
                working_parents: u8::try_from(application.working_parents).unwrap_or(0),
                siblings_enrolled: u8::try_from(application.siblings_enrolled).unwrap_or(0),
                disability,
                isee_cents: application.isee_cents,
            };
            let (declared, dsu) = corrected_declarations(declared, result)?;
            if let Some(dsu) = dsu {
                application.dsu_protocol = dsu;
            }
            if declared.isee_cents.is_some() != application.dsu_protocol.is_some() {
                return Err(ServiceError::invalid_field(
                    "result.dsu_protocol",
                    "il valore ISEE va con il numero della sua DSU / an ISEE value goes with \
                     its DSU number",
                ));
            }
            let score = criteria::score(&window.window.criteria, &declared);
            application.working_parents = i16::from(declared.working_parents);
            application.siblings_enrolled = i16::from(declared.siblings_enrolled);
            application.isee_cents = declared.isee_cents;
            application.score = i32::try_from(score.total).unwrap_or(i32::MAX);
            store::rescore(uow, &application, declared.disability).await?;
            true
        }
        "rejected" => false,
        other => {
            return Err(ServiceError::invalid_field(
                "outcome_code",
                format!("{other:?}: upheld o rejected / upheld or rejected"),
            ));
        }
    };
    objection.status = if upheld { "upheld" } else { "rejected" }.into();
    objection.score_after = Some(application.score);
    objection.case_id = Some(case_id.to_owned());
    objection.decided_by = Some(actor.to_owned());
    objection.decided_at = Some(uow.now());
    store::decide_objection(uow, &objection).await?;
    let municipality = window.window.municipality;
    emit(
        uow,
        &objection,
        municipality,
        ObjectionDecided {
            objection_id: objection.id.0.to_string(),
            application_id: objection.application_id.0.to_string(),
            window_id: objection.window_id.0.to_string(),
            municipality_istat_code: municipality.to_string(),
            upheld,
        },
        2,
    )
    .await?;
    Ok(())
}
