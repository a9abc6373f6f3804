//! The office's decision: checked against the law's lists and the parties' days,
//! registered as sent with its grounds, reasons and remedies, then saved and told.

use jiff::civil::Date;
use sportello_kit::{CallContext, ServiceError, protocol::Outgoing};
use sportello_pa::calendar::rome;
use sportello_proto::{
    routing::v1::{OutgoingKind, WorkUpdateKind},
    urp::v1::{AccessDecided, DecideAccessRequest, DecideAccessResponse},
};

use super::{
    domain::{self, Decision, Kind, State},
    message,
    store::{self, Access},
    terms, work,
};
use crate::{error::UrpError, reports::Desk};

use super::flow::{locked, refuse, schedule_expiry, what};

/// The idempotent operation of a decision.
const DECIDE: &str = "urp.decide_access";
/// A decision, checked against the request.
#[derive(Debug, Clone)]
struct Decided {
    decision: Decision,
    grounds: Vec<String>,
    reasons: Option<String>,
    deferred_until: Option<Date>,
    copy_pages: u32,
    published_url: Option<String>,
}

fn check_decision(a: &Access, r: &DecideAccessRequest, day: Date) -> Result<Decided, ServiceError> {
    let decision = Decision::from_message(r.decision).ok_or_else(|| {
        ServiceError::invalid_field(
            "decision",
            "GRANTED, PARTIALLY_GRANTED, REFUSED, DEFERRED o PUBLISHED / is required",
        )
    })?;
    let allowed = match a.kind {
        Kind::CivicSimple => matches!(decision, Decision::Published | Decision::Refused),
        _ => decision != Decision::Published,
    };
    if !allowed {
        return Err(ServiceError::invalid_field(
            "decision",
            format!(
                "{} non si applica a questa richiesta ({}): l'accesso civico semplice si chiude \
                 pubblicando i dati (PUBLISHED) o spiegando che non vanno pubblicati / does not \
                 apply to this kind of access",
                decision.id(),
                a.kind.id()
            ),
        ));
    }
    let grounds = domain::grounds(a.kind, &r.grounds)?;
    let reasons = match r.reasons.trim() {
        "" => None,
        _ => Some(domain::masked_text("reasons", &r.reasons, 10, 8000)?),
    };
    if decision.limits() && (grounds.is_empty() || reasons.is_none()) {
        return Err(ServiceError::invalid_field(
            if grounds.is_empty() {
                "grounds"
            } else {
                "reasons"
            },
            "un diniego, un accoglimento parziale o un differimento va motivato con i motivi di \
             legge e le ragioni (L. 241/1990 art. 25 c. 3; D.Lgs 33/2013 art. 5 c. 6) / a refusal, \
             partial grant or deferral needs its legal grounds and reasons",
        ));
    }
    if decision == Decision::Refused && a.kind == Kind::CivicSimple && reasons.is_none() {
        return Err(ServiceError::invalid_field(
            "reasons",
            "spiegare perché i dati non vanno pubblicati / say why the data need not be published",
        ));
    }
    let deferred_until = match (decision, r.deferred_until.trim()) {
        (Decision::Deferred, raw) => {
            let until = sportello_kit::domain::parse_date("deferred_until", raw)?;
            if until <= day {
                return Err(ServiceError::invalid_field(
                    "deferred_until",
                    "deve essere futura / must be in the future",
                ));
            }
            Some(until)
        }
        (_, "") => None,
        _ => {
            return Err(ServiceError::invalid_field(
                "deferred_until",
                "solo con DEFERRED / only with DEFERRED",
            ));
        }
    };
    let published_url = match (decision, r.published_url.trim()) {
        (Decision::Published, url) if url.starts_with("https://") || url.starts_with("http://") => {
            Some(url.chars().take(500).collect())
        }
        (Decision::Published, _) => {
            return Err(ServiceError::invalid_field(
                "published_url",
                "il collegamento ai dati pubblicati, http(s) (art. 5 c. 6) / the link to the \
                 published data",
            ));
        }
        _ => None,
    };
    if r.copy_pages > 10_000 {
        return Err(ServiceError::invalid_field(
            "copy_pages",
            "al massimo 10.000 pagine / at most 10,000 pages",
        ));
    }
    Ok(Decided {
        decision,
        grounds,
        reasons,
        deferred_until,
        copy_pages: r.copy_pages,
        published_url,
    })
}

fn decision_letter(a: &Access, d: &Decided, remedies: Option<&str>) -> String {
    let mut text = format!(
        "{} prot. {} del {}\nEsito: {}\n",
        what(a.kind),
        a.protocol_number,
        a.received_on,
        d.decision.id()
    );
    for code in &d.grounds {
        if let Some((_, name)) = domain::grounds_for(a.kind).iter().find(|(c, _)| c == code) {
            text.push_str(&format!("Motivo {code}: {name}\n"));
        }
    }
    if let Some(reasons) = &d.reasons {
        text.push_str(&format!("Motivazione: {reasons}\n"));
    }
    if let Some(until) = d.deferred_until {
        text.push_str(&format!("Differito fino al {until}\n"));
    }
    if let Some(url) = &d.published_url {
        text.push_str(&format!("Dati pubblicati: {url}\n"));
    }
    if let Some(remedies) = remedies {
        text.push_str(&format!("Rimedi: {remedies}\n"));
    }
    text
}

/// The office decides.
pub async fn decide(
    desk: &Desk,
    context: &CallContext,
    request: DecideAccessRequest,
) -> Result<DecideAccessResponse, ServiceError> {
    let id = domain::access_id(&request.access_id)?;
    let key = sportello_kit::IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = DecideAccessRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = desk.db.replay(DECIDE, key, &fingerprint).await? {
        return Ok(response);
    }
    let (a, day) = {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        let a = store::find(&mut conn, id)
            .await?
            .ok_or_else(|| UrpError::RequestNotFound(id.to_string()))?;
        (a, rome::date_of(desk.db.clock().now()))
    };
    context.ensure_municipality(a.municipality)?;
    if !matches!(a.state, State::Received | State::SilentlyRefused) {
        return Err(refuse(format!(
            "la richiesta prot. {} non attende una decisione ({}) / awaits no decision",
            a.protocol_number,
            a.state.id()
        )));
    }
    let d = check_decision(&a, &fingerprint, day)?;
    let objections = {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        store::objections(&mut conn, id).await?
    };
    // The parties' 10 days are theirs: no decision before they end, unless all objected
    // (DPR 184/2006 art. 3 c. 2; D.Lgs 33/2013 art. 5 c. 5-6).
    if let Some(until) = a.objection_deadline
        && day <= until
        && objections.len() < usize::try_from(a.counter_interested).unwrap_or(0)
    {
        return Err(refuse(format!(
            "i controinteressati possono opporsi fino al {until}: si decide dopo / the \
             counter-interested parties may object until {until}: decide after that"
        )));
    }
    let over_objection = a.kind.is_civic() && d.decision.grants() && !objections.is_empty();
    let review_deadline = if a.kind.is_civic() && (d.decision.limits() || over_objection) {
        Some(terms::review_deadline(a.municipality, day)?)
    } else {
        None
    };
    let remedies =
        (d.decision.limits() || over_objection).then(|| terms::remedies(a.kind, review_deadline));
    let letter = decision_letter(&a, &d, remedies.as_deref());
    let sent = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                a.municipality,
                &id.to_string(),
                if d.decision == Decision::Refused {
                    OutgoingKind::Rejection
                } else {
                    OutgoingKind::Decision
                },
                &a.requester_ref,
                &format!(
                    "Decisione sulla richiesta di accesso prot. {}",
                    a.protocol_number
                ),
                &letter,
            ),
        )
        .await?;
    let cents = desk.copy_cents_per_page;
    let context = context.clone();
    desk.db
        .idempotent(DECIDE, key, &fingerprint, move |uow| {
            Box::pin(async move {
                let mut a = locked(uow, &context, id).await?;
                if !matches!(a.state, State::Received | State::SilentlyRefused) {
                    return Err(refuse(format!(
                        "la richiesta prot. {} è già stata decisa / was already decided",
                        a.protocol_number
                    )));
                }
                a.state = State::Decided;
                a.decision = Some(d.decision);
                a.grounds = d.grounds.clone();
                a.reasons = d.reasons.clone();
                a.deferred_until = d.deferred_until;
                a.copy_pages = i32::try_from(d.copy_pages).unwrap_or(i32::MAX);
                a.copy_cost_cents =
                    i64::try_from(terms::copy_cost(d.copy_pages, cents)).unwrap_or(i64::MAX);
                a.published_url = d.published_url.clone();
                a.decision_protocol_number = Some(sent.number.clone());
                a.decided_on = Some(day);
                a.remedies = remedies.clone();
                a.review_deadline = review_deadline;
                a.deliver_from = if over_objection {
                    Some(terms::deliver_from(day)?)
                } else {
                    None
                };
                let a = store::save(uow, &a).await?;
                work::update(
                    uow,
                    &a,
                    false,
                    WorkUpdateKind::Decided,
                    None,
                    &format!("Decisione prot. {} / decided", sent.number),
                    d.decision.id(),
                )
                .await?;
                schedule_expiry(uow, &a).await?;
                let key = a.id.to_string();
                uow.emit(
                    &AccessDecided {
                        access_id: key.clone(),
                        municipality_istat_code: a.municipality.to_string(),
                        kind: a.kind.message() as i32,
                        decision: d.decision.message() as i32,
                        grounds: a.grounds.clone(),
                        silent: false,
                    },
                    work::aggregate(&a, &key),
                )
                .await?;
                let objections = store::objections(uow.conn(), a.id).await?;
                Ok(DecideAccessResponse {
                    access: Some(message::record(&a, &objections)),
                })
            })
        })
        .await
}
