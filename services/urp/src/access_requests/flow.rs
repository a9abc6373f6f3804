//! Each step of an access request as one unit of work: lock the request, decide what
//! the law allows now, save, tell routing, set or cancel the term's timer, commit. The
//! letters a step sends (the irregular request's notice, the decision, the review's) are
//! registered in the protocol register first, keyed from the request and the step, so a
//! retry gets the same number.

use futures::future::BoxFuture;
use jiff::civil::Date;
use prost::Message as _;
use sportello_kit::{
    CallContext, RequesterRef, ServiceError, Timer, TimerHandler, UnitOfWork,
    protocol::{Incoming, Outgoing, document_key, sha256_hex},
};
use sportello_pa::{Stop, calendar::rome};
use sportello_proto::{
    routing::v1::{IncomingKind, OutgoingKind, WorkUpdateKind},
    urp::v1::{
        AccessDecided, AccessFiled, AccessReviewed, DecideAccessRequest, DecideAccessResponse,
        DecideReviewRequest, DecideReviewResponse, FileAccessRequest, FileAccessResponse,
    },
};
use uuid::Uuid;

use super::{
    domain::{self, Decision, Kind, NewAccess, ReviewBy, ReviewDecision, State},
    message,
    store::{self, Access, ObjectionRow, Person},
    terms, work,
};
use crate::{error::UrpError, reports::Desk};

/// The idempotent operation of a filing.
const FILE: &str = "urp.file_access";
/// The idempotent operation of a decision.
const DECIDE: &str = "urp.decide_access";
/// The idempotent operation of a review's decision.
const DECIDE_REVIEW: &str = "urp.decide_access_review";
/// The timer that gives the term of an access to documents its effect: silence is
/// refusal (L. 241/1990 art. 25 c. 4).
pub const EXPIRY_TIMER: &str = "urp.access_term";

fn refuse(message: String) -> ServiceError {
    UrpError::Precondition(message).into()
}

fn today(uow: &UnitOfWork) -> Date {
    rome::date_of(uow.now())
}

/// Locks request `id` of the caller's municipality.
async fn locked(
    uow: &mut UnitOfWork,
    context: &CallContext,
    id: Uuid,
) -> Result<Access, ServiceError> {
    let a = store::lock(uow, id)
        .await?
        .ok_or_else(|| UrpError::RequestNotFound(id.to_string()))?;
    context.ensure_municipality(a.municipality)?;
    Ok(a)
}

/// Recomputes the decision's term from the stops; the clock routing gets.
fn refresh(a: &mut Access) -> Result<sportello_proto::routing::v1::StatutoryClock, ServiceError> {
    let deadline = terms::decision(a.municipality, a.kind, a.received_on, &a.stops)?;
    a.due_date = deadline.due;
    Ok(work::clock(&deadline, &a.stops, a.objection_deadline))
}

/// Access to documents: the timer on the term's last day while the request waits for a
/// decision; none otherwise (civic access's term passing opens the review, no timer
/// needed: the review's check reads the day).
async fn schedule_expiry(uow: &mut UnitOfWork, a: &Access) -> Result<(), ServiceError> {
    let key = a.id.to_string();
    match (a.kind, a.state, a.due_date) {
        (Kind::Documents, State::Received, Some(due)) => {
            let at = rome::end_of_day(due).map_err(ServiceError::internal)?;
            uow.schedule_timer(EXPIRY_TIMER, &key, at, serde_json::Value::Null)
                .await?;
        }
        _ => {
            uow.cancel_timer(EXPIRY_TIMER, &key).await?;
        }
    }
    Ok(())
}

fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Documents => "Richiesta di accesso agli atti",
        Kind::CivicSimple => "Richiesta di accesso civico semplice",
        Kind::CivicGeneralised => "Richiesta di accesso civico generalizzato",
    }
}

/// Files a request.
pub async fn file(
    desk: &Desk,
    context: &CallContext,
    request: FileAccessRequest,
) -> Result<FileAccessResponse, ServiceError> {
    let new = NewAccess::try_from(&request)?;
    context.ensure_municipality(new.municipality)?;
    let fingerprint = FileAccessRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = desk
        .db
        .replay(FILE, new.idempotency_key, &fingerprint)
        .await?
    {
        return Ok(response);
    }
    let day = rome::date_of(desk.db.clock().now());
    let base = new.idempotency_key.map_or_else(
        || document_key(&[&sha256_hex(&fingerprint.encode_to_vec()), &day.to_string()]),
        |k| k.uuid(),
    );
    let id = document_key(&[&base.to_string(), "access"]);
    let requester_ref = RequesterRef::derive(&desk.key, new.municipality, new.fiscal_code.as_str())
        .as_str()
        .to_owned();
    let entry = desk
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: new.municipality,
                kind: IncomingKind::Request,
                sender_ref: requester_ref.clone(),
                sender_name: format!("{} {}", new.first_name, new.last_name),
                subject: what(new.kind).to_owned(),
                document_sha256: sha256_hex(&fingerprint.encode_to_vec()),
                channel: new.channel,
                idempotency_key: document_key(&[&id.to_string(), "protocol"]),
            },
        )
        .await?;
    let received_on = rome::date_of(entry.registered_at);
    let mut a = Access {
        id,
        municipality: new.municipality,
        kind: new.kind,
        subject: new.subject.clone(),
        interest: new.interest.clone(),
        channel: new.channel.as_str_name().to_owned(),
        requester_ref,
        protocol_id: entry.id.clone(),
        protocol_number: entry.number.clone(),
        received_at: entry.registered_at,
        received_on,
        state: State::Received,
        stops: Vec::new(),
        due_date: None,
        irregular_reason: None,
        counter_interested: 0,
        counter_interested_notified_on: None,
        objection_deadline: None,
        decision: None,
        grounds: Vec::new(),
        reasons: None,
        remedies: None,
        deferred_until: None,
        copy_pages: 0,
        copy_cost_cents: 0,
        published_url: None,
        decision_protocol_number: None,
        decided_on: None,
        deliver_from: None,
        review_deadline: None,
        review_by: None,
        review_reasons: None,
        review_requested_on: None,
        review_stops: Vec::new(),
        review_due_date: None,
        review_decision: None,
        review_decision_reasons: None,
        review_protocol_number: None,
        reviewed_on: None,
        version: 1,
    };
    let clock = refresh(&mut a)?;
    desk.db
        .idempotent(FILE, new.idempotency_key, &fingerprint, move |uow| {
            Box::pin(async move {
                let person = Person {
                    fiscal_code: new.fiscal_code.as_str(),
                    first_name: &new.first_name,
                    last_name: &new.last_name,
                    email: &new.email,
                };
                store::insert(uow, &a, &person).await?;
                work::request(uow, &a, clock).await?;
                schedule_expiry(uow, &a).await?;
                let key = a.id.to_string();
                uow.emit(
                    &AccessFiled {
                        access_id: key.clone(),
                        municipality_istat_code: a.municipality.to_string(),
                        kind: a.kind.message() as i32,
                        due_date: a.due_date.map(|d| d.to_string()).unwrap_or_default(),
                    },
                    work::aggregate(&a, &key),
                )
                .await?;
                Ok(FileAccessResponse {
                    access: Some(message::record(&a, &[])),
                })
            })
        })
        .await
}

/// Access to documents: the request is irregular or incomplete.
pub async fn notify_irregular(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    reason: String,
) -> Result<Access, ServiceError> {
    let current = {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        store::find(&mut conn, id)
            .await?
            .ok_or_else(|| UrpError::RequestNotFound(id.to_string()))?
    };
    context.ensure_municipality(current.municipality)?;
    if current.kind != Kind::Documents {
        return Err(refuse(
            "la richiesta irregolare si applica all'accesso agli atti (DPR 184/2006 art. 6 c. 5) \
             / an irregular request applies to access to documents"
                .into(),
        ));
    }
    let letter = format!(
        "{} prot. {}: irregolare o incompleta (DPR 184/2006 art. 6 c. 5). {reason}\nIl termine \
         di 30 giorni decorre dalla ricezione della richiesta corretta.",
        what(current.kind),
        current.protocol_number
    );
    let sent = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                current.municipality,
                &id.to_string(),
                OutgoingKind::Communication,
                &current.requester_ref,
                "Richiesta di accesso irregolare o incompleta",
                &letter,
            ),
        )
        .await?;
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    if a.state != State::Received
        || a.stops
            .iter()
            .any(|s| matches!(s, Stop::IrregularRequest { .. }))
    {
        return Err(refuse(format!(
            "la richiesta prot. {} non può più essere dichiarata irregolare ({}) / can no longer \
             be declared irregular",
            a.protocol_number,
            a.state.id()
        )));
    }
    a.stops.push(Stop::IrregularRequest {
        notified: rome::date_of(sent.registered_at),
        corrected: None,
    });
    let clock = refresh(&mut a)?;
    a.state = State::Irregular;
    a.irregular_reason = Some(reason);
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::Suspended,
        Some(clock),
        "Richiesta irregolare: si attende la richiesta corretta / waiting for the corrected request",
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

/// The corrected request arrived: the term starts again from today.
pub async fn record_correction(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    if a.state != State::Irregular {
        return Err(refuse(format!(
            "la richiesta prot. {} non attende correzioni ({}) / is not waiting for a correction",
            a.protocol_number,
            a.state.id()
        )));
    }
    let day = today(&uow);
    for stop in &mut a.stops {
        if let Stop::IrregularRequest { corrected, .. } = stop {
            *corrected = Some(day);
        }
    }
    let clock = refresh(&mut a)?;
    a.state = State::Received;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::Resumed,
        Some(clock),
        "Richiesta corretta ricevuta: il termine riparte / corrected request received: the term \
         starts again",
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

/// The counter-interested parties were sent the request on `notified`.
pub async fn notify_counter_interested(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    parties: u32,
    notified: Option<Date>,
) -> Result<Access, ServiceError> {
    if !(1..=50).contains(&parties) {
        return Err(ServiceError::invalid_field(
            "parties",
            "da 1 a 50 controinteressati / 1 to 50 parties",
        ));
    }
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = notified.unwrap_or_else(|| today(&uow));
    if day > today(&uow) || day < a.received_on {
        return Err(ServiceError::invalid_field(
            "received_date",
            format!(
                "tra il {} e oggi / between {} and today",
                a.received_on, a.received_on
            ),
        ));
    }
    if a.state != State::Received || a.counter_interested > 0 {
        return Err(refuse(format!(
            "i controinteressati della richiesta prot. {} sono già stati avvisati o la richiesta \
             non attende una decisione ({}) / the parties were already notified, or the request \
             awaits no decision",
            a.protocol_number,
            a.state.id()
        )));
    }
    a.counter_interested = i32::try_from(parties).unwrap_or(50);
    a.counter_interested_notified_on = Some(day);
    a.objection_deadline = Some(terms::objection_deadline(a.municipality, day)?);
    // Civic access: the term is suspended meanwhile (art. 5 c. 5); access to documents
    // waits for their 10 days within its 30 (DPR 184/2006 art. 3 c. 2).
    if a.kind.is_civic() {
        a.stops.push(Stop::CounterInterested {
            notified: day,
            objection: None,
        });
    }
    let clock = refresh(&mut a)?;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::ClockChanged,
        Some(clock),
        &format!(
            "Controinteressati avvisati: opposizioni fino al {} / counter-interested parties may \
             object until then",
            a.objection_deadline
                .map(|d| d.to_string())
                .unwrap_or_default()
        ),
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

/// A counter-interested party objected today.
pub async fn record_objection(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    party: u32,
    reasons: String,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = today(&uow);
    let Some(deadline) = a.objection_deadline else {
        return Err(refuse(format!(
            "nessun controinteressato è stato avvisato della richiesta prot. {} / no \
             counter-interested party was notified",
            a.protocol_number
        )));
    };
    if party == 0 || i64::from(party) > i64::from(a.counter_interested) {
        return Err(ServiceError::invalid_field(
            "party",
            format!(
                "da 1 a {} (i controinteressati avvisati) / 1 to the number notified",
                a.counter_interested
            ),
        ));
    }
    if day > deadline {
        return Err(refuse(format!(
            "opposizione giunta il {day}, oltre i 10 giorni concessi (fino al {deadline}) / the \
             objection arrived after the 10 days (until {deadline})"
        )));
    }
    if a.state != State::Received {
        return Err(refuse(format!(
            "la richiesta prot. {} non attende una decisione ({}) / awaits no decision",
            a.protocol_number,
            a.state.id()
        )));
    }
    let party = i32::try_from(party).unwrap_or(i32::MAX);
    if !store::insert_objection(
        &mut uow,
        a.id,
        &ObjectionRow {
            party,
            received_on: day,
            reasons,
        },
    )
    .await?
    {
        return Err(refuse(format!(
            "il controinteressato {party} si è già opposto / party {party} already objected"
        )));
    }
    let objected = store::objections(uow.conn(), a.id).await?.len();
    // The suspension ends with the last objection; until all have objected, their window.
    if a.kind.is_civic() && objected >= usize::try_from(a.counter_interested).unwrap_or(0) {
        for stop in &mut a.stops {
            if let Stop::CounterInterested { objection, .. } = stop {
                *objection = Some(day);
            }
        }
    }
    let clock = refresh(&mut a)?;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        false,
        WorkUpdateKind::ClockChanged,
        Some(clock),
        &format!("Opposizione del controinteressato {party} / party {party} objected"),
        "",
    )
    .await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

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

/// Review asked of the transparency officer (civic access).
pub async fn request_review(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    by: ReviewBy,
    reasons: String,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = today(&uow);
    if !a.kind.is_civic() {
        return Err(refuse(
            "il riesame del responsabile della trasparenza è dell'accesso civico; per l'accesso \
             agli atti: difensore civico o TAR (L. 241/1990 art. 25 c. 4) / review by the \
             transparency officer is civic access's remedy"
                .into(),
        ));
    }
    let objected = !store::objections(uow.conn(), a.id).await?.is_empty();
    // What may be reviewed, and from which day the term to ask counts.
    let counted_from = match (by, a.state, a.decision) {
        (ReviewBy::Requester, State::Decided, Some(d)) if d.limits() => a.decided_on,
        (ReviewBy::Requester, State::Received, None) => match a.due_date {
            Some(due) if due < day => Some(due),
            _ => {
                return Err(refuse(format!(
                    "il termine per decidere scade il {}: il riesame per mancata risposta si \
                     chiede dopo / the term to decide ends then: review for no answer comes \
                     after it",
                    a.due_date.map(|d| d.to_string()).unwrap_or_default()
                )));
            }
        },
        (ReviewBy::CounterInterested, State::Decided, Some(d)) if d.grants() && objected => {
            a.decided_on
        }
        _ => {
            return Err(refuse(format!(
                "riesame non ammesso per la richiesta prot. {} ({}, {}): lo chiede il richiedente \
                 dopo un diniego totale o parziale, un differimento o il silenzio, il \
                 controinteressato dopo un accoglimento nonostante la sua opposizione (D.Lgs \
                 33/2013 art. 5 c. 7, 9) / review is not available for this request",
                a.protocol_number,
                a.state.id(),
                a.decision.map_or("nessuna decisione", Decision::id)
            )));
        }
    };
    let from = counted_from.unwrap_or(a.received_on);
    let deadline = terms::review_deadline(a.municipality, from)?;
    if day > deadline {
        return Err(refuse(format!(
            "riesame chiesto il {day}, oltre il termine del {deadline} ({} giorni dal {from}, \
             regolamento comunale sull'accesso) / review asked after its term ended on {deadline}",
            terms::REVIEW_REQUEST_DAYS
        )));
    }
    let review = terms::review(a.municipality, day, &[])?;
    a.state = State::UnderReview;
    a.review_by = Some(by);
    a.review_reasons = Some(reasons);
    a.review_requested_on = Some(day);
    a.review_deadline = Some(deadline);
    a.review_due_date = review.due;
    let a = store::save(&mut uow, &a).await?;
    work::request_review(&mut uow, &a, work::clock(&review, &a.review_stops, None)).await?;
    schedule_expiry(&mut uow, &a).await?;
    uow.commit().await?;
    Ok(a)
}

/// The Garante is consulted (`received`: its opinion came).
pub async fn consult_garante(
    desk: &Desk,
    context: &CallContext,
    id: Uuid,
    received: bool,
) -> Result<Access, ServiceError> {
    let mut uow = desk.db.begin().await?;
    let mut a = locked(&mut uow, context, id).await?;
    let day = today(&uow);
    if a.state != State::UnderReview {
        return Err(refuse(format!(
            "la richiesta prot. {} non è in riesame ({}) / is not under review",
            a.protocol_number,
            a.state.id()
        )));
    }
    if !a.grounds.iter().any(|g| g == domain::PERSONAL_DATA_GROUND) {
        return Err(refuse(
            "il Garante si consulta sul riesame di un diniego a tutela dei dati personali (art. \
             5-bis c. 2 lett. a, D.Lgs 33/2013 art. 5 c. 7) / the Garante is consulted only on a \
             refusal to protect personal data"
                .into(),
        ));
    }
    let asked = a
        .review_stops
        .iter()
        .any(|s| matches!(s, Stop::GaranteOpinion { .. }));
    match (received, asked) {
        (false, false) => a.review_stops.push(Stop::GaranteOpinion {
            asked: day,
            given: None,
        }),
        (true, true) => {
            for stop in &mut a.review_stops {
                if let Stop::GaranteOpinion { given, .. } = stop {
                    if given.is_some() {
                        return Err(refuse(
                            "il parere del Garante è già arrivato / the opinion already came"
                                .into(),
                        ));
                    }
                    *given = Some(day);
                }
            }
        }
        (false, true) => {
            return Err(refuse(
                "il parere del Garante è già stato chiesto / the opinion was already asked".into(),
            ));
        }
        (true, false) => {
            return Err(refuse(
                "il parere del Garante non era stato chiesto / the opinion was not asked".into(),
            ));
        }
    }
    let requested = a.review_requested_on.unwrap_or(day);
    let review = terms::review(a.municipality, requested, &a.review_stops)?;
    a.review_due_date = review.due;
    let a = store::save(&mut uow, &a).await?;
    work::update(
        &mut uow,
        &a,
        true,
        WorkUpdateKind::ClockChanged,
        Some(work::clock(&review, &a.review_stops, None)),
        if received {
            "Parere del Garante ricevuto / the Garante's opinion came"
        } else {
            "Chiesto il parere del Garante: termine sospeso fino a 10 giorni / the Garante's \
             opinion asked: the term is suspended up to 10 days"
        },
        "",
    )
    .await?;
    uow.commit().await?;
    Ok(a)
}

/// The transparency officer decides the review.
pub async fn decide_review(
    desk: &Desk,
    context: &CallContext,
    request: DecideReviewRequest,
) -> Result<DecideReviewResponse, ServiceError> {
    let id = domain::access_id(&request.access_id)?;
    let decision = ReviewDecision::from_message(request.decision).ok_or_else(|| {
        ServiceError::invalid_field(
            "decision",
            "CONFIRMED, OVERTURNED o PARTLY_OVERTURNED / is required",
        )
    })?;
    let reasons = domain::masked_text("reasons", &request.reasons, 10, 8000)?;
    let key = sportello_kit::IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = DecideReviewRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = desk.db.replay(DECIDE_REVIEW, key, &fingerprint).await? {
        return Ok(response);
    }
    let a = {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        store::find(&mut conn, id)
            .await?
            .ok_or_else(|| UrpError::RequestNotFound(id.to_string()))?
    };
    context.ensure_municipality(a.municipality)?;
    if a.state != State::UnderReview {
        return Err(refuse(format!(
            "la richiesta prot. {} non è in riesame ({}) / is not under review",
            a.protocol_number,
            a.state.id()
        )));
    }
    let letter = format!(
        "Riesame (D.Lgs 33/2013 art. 5 c. 7) della richiesta di accesso prot. {}\nEsito: {}\n\
         Motivazione: {reasons}\nRimedi: ricorso al Tribunale amministrativo regionale (art. \
         116 c.p.a.), D.Lgs 33/2013 art. 5 c. 7-8.",
        a.protocol_number,
        decision.id()
    );
    let sent = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                a.municipality,
                &id.to_string(),
                OutgoingKind::Decision,
                &a.requester_ref,
                &format!(
                    "Riesame della richiesta di accesso prot. {}",
                    a.protocol_number
                ),
                &letter,
            ),
        )
        .await?;
    let context = context.clone();
    desk.db
        .idempotent(DECIDE_REVIEW, key, &fingerprint, move |uow| {
            Box::pin(async move {
                let mut a = locked(uow, &context, id).await?;
                if a.state != State::UnderReview {
                    return Err(refuse(format!(
                        "il riesame della richiesta prot. {} è già deciso / the review was \
                         already decided",
                        a.protocol_number
                    )));
                }
                a.state = State::Reviewed;
                a.review_decision = Some(decision);
                a.review_decision_reasons = Some(reasons);
                a.review_protocol_number = Some(sent.number.clone());
                a.reviewed_on = Some(today(uow));
                let a = store::save(uow, &a).await?;
                work::update(
                    uow,
                    &a,
                    true,
                    WorkUpdateKind::Decided,
                    None,
                    &format!("Riesame deciso, prot. {} / review decided", sent.number),
                    decision.id(),
                )
                .await?;
                let key = a.id.to_string();
                uow.emit(
                    &AccessReviewed {
                        access_id: key.clone(),
                        municipality_istat_code: a.municipality.to_string(),
                        decision: decision.message() as i32,
                    },
                    work::aggregate(&a, &key),
                )
                .await?;
                let objections = store::objections(uow.conn(), a.id).await?;
                Ok(DecideReviewResponse {
                    access: Some(message::record(&a, &objections)),
                })
            })
        })
        .await
}

/// Access to documents: the 30 days passed without a decision, the request is deemed
/// refused; the register and routing hear of it, the remedies are named.
#[derive(Debug, Clone, Copy, Default)]
pub struct TermExpired;

impl TimerHandler for TermExpired {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Ok(id) = Uuid::parse_str(&timer.key) else {
                return Ok(());
            };
            let Some(mut a) = store::lock(uow, id).await? else {
                return Ok(());
            };
            if a.kind != Kind::Documents || a.state != State::Received {
                return Ok(());
            }
            a.state = State::SilentlyRefused;
            a.remedies = Some(terms::remedies(Kind::Documents, None));
            let a = store::save(uow, &a).await?;
            work::update(
                uow,
                &a,
                false,
                WorkUpdateKind::Decided,
                None,
                "30 giorni senza decisione: la richiesta si intende respinta (L. 241/1990 art. 25 \
                 c. 4) / 30 days without a decision: the request is deemed refused",
                "silence_refusal",
            )
            .await?;
            let key = a.id.to_string();
            uow.emit(
                &AccessDecided {
                    access_id: key.clone(),
                    municipality_istat_code: a.municipality.to_string(),
                    kind: a.kind.message() as i32,
                    decision: 0,
                    grounds: Vec::new(),
                    silent: true,
                },
                work::aggregate(&a, &key),
            )
            .await?;
            tracing::info!(access_id = %id, "access to documents deemed refused by silence");
            Ok(())
        })
    }
}
