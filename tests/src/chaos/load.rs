//! The mixed load: real journeys through the gateway's public API, signed in as the demo
//! accounts, each request recorded with its outcome. A kiosk takes tickets; counter
//! operators call the next case, issue a residence certificate in it and complete it.
//! Every create call carries an idempotency key and is retried with it while the answer is
//! transient ([`client::with_retries`]); the ledger says what was acknowledged.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
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
    failed: Mutex<Vec<String>>,
}

impl Ledger {
    fn push(&self, record: Record) {
        if let Ok(mut records) = self.records.lock() {
            records.push(record);
        }
    }

    fn note(&self, list: &Mutex<Vec<String>>, what: String) {
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
type Session = (String, String);

/// The load against one stack.
#[derive(Debug, Clone)]
pub struct Load {
    endpoints: Endpoints,
    /// The ledger every task writes to.
    pub ledger: Arc<Ledger>,
    residents: Arc<Vec<String>>,
    rate: Rate,
}

/// The site the kiosk and the counters are at (the demo's).
const SITE: &str = "palazzo-civico";
/// The counter operators of the demo and their counters.
const DESKS: [(&str, u32); 2] = [("poli.bianchi", 5), ("poli.verdi", 6)];

impl Load {
    /// A load on `endpoints`, certifying the given residents' fiscal codes.
    pub fn new(endpoints: Endpoints, residents: Vec<String>, rate: Rate) -> Self {
        Self {
            endpoints,
            ledger: Arc::new(Ledger::default()),
            residents: Arc::new(residents),
            rate,
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
    async fn call(
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
        Ok(tasks)
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
            let fiscal_code = &self.residents[served % self.residents.len().max(1)];
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
fn acknowledged(
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

/// Fiscal codes of residents of the synthetic register to certify (at most `limit`).
pub async fn residents(database_url: &str, limit: i64) -> Result<Vec<String>, String> {
    let pool = sqlx::PgPool::connect(database_url)
        .await
        .map_err(|e| e.to_string())?;
    let codes: Vec<String> = sqlx::query_scalar(
        "select r.fiscal_code from registry.residents r
         join registry.resident_versions v on v.resident_id = r.id
         where v.valid_to is null and v.superseded_at is null and v.status = 'resident'
         order by r.fiscal_code limit $1",
    )
    .bind(limit)
    .fetch_all(&pool)
    .await
    .map_err(|e| e.to_string())?;
    pool.close().await;
    if codes.is_empty() {
        return Err("no resident in the synthetic register".into());
    }
    Ok(codes)
}
