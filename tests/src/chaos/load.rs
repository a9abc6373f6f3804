//! The mixed load: real journeys through the gateway's public API, signed in as the demo
//! accounts, each request recorded with its outcome. A kiosk takes tickets; counter
//! operators call the next case, issue a residence certificate in it and complete it;
//! changes of residence go to the back office, which completes them; the information desk
//! books appointments that are checked in on arrival, and the business desk files SCIAs
//! ([`super::bookings`]).
//! Every create call carries an idempotency key and is retried with it while the answer is
//! transient ([`client::with_retries`]); the ledger says what was acknowledged.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::AtomicUsize},
    time::Duration,
};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    client::{self, Outcome},
    stack::Endpoints,
};

/// What a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Journey {
    /// A kiosk ticket taken (`POST /sites/{site}/tickets`).
    Ticket,
    /// A residence certificate issued in a counter case.
    Certificate,
    /// A counter case completed.
    Completion,
    /// A change of residence declared at the counter (handed off to the back office).
    ResidenceChange,
    /// A back-office work item completed by a specialist.
    WorkCompletion,
    /// An appointment booked on a citizen's behalf (its id: the booking's code).
    Booking,
    /// A booking checked in on arrival (its id: the booking's code).
    CheckIn,
    /// A SUAP application filed at the business desk (its id: the application's).
    Filing,
}

/// One logical request and what came of it.
#[derive(Debug, Clone)]
pub struct Record {
    /// Which journey step.
    pub journey: Journey,
    /// Its idempotency key (create calls) or a fresh id.
    pub key: Uuid,
    /// What it acknowledged: the ticket's, certificate's or case's id.
    pub id: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// The final status (0: no answer).
    pub status: u16,
}

/// Every request the load made, and every answer that must never come.
#[derive(Debug, Default)]
pub struct Ledger {
    records: Mutex<Vec<Record>>,
    /// Answers 500 (INTERNAL): a fault must show as UNAVAILABLE, never as this.
    internal: Mutex<Vec<String>>,
    /// Final answers that were neither success nor an expected refusal.
    pub(super) failed: Mutex<Vec<String>>,
}

impl Ledger {
    pub(super) fn push(&self, record: Record) {
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
    }

    pub(super) fn note(&self, list: &Mutex<Vec<String>>, what: String) {
        if let Ok(mut list) = list.lock() {
            list.push(what);
        }
    }

    /// Every record so far.
    pub fn records(&self) -> Vec<Record> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The acknowledged ones of `journey`.
    pub fn acknowledged(&self, journey: Journey) -> Vec<Record> {
        self.records()
            .into_iter()
            .filter(|r| r.journey == journey && r.id.is_some())
            .collect()
    }

    /// The 500 answers seen.
    pub fn internal(&self) -> Vec<String> {
        self.internal.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Requests that ended without acknowledgement after their retries.
    pub fn failed(&self) -> Vec<String> {
        self.failed.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// How hard the load pushes.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Pause between two tickets at the kiosk.
    pub ticket_every: Duration,
    /// How long a request is retried before it counts as failed.
    pub budget: Duration,
}

/// A signed-in account: its cookie and CSRF token.
pub(super) type Session = (String, String);

/// The load against one stack.
#[derive(Debug, Clone)]
pub struct Load {
    endpoints: Endpoints,
    /// The ledger every task writes to.
    pub ledger: Arc<Ledger>,
    pub(super) people: Arc<People>,
    movers: Arc<Mutex<Vec<String>>>,
    pub(super) rate: Rate,
    /// Bookings made so far (which resident the next one is for).
    pub(super) booked: Arc<AtomicUsize>,
    /// The business the SUAP filings are for ([`Load::prepare`]).
    pub(super) business: Arc<Mutex<Option<String>>>,
}

/// Who the journeys are about, from the synthetic register.
#[derive(Debug, Clone)]
pub struct People {
    /// Residents to certify.
    pub residents: Vec<String>,
    /// Residents who live alone: each moves once (a move needs no one named to head a
    /// family left behind).
    pub movers: Vec<String>,
    /// Street codes to move to.
    pub streets: Vec<String>,
}

/// The site the kiosk and the counters are at (the demo's).
const SITE: &str = "palazzo-civico";
/// The counter operators of the demo and their counters.
const DESKS: [(&str, u32); 2] = [("poli.bianchi", 5), ("poli.verdi", 6)];

impl Load {
    /// A load on `endpoints`, certifying the given residents' fiscal codes.
    pub fn new(endpoints: Endpoints, people: People, rate: Rate) -> Self {
        Self {
            endpoints,
            ledger: Arc::new(Ledger::default()),
            movers: Arc::new(Mutex::new(people.movers.clone())),
            people: Arc::new(people),
            rate,
            booked: Arc::new(AtomicUsize::new(0)),
            business: Arc::new(Mutex::new(None)),
        }
    }

    /// Signs `username` in, retrying while the gateway is unavailable.
    pub async fn sign_in(&self, username: &str) -> Result<Session, String> {
        let mut attempts = 0;
        let body = json!({"username": username, "password": crate::http::DEMO_PASSWORD});
        match client::with_retries(
            self.endpoints.http,
            "POST",
            "/api/v1/session",
            None,
            Some(&body),
            Duration::from_secs(60),
            &mut attempts,
        )
        .await
        {
            Outcome::Answered(reply) if reply.status == 200 => {
                let cookie = reply
                    .header("set-cookie")
                    .and_then(|c| c.split(';').next())
                    .ok_or("no session cookie")?
                    .to_owned();
                let value: Value = serde_json::from_str(&reply.body).map_err(|e| e.to_string())?;
                let csrf = value["csrf_token"].as_str().ok_or("no CSRF token")?;
                Ok((cookie, csrf.to_owned()))
            }
            Outcome::Answered(reply) => Err(format!("{username}: {} {}", reply.status, reply.body)),
            Outcome::GaveUp(status) => Err(format!("{username}: gave up at {status}")),
        }
    }

    /// One call with the retries; records 500s. Returns the final answer, if any.
    pub(super) async fn call(
        &self,
        session: &Session,
        method: &str,
        path: &str,
        body: Option<&Value>,
        attempts: &mut u32,
    ) -> Option<crate::http::Response> {
        match client::with_retries(
            self.endpoints.http,
            method,
            path,
            Some(session),
            body,
            self.rate.budget,
            attempts,
        )
        .await
        {
            Outcome::Answered(reply) => {
                if reply.status >= 500 {
                    self.ledger.note(
                        &self.ledger.internal,
                        format!("{method} {path}: {} {}", reply.status, reply.body),
                    );
                }
                Some(reply)
            }
            Outcome::GaveUp(status) => {
                self.ledger.note(
                    &self.ledger.failed,
                    format!("{method} {path}: gave up at {status}"),
                );
                None
            }
        }
    }

    /// Starts every task; they run until `stop` is cancelled. Returns their handles.
    pub async fn spawn(
        &self,
        stop: CancellationToken,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
        let kiosk = self.sign_in("totem.civico").await?;
        let mut tasks = Vec::new();
        let load = self.clone();
        let token = stop.clone();
        tasks.push(tokio::spawn(async move { load.kiosk(kiosk, token).await }));
        for (username, counter) in DESKS {
            let session = self.sign_in(username).await?;
            let load = self.clone();
            let token = stop.clone();
            tasks.push(tokio::spawn(async move {
                load.desk(session, counter, token).await;
            }));
        }
        let declarant = self.sign_in("poli.verdi").await?;
        let load = self.clone();
        let token = stop.clone();
        tasks.push(tokio::spawn(async move {
            load.declarations(declarant, token).await
        }));
        let specialist = self.sign_in("bo.gialli").await?;
        let load = self.clone();
        let token = stop.clone();
        tasks.push(tokio::spawn(async move {
            load.back_office(specialist, token).await
        }));
        let info_desk = self.sign_in("info.rossi").await?;
        let kiosk = self.sign_in("totem.civico").await?;
        let load = self.clone();
        let token = stop.clone();
        tasks.push(tokio::spawn(async move {
            load.appointments(info_desk, kiosk, token).await
        }));
        let business_desk = self.sign_in("tec.neri").await?;
        let load = self.clone();
        let token = stop.clone();
        tasks.push(tokio::spawn(async move {
            load.filings(business_desk, token).await
        }));
        Ok(tasks)
    }

    /// Changes of residence within the municipality, declared at the counter one after
    /// the other, each by a resident who lives alone (each moves once).
    async fn declarations(&self, session: Session, stop: CancellationToken) {
        let mut moved = 0usize;
        while !stop.is_cancelled() {
            let mover = self.movers.lock().ok().and_then(|mut m| m.pop());
            let Some(mover) = mover else {
                return;
            };
            let streets = &self.people.streets;
            let street = &streets[moved % streets.len().max(1)];
            moved += 1;
            let key = Uuid::new_v4();
            let body = json!({
                "origin": "within",
                "members": [{"fiscal_code": mover, "relationship": "head"}],
                "declarant": 0,
                "address": {"street_code": street, "house_number": format!("{}", 1 + moved % 90)},
                "site": SITE,
                "idempotency_key": key.to_string(),
            });
            let mut attempts = 0;
            let reply = self
                .call(
                    &session,
                    "POST",
                    "/api/v1/residence-changes",
                    Some(&body),
                    &mut attempts,
                )
                .await;
            let (status, id) =
                acknowledged(reply.clone(), 201, |v| v["residence_change"]["id"].as_str());
            if status != 201 && status != 0 {
                self.ledger.note(
                    &self.ledger.failed,
                    format!(
                        "residence change: {status} {}",
                        reply.map(|r| r.body).unwrap_or_default()
                    ),
                );
            }
            self.ledger.push(Record {
                journey: Journey::ResidenceChange,
                key,
                id,
                attempts,
                status,
            });
            tokio::select! {
                () = tokio::time::sleep(self.rate.ticket_every * 8) => {}
                () = stop.cancelled() => {}
            }
        }
    }

    /// A registry specialist in the back office: accepts what is offered, completes what
    /// is held (the address check passed).
    async fn back_office(&self, session: Session, stop: CancellationToken) {
        let mut attempts = 0;
        let presence = json!({"presence": "back_office"});
        self.call(
            &session,
            "POST",
            "/api/v1/console/presence",
            Some(&presence),
            &mut attempts,
        )
        .await;
        while !stop.is_cancelled() {
            let mut worked = false;
            for view in ["mine", "offered"] {
                let mut attempts = 0;
                let items: Vec<(String, String)> = self
                    .call(
                        &session,
                        "GET",
                        &format!("/api/v1/back-office/work?view={view}"),
                        None,
                        &mut attempts,
                    )
                    .await
                    .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
                    .and_then(|v| v["items"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|i| {
                        Some((
                            i["id"].as_str()?.to_owned(),
                            i["state"].as_str().unwrap_or_default().to_owned(),
                        ))
                    })
                    .collect();
                for (item, state) in items {
                    worked = true;
                    if view == "offered" {
                        let mut attempts = 0;
                        self.call(
                            &session,
                            "POST",
                            &format!("/api/v1/back-office/work/{item}/accept"),
                            None,
                            &mut attempts,
                        )
                        .await;
                        continue;
                    }
                    if !state.contains("held") {
                        continue;
                    }
                    let body = json!({"outcome_code": "check_passed"});
                    let mut attempts = 0;
                    let reply = self
                        .call(
                            &session,
                            "POST",
                            &format!("/api/v1/back-office/work/{item}/complete"),
                            Some(&body),
                            &mut attempts,
                        )
                        .await;
                    let status = reply.as_ref().map_or(0, |r| r.status);
                    if status != 200 && status != 0 {
                        self.ledger.note(
                            &self.ledger.failed,
                            format!(
                                "work complete: {status} {}",
                                reply.map(|r| r.body).unwrap_or_default()
                            ),
                        );
                    }
                    self.ledger.push(Record {
                        journey: Journey::WorkCompletion,
                        key: Uuid::new_v4(),
                        id: (status == 200).then(|| item.clone()),
                        attempts,
                        status,
                    });
                }
            }
            if !worked {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(300)) => {}
                    () = stop.cancelled() => {}
                }
            }
        }
    }

    async fn kiosk(&self, session: Session, stop: CancellationToken) {
        while !stop.is_cancelled() {
            let key = Uuid::new_v4();
            let body = json!({
                "service_codes": ["registry.residence_certificate"],
                "idempotency_key": key.to_string(),
            });
            let mut attempts = 0;
            let reply = self
                .call(
                    &session,
                    "POST",
                    &format!("/api/v1/sites/{SITE}/tickets"),
                    Some(&body),
                    &mut attempts,
                )
                .await;
            let (status, id) = acknowledged(reply, 201, |v| v["ticket"]["id"].as_str());
            if status != 201 && status != 0 {
                self.ledger
                    .note(&self.ledger.failed, format!("ticket: {status}"));
            }
            self.ledger.push(Record {
                journey: Journey::Ticket,
                key,
                id,
                attempts,
                status,
            });
            tokio::select! {
                () = tokio::time::sleep(self.rate.ticket_every) => {}
                () = stop.cancelled() => {}
            }
        }
    }

    /// A counter operator: seated, available, then call → certificate → complete, again
    /// and again. The case in hand is read back from the console after any doubt, so a
    /// call whose answer was lost is finished rather than called twice.
    async fn desk(&self, session: Session, counter: u32, stop: CancellationToken) {
        let mut attempts = 0;
        let seat = json!({"site_code": SITE, "counter_number": counter});
        self.call(
            &session,
            "POST",
            "/api/v1/console/seat",
            Some(&seat),
            &mut attempts,
        )
        .await;
        let presence = json!({"presence": "available"});
        self.call(
            &session,
            "POST",
            "/api/v1/console/presence",
            Some(&presence),
            &mut attempts,
        )
        .await;
        // One idempotency key per case's certificate, so a retried issue is one certificate.
        let mut keys: HashMap<String, Uuid> = HashMap::new();
        let mut served = 0usize;
        while !stop.is_cancelled() {
            let mut attempts = 0;
            let Some(overview) = self
                .call(&session, "GET", "/api/v1/console", None, &mut attempts)
                .await
            else {
                continue;
            };
            let current = serde_json::from_str::<Value>(&overview.body)
                .ok()
                .and_then(|v| v["current_case"]["id"].as_str().map(str::to_owned));
            let Some(case) = current else {
                let called = self
                    .call(
                        &session,
                        "POST",
                        "/api/v1/console/call-next",
                        None,
                        &mut attempts,
                    )
                    .await;
                let has_call = called
                    .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
                    .is_some_and(|v| v["call"]["case"]["id"].is_string());
                if !has_call {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                        () = stop.cancelled() => {}
                    }
                }
                continue;
            };
            let key = *keys.entry(case.clone()).or_insert_with(Uuid::new_v4);
            let residents = &self.people.residents;
            let fiscal_code = &residents[served % residents.len().max(1)];
            served += 1;
            let body = json!({
                "fiscal_code": fiscal_code,
                "type": "residence",
                "use": "uso amministrativo",
                "idempotency_key": key.to_string(),
            });
            let mut attempts = 0;
            let reply = self
                .call(
                    &session,
                    "POST",
                    &format!("/api/v1/cases/{case}/certificates"),
                    Some(&body),
                    &mut attempts,
                )
                .await;
            let (status, id) = acknowledged(reply, 201, |v| v["certificate"]["id"].as_str());
            self.ledger.push(Record {
                journey: Journey::Certificate,
                key,
                id,
                attempts,
                status,
            });
            let done = json!({"outcome_code": "served"});
            let mut attempts = 0;
            let reply = self
                .call(
                    &session,
                    "POST",
                    &format!("/api/v1/cases/{case}/complete"),
                    Some(&done),
                    &mut attempts,
                )
                .await;
            let mut status = reply.as_ref().map_or(0, |r| r.status);
            if status != 200 && status != 0 {
                // A completion whose answer was lost is refused when tried again: the
                // case says whether it was done.
                let card = self
                    .call(
                        &session,
                        "GET",
                        &format!("/api/v1/cases/{case}"),
                        None,
                        &mut attempts,
                    )
                    .await
                    .and_then(|r| serde_json::from_str::<Value>(&r.body).ok());
                if card.is_some_and(|c| {
                    c["case"]["status"] == "completed" || c["status"] == "completed"
                }) {
                    status = 200;
                } else {
                    self.ledger.note(
                        &self.ledger.failed,
                        format!(
                            "complete: {}",
                            reply
                                .map(|r| format!("{} {}", r.status, r.body))
                                .unwrap_or_default()
                        ),
                    );
                }
            }
            self.ledger.push(Record {
                journey: Journey::Completion,
                key: Uuid::new_v4(),
                id: (status == 200).then(|| case.clone()),
                attempts,
                status,
            });
            keys.remove(&case);
        }
    }
}

/// The final status and, when it is `expected`, the id `pick` finds in the body.
pub(super) fn acknowledged(
    reply: Option<crate::http::Response>,
    expected: u16,
    pick: impl Fn(&Value) -> Option<&str>,
) -> (u16, Option<String>) {
    let Some(reply) = reply else {
        return (0, None);
    };
    if reply.status != expected {
        return (reply.status, None);
    }
    let id = serde_json::from_str::<Value>(&reply.body)
        .ok()
        .and_then(|v| pick(&v).map(str::to_owned));
    (reply.status, id)
}

/// The people and streets the journeys use, from the synthetic register.
pub async fn people(database_url: &str) -> Result<People, String> {
    let pool = sqlx::PgPool::connect(database_url)
        .await
        .map_err(|e| e.to_string())?;
    let fail = |e: sqlx::Error| e.to_string();
    let residents: Vec<String> = sqlx::query_scalar(
        "select r.fiscal_code from registry.residents r
         join registry.resident_versions v on v.resident_id = r.id
         where v.valid_to is null and v.superseded_at is null and v.status = 'resident'
         order by r.fiscal_code limit 200",
    )
    .fetch_all(&pool)
    .await
    .map_err(fail)?;
    let movers: Vec<String> = sqlx::query_scalar(
        "select r.fiscal_code from registry.residents r
         join registry.resident_versions v on v.resident_id = r.id
         where v.valid_to is null and v.superseded_at is null and v.status = 'resident'
           and v.relationship = 'head'
           and (select count(*) from registry.resident_versions o
                where o.family_id = v.family_id and o.valid_to is null
                  and o.superseded_at is null and o.status = 'resident') = 1
         order by r.fiscal_code",
    )
    .fetch_all(&pool)
    .await
    .map_err(fail)?;
    let streets: Vec<String> = sqlx::query_scalar(
        "select street_code from registry.streets order by street_code limit 20",
    )
    .fetch_all(&pool)
    .await
    .map_err(fail)?;
    pool.close().await;
    if residents.is_empty() || streets.is_empty() {
        return Err("no resident or no street in the synthetic register".into());
    }
    Ok(People {
        residents,
        movers,
        streets,
    })
}
