//! The runs: each starts the load, injects one kind of fault, lets the stack recover,
//! stops the load and asks the oracle. Recovery is measured from the fault's end (the
//! process restarted, the server back) to the stack serving again.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::{
    load::{Journey, Load},
    oracle,
    report::RunReport,
    stack::{Endpoints, GRACE, SERVICES, Stack},
};

type Result<T> = std::result::Result<T, String>;

/// The faults, one per run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// kill -9 of each service in turn, restarted at once.
    KillEach,
    /// kill -9 of NATS, down for a while, started again.
    NatsDown,
    /// PostgreSQL stopped immediately (`pg_ctl stop -m immediate`), started again.
    PostgresDown,
    /// A consumer's process paused (SIGSTOP) past its ack wait, then continued.
    PausedConsumer,
    /// Every service stopped with SIGTERM and started again, one after the other, with a
    /// calling board's event stream open.
    RollingRestart,
}

impl Fault {
    /// The name in the report line.
    pub fn name(self) -> &'static str {
        match self {
            Self::KillEach => "kill-9",
            Self::NatsDown => "nats-down",
            Self::PostgresDown => "postgres-down",
            Self::PausedConsumer => "consumer-paused",
            Self::RollingRestart => "rolling-restart",
        }
    }
}

/// How many faults and how long: `short` inside `make test`, `full` for `make chaos`.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds of killing every service.
    pub kill_rounds: usize,
    /// Time between two faults of a run.
    pub every: Duration,
    /// How many times NATS is killed.
    pub nats_times: usize,
    /// How long NATS stays down.
    pub nats_down: Duration,
    /// How long PostgreSQL stays down.
    pub postgres_down: Duration,
    /// Load before the first fault and after the last recovery.
    pub warmup: Duration,
    /// How long the oracle waits for the stack to settle.
    pub patience: Duration,
}

impl Plan {
    /// One fault of each kind, briefly.
    pub fn short() -> Self {
        Self {
            kill_rounds: 1,
            every: Duration::from_secs(1),
            nats_times: 1,
            nats_down: Duration::from_secs(10),
            postgres_down: Duration::from_secs(5),
            warmup: Duration::from_secs(3),
            patience: Duration::from_secs(90),
        }
    }

    /// The figures: each service killed five times every 30 s, NATS three times
    /// down for 10 s.
    pub fn full() -> Self {
        Self {
            kill_rounds: 5,
            every: Duration::from_secs(30),
            nats_times: 3,
            nats_down: Duration::from_secs(10),
            postgres_down: Duration::from_secs(10),
            warmup: Duration::from_secs(10),
            patience: Duration::from_secs(180),
        }
    }
}

/// What the fault itself measured.
#[derive(Debug, Default)]
struct Injected {
    recovery: Duration,
    details: Vec<String>,
    problems: Vec<String>,
}

impl Injected {
    fn recovered(&mut self, took: Duration) {
        self.recovery = self.recovery.max(took);
    }
}

/// A service restarted and serving again: how long it took, or a problem.
async fn back(endpoints: &Endpoints, service: &str, out: &mut Injected, since: Instant) {
    match endpoints
        .wait_serving(service, Duration::from_secs(120))
        .await
    {
        Some(_) => out.recovered(since.elapsed()),
        None => out
            .problems
            .push(format!("{service} did not serve again within 2 minutes")),
    }
}

/// One run of `fault` under load, judged by the oracle.
pub async fn run(stack: &mut Stack, load: &Load, fault: Fault, plan: &Plan) -> Result<RunReport> {
    let first = load.ledger.records().len();
    let internal_before = load.ledger.internal().len();
    let failed_before = load.ledger.failed().len();
    let panics_before = stack.panics().len();
    let stop = CancellationToken::new();
    let tasks = load.spawn(stop.clone()).await?;
    tokio::time::sleep(plan.warmup).await;
    let mut out = Injected::default();
    match fault {
        Fault::KillEach => kill_each(stack, plan, &mut out).await?,
        Fault::NatsDown => nats_down(stack, plan, &mut out).await?,
        Fault::PostgresDown => postgres_down(stack, load, plan, &mut out).await?,
        Fault::PausedConsumer => paused_consumer(stack, plan, &mut out).await?,
        Fault::RollingRestart => rolling_restart(stack, plan, &mut out).await?,
    }
    tokio::time::sleep(plan.warmup).await;
    stop.cancel();
    for task in tasks {
        if let Err(error) = task.await {
            out.problems.push(format!("a load task failed: {error}"));
        }
    }
    for service in SERVICES {
        if let Some(status) = stack.exited(service) {
            out.problems.push(format!(
                "{service} exited on its own ({status}): {}",
                stack.tail(service)
            ));
        }
    }
    let verdict = oracle::judge(&stack.endpoints, &load.ledger, plan.patience).await?;
    let records = load.ledger.records();
    let acknowledged = records[first..].iter().filter(|r| r.id.is_some()).count();
    let requests = records.len() - first;
    let acked = |journey: Journey| {
        records[first..]
            .iter()
            .filter(|r| r.journey == journey && r.id.is_some())
            .count()
    };
    out.details.insert(
        0,
        format!(
            "{requests} requests: {} tickets, {} certificates, {} cases completed, {} changes of residence, {} work items completed, {} bookings, {} check-ins, {} SUAP filings",
            acked(Journey::Ticket),
            acked(Journey::Certificate),
            acked(Journey::Completion),
            acked(Journey::ResidenceChange),
            acked(Journey::WorkCompletion),
            acked(Journey::Booking),
            acked(Journey::CheckIn),
            acked(Journey::Filing),
        ),
    );
    out.problems.extend(
        load.ledger.internal()[internal_before..]
            .iter()
            .map(|l| format!("answered INTERNAL: {l}")),
    );
    out.problems.extend(
        load.ledger.failed()[failed_before..]
            .iter()
            .map(|l| format!("failed after its retries: {l}")),
    );
    out.problems
        .extend(stack.panics().into_iter().skip(panics_before));
    Ok(RunReport {
        fault: fault.name().to_owned(),
        acknowledged,
        verdict,
        recovery: out.recovery,
        details: out.details,
        problems: out.problems,
    })
}

async fn kill_each(stack: &mut Stack, plan: &Plan, out: &mut Injected) -> Result<()> {
    let mut kills = 0;
    for _ in 0..plan.kill_rounds {
        for service in SERVICES {
            tokio::time::sleep(plan.every).await;
            stack.kill(service)?;
            let since = Instant::now();
            stack.start_service(service)?;
            back(&stack.endpoints, service, out, since).await;
            kills += 1;
        }
    }
    out.details.push(format!("{kills} kills"));
    Ok(())
}

async fn nats_down(stack: &mut Stack, plan: &Plan, out: &mut Injected) -> Result<()> {
    let pool = sqlx::PgPool::connect(&stack.endpoints.database_url)
        .await
        .map_err(|e| e.to_string())?;
    for _ in 0..plan.nats_times {
        tokio::time::sleep(plan.every).await;
        stack.kill_nats()?;
        tokio::time::sleep(plan.nats_down).await;
        let waiting = oracle::unsettled_outboxes(&pool).await?;
        out.details
            .push(format!("{} outboxes waiting", waiting.len()));
        stack.start_nats().await?;
        let since = Instant::now();
        // Recovered when every outbox has drained what piled up while NATS was away.
        loop {
            if oracle::unsettled_outboxes(&pool).await?.is_empty() {
                out.recovered(since.elapsed());
                break;
            }
            if since.elapsed() > Duration::from_secs(120) {
                out.problems
                    .push("the outboxes did not drain within 2 minutes of NATS's return".into());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    pool.close().await;
    Ok(())
}

async fn postgres_down(
    stack: &mut Stack,
    load: &Load,
    plan: &Plan,
    out: &mut Injected,
) -> Result<()> {
    stack.kill_postgres()?;
    tokio::time::sleep(plan.postgres_down).await;
    stack.start_postgres()?;
    let since = Instant::now();
    // Recovered when a request made after the restart is acknowledged again.
    let before = load.ledger.records().len();
    loop {
        let records = load.ledger.records();
        if records[before.min(records.len())..]
            .iter()
            .any(|r| r.id.is_some())
        {
            out.recovered(since.elapsed());
            break;
        }
        if since.elapsed() > Duration::from_secs(120) {
            out.problems
                .push("no request acknowledged within 2 minutes of PostgreSQL's return".into());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for service in SERVICES {
        back(&stack.endpoints, service, out, since).await;
    }
    Ok(())
}

/// The durable consumers of `service`: (stream, name, ack wait, deliveries so far).
async fn consumers_of(
    endpoints: &Endpoints,
    service: &str,
) -> Result<Vec<(String, String, Duration, u64)>> {
    let js = endpoints.jetstream().await?;
    let mut found = Vec::new();
    let mut streams = js.streams();
    while let Some(info) = streams.next().await {
        let info = info.map_err(|e| e.to_string())?;
        let stream = js
            .get_stream(&info.config.name)
            .await
            .map_err(|e| e.to_string())?;
        let mut consumers = stream.consumers();
        while let Some(consumer) = consumers.next().await {
            let consumer = consumer.map_err(|e| e.to_string())?;
            if consumer.name.starts_with(&format!("{service}-")) {
                found.push((
                    info.config.name.clone(),
                    consumer.name.clone(),
                    consumer.config.ack_wait,
                    consumer.delivered.consumer_sequence,
                ));
            }
        }
    }
    Ok(found)
}

/// URP's consumer of routing's case events (satisfaction feedback) is paused past its
/// ack wait while the counter load completes cases: what it had pulled is redelivered.
async fn paused_consumer(stack: &mut Stack, _plan: &Plan, out: &mut Injected) -> Result<()> {
    const SERVICE: &str = "urp";
    let before = consumers_of(&stack.endpoints, SERVICE).await?;
    let ack_wait = before
        .iter()
        .map(|c| c.2)
        .max()
        .ok_or("urp has no durable consumer")?;
    stack.pause(SERVICE, true)?;
    tokio::time::sleep(ack_wait + Duration::from_secs(5)).await;
    stack.pause(SERVICE, false)?;
    let since = Instant::now();
    back(&stack.endpoints, SERVICE, out, since).await;
    out.details.push(format!(
        "{SERVICE} paused {}s (ack wait {}s)",
        (ack_wait + Duration::from_secs(5)).as_secs(),
        ack_wait.as_secs()
    ));
    // Deliveries since the pause: redeliveries show as deliveries beyond the messages.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = consumers_of(&stack.endpoints, SERVICE).await?;
    let delivered: u64 = after
        .iter()
        .map(|(_, name, _, seq)| seq - before.iter().find(|b| &b.1 == name).map_or(0, |b| b.3))
        .sum();
    out.details
        .push(format!("{delivered} deliveries to urp since the pause"));
    Ok(())
}

/// A calling board's event stream, kept open the way the board page keeps it: read to
/// its end, then opened again a second later. Counts events and reconnections.
async fn board(endpoints: Endpoints, stop: CancellationToken) -> (usize, usize, usize) {
    let (mut events, mut connections, mut events_on_last) = (0, 0, 0);
    while !stop.is_cancelled() {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(endpoints.http).await {
            let request = format!(
                "GET /api/v1/sites/palazzo-civico/board/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
                endpoints.http
            );
            use tokio::io::AsyncWriteExt;
            if stream.write_all(request.as_bytes()).await.is_ok() {
                connections += 1;
                events_on_last = 0;
                let mut buf = vec![0u8; 16384];
                loop {
                    let read = tokio::select! {
                        r = stream.read(&mut buf) => r,
                        () = stop.cancelled() => break,
                    };
                    match read {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let seen = String::from_utf8_lossy(&buf[..n]).matches("event:").count();
                            events += seen;
                            events_on_last += seen;
                        }
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.cancelled() => {}
        }
    }
    (events, connections, events_on_last)
}

async fn rolling_restart(stack: &mut Stack, plan: &Plan, out: &mut Injected) -> Result<()> {
    let stop = CancellationToken::new();
    let watcher = tokio::spawn(board(stack.endpoints.clone(), stop.clone()));
    let mut slowest = Duration::ZERO;
    for service in SERVICES {
        tokio::time::sleep(plan.every).await;
        let (took, code) = stack.terminate(service).await?;
        slowest = slowest.max(took);
        if code != Some(0) || took >= GRACE {
            out.problems.push(format!(
                "{service} did not drain within its grace: exit {code:?} after {:.1}s",
                took.as_secs_f64()
            ));
        }
        let since = Instant::now();
        stack.start_service(service)?;
        back(&stack.endpoints, service, out, since).await;
    }
    // The board reconnects after the gateway's restart and gets events again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    let (events, connections, events_on_last) = watcher.await.map_err(|e| e.to_string())?;
    if events_on_last == 0 {
        out.problems
            .push("the calling board's stream got no event after the gateway's restart".into());
    }
    out.details.push(format!(
        "slowest drain {:.1}s of {}s grace; board {events} events over {connections} connections",
        slowest.as_secs_f64(),
        GRACE.as_secs()
    ));
    Ok(())
}
