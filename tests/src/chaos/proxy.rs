//! A TCP fault proxy between services: latency, resets, a black hole, switched at run
//! time, and the run that measures callers through it.
//!
//! Our own small tokio proxy rather than noxious: noxious 1.0 (the toxiproxy port) was
//! last released in 2021 on tokio-util 0.6 and rand 0.8, drives its proxies through the
//! server's shared state and message channels rather than a library handle, and has no
//! black hole that holds bytes for a while and then lets them through. What we need is a
//! byte pump with a switch: a couple of hundred lines. It works on TCP, below TLS, so
//! mutual TLS passes through untouched (the client checks the service's name, not the
//! address it dialled).

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// What the proxy does to the traffic, from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes pass as they come.
    None,
    /// Each chunk, each way, and each new connection waits this long.
    Latency(Duration),
    /// Every open connection is reset (RST), and every new one as soon as it is accepted.
    Reset,
    /// Connections are accepted, nothing is forwarded either way, until the fault
    /// changes; then the held bytes go on.
    BlackHole,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => write!(f, "none"),
            Self::Latency(d) => write!(f, "latency {} ms", d.as_millis()),
            Self::Reset => write!(f, "resets"),
            Self::BlackHole => write!(f, "black hole"),
        }
    }
}

/// What went through the proxy.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    reset: AtomicU64,
    bytes: AtomicU64,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    fault: watch::Sender<Fault>,
    counters: Arc<Counters>,
    _task: AbortOnDrop,
}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `upstream`. Needs a tokio runtime;
    /// not async, so it can be started where a configuration is being built.
    pub fn start(upstream: SocketAddr) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let addr = listener.local_addr()?;
        let (fault, _) = watch::channel(Fault::None);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(accept(
            listener,
            upstream,
            fault.subscribe(),
            counters.clone(),
        ));
        Ok(Self {
            addr,
            upstream,
            fault,
            counters,
            _task: AbortOnDrop(task),
        })
    }

    /// A proxy for a service URL `https://host:port`; returns the proxy and the URL to
    /// give the caller instead.
    pub fn for_url(url: &str) -> std::io::Result<(Self, String)> {
        let authority = url
            .strip_prefix("https://")
            .unwrap_or(url)
            .trim_end_matches('/');
        let upstream: SocketAddr = authority.parse().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{url}: {e}"))
        })?;
        let proxy = Self::start(upstream)?;
        let url = format!("https://{}", proxy.addr());
        Ok((proxy, url))
    }

    /// Where callers connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the proxy forwards.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Switches the fault, for open connections and new ones alike.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Connections accepted, connections reset, bytes forwarded so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.counters.accepted.load(Ordering::Relaxed),
            self.counters.reset.load(Ordering::Relaxed),
            self.counters.bytes.load(Ordering::Relaxed),
        )
    }
}

/// The accept loop, stopped with the proxy (its connections end with the runtime or
/// when their peers close).
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: watch::Receiver<Fault>,
    counters: Arc<Counters>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of descriptors, most likely: try again shortly rather than stop.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(
            client,
            upstream,
            fault.clone(),
            counters.clone(),
        ));
    }
}

/// Waits while the fault holds traffic (a black hole, or a reset being carried out);
/// returns the fault that lets it pass, or `None` when the proxy is gone.
async fn passable(fault: &mut watch::Receiver<Fault>) -> Option<Fault> {
    loop {
        let now = *fault.borrow_and_update();
        match now {
            Fault::Reset | Fault::BlackHole => fault.changed().await.ok()?,
            other => return Some(other),
        }
    }
}

/// Resolves when the fault is (or becomes) a reset.
async fn reset_ordered(mut fault: watch::Receiver<Fault>) {
    if fault.wait_for(|f| *f == Fault::Reset).await.is_err() {
        // The proxy is gone: never.
        std::future::pending::<()>().await;
    }
}

async fn connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut fault: watch::Receiver<Fault>,
    counters: Arc<Counters>,
) {
    let _ = client.set_nodelay(true);
    // A new connection meets the fault too: reset, held in a black hole, or delayed.
    if *fault.borrow() == Fault::Reset {
        reset(&client, &counters);
        return;
    }
    let watcher = fault.clone();
    let connected = tokio::select! {
        connected = async {
            if let Some(Fault::Latency(delay)) = passable(&mut fault).await {
                tokio::time::sleep(delay).await;
            }
            TcpStream::connect(upstream).await
        } => connected,
        () = reset_ordered(watcher) => {
            reset(&client, &counters);
            return;
        }
    };
    let Ok(mut server) = connected else {
        reset(&client, &counters);
        return;
    };
    let _ = server.set_nodelay(true);
    let was_reset = {
        let (mut client_read, mut client_write) = client.split();
        let (mut server_read, mut server_write) = server.split();
        let up = pump(
            &mut client_read,
            &mut server_write,
            fault.clone(),
            &counters,
        );
        let down = pump(
            &mut server_read,
            &mut client_write,
            fault.clone(),
            &counters,
        );
        tokio::select! {
            _ = async { tokio::join!(up, down) } => false,
            () = reset_ordered(fault) => true,
        }
    };
    // The pumps are dropped here, so the sockets are ours again to reset.
    if was_reset {
        reset(&client, &counters);
        reset(&server, &counters);
    }
}

/// Makes the close of `stream` (when it is dropped) a RST instead of a FIN.
fn reset(stream: &TcpStream, counters: &Counters) {
    let _ = stream.set_zero_linger();
    counters.reset.fetch_add(1, Ordering::Relaxed);
}

/// Copies one way until EOF or a failure, each chunk meeting the fault as it is when
/// the chunk is in hand: held in a black hole, or due `latency` later. Reading and
/// writing run side by side, so latency delays every chunk without queueing them
/// behind each other (a line that is slow, not one that is narrow).
async fn pump(
    from: &mut tokio::net::tcp::ReadHalf<'_>,
    to: &mut tokio::net::tcp::WriteHalf<'_>,
    mut fault: watch::Receiver<Fault>,
    counters: &Counters,
) {
    let (chunks, mut due) = tokio::sync::mpsc::channel::<(Instant, bytes::Bytes)>(256);
    let read = async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let at = match passable(&mut fault).await {
                None => return,
                Some(Fault::Latency(delay)) => Instant::now() + delay,
                Some(_) => Instant::now(),
            };
            let chunk = bytes::Bytes::copy_from_slice(&buffer[..n]);
            if chunks.send((at, chunk)).await.is_err() {
                return;
            }
        }
    };
    let write = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at.into()).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
            counters
                .bytes
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        // The reader saw EOF and everything before it is written: pass the EOF on.
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

/// One call's outcome, as the caller saw it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// What came back: an HTTP status, a gRPC code, "transport".
    pub label: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// What a run with one fault measured.
#[derive(Debug, Clone)]
pub struct ProxyRun {
    /// The fault.
    pub fault: Fault,
    /// Calls the callers made.
    pub requests: u64,
    /// Answers by label.
    pub answers: BTreeMap<String, u64>,
    /// The longest answer time.
    pub slowest: Duration,
    /// Answers later than the deadline plus the allowance.
    pub late: u64,
    /// Those late answers by label, with the latest of each.
    pub late_by: BTreeMap<String, (u64, Duration)>,
    /// Calls that arrived at the callee, as it counts them.
    pub arrivals: u64,
}

/// How much later than its deadline a call may end.
pub const DEADLINE_ALLOWANCE: Duration = Duration::from_millis(50);

/// How many more calls may arrive than the callers made (retries), as a fraction.
pub const MAX_AMPLIFICATION: f64 = 0.10;

impl ProxyRun {
    /// Arrivals over calls made, minus one: what retries added (negative when calls
    /// never arrived, which is no amplification).
    pub fn amplification(&self) -> f64 {
        if self.requests == 0 {
            return 0.0;
        }
        self.arrivals as f64 / self.requests as f64 - 1.0
    }

    /// The run's one line.
    pub fn line(&self, deadline: Duration) -> String {
        let answers: Vec<String> = self
            .answers
            .iter()
            .map(|(label, n)| format!("{label} {n}"))
            .collect();
        let late: Vec<String> = self
            .late_by
            .iter()
            .map(|(label, (n, latest))| format!("{label} {n} (to {} ms)", latest.as_millis()))
            .collect();
        format!(
            "chaos proxy {}: requests {}, answers by code {}, slowest {} ms (deadline {} ms), late {}{}, arrivals at the callee {}, amplification {:+.1} %",
            self.fault,
            self.requests,
            answers.join(", "),
            self.slowest.as_millis(),
            deadline.as_millis(),
            self.late,
            if late.is_empty() {
                String::new()
            } else {
                format!(" ({})", late.join(", "))
            },
            self.arrivals,
            self.amplification() * 100.0
        )
    }

    /// Whether every call ended within its deadline plus the allowance and retries
    /// stayed within their budget.
    pub fn holds(&self) -> bool {
        self.late == 0 && self.amplification() <= MAX_AMPLIFICATION
    }
}

/// Drives `call` from `concurrency` callers for `duration` with `fault` set on `proxy`
/// (then sets it back to none and lets the calls in flight finish), and counts arrivals
/// with `arrivals` before and after. `deadline` is what each call may take: the caller's
/// deadline for the called service (its `GRPC_TIMEOUT`).
pub async fn drive<C, CF, A, AF>(
    proxy: &FaultProxy,
    fault: Fault,
    duration: Duration,
    deadline: Duration,
    concurrency: usize,
    call: C,
    arrivals: A,
) -> ProxyRun
where
    C: Fn() -> CF + Clone + Send + 'static,
    CF: Future<Output = String> + Send + 'static,
    A: Fn() -> AF,
    AF: Future<Output = u64>,
{
    let before = arrivals().await;
    proxy.set(fault);
    let until = Instant::now() + duration;
    let callers: Vec<_> = (0..concurrency)
        .map(|_| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    let label = call().await;
                    answers.push(Answer {
                        label,
                        elapsed: started.elapsed(),
                    });
                }
                answers
            })
        })
        .collect();
    tokio::time::sleep_until(until.into()).await;
    // Held bytes go on now: what was in flight ends on its own, late or not.
    proxy.set(Fault::None);
    let mut run = ProxyRun {
        fault,
        requests: 0,
        answers: BTreeMap::new(),
        slowest: Duration::ZERO,
        late: 0,
        late_by: BTreeMap::new(),
        arrivals: 0,
    };
    for caller in callers {
        for answer in caller.await.unwrap_or_default() {
            run.requests += 1;
            *run.answers.entry(answer.label.clone()).or_default() += 1;
            run.slowest = run.slowest.max(answer.elapsed);
            if answer.elapsed > deadline + DEADLINE_ALLOWANCE {
                run.late += 1;
                let entry = run.late_by.entry(answer.label).or_default();
                entry.0 += 1;
                entry.1 = entry.1.max(answer.elapsed);
            }
        }
    }
    run.arrivals = arrivals().await.saturating_sub(before);
    run
}

/// The count of calls `caller` made to `service`, from a Prometheus `/metrics` text
/// (`sportello_grpc_requests_total`, counted at the callee's gate).
pub fn requests_counted(metrics: &str, service: &str, caller: &str) -> u64 {
    let service = format!("service=\"{service}\"");
    let caller = format!("caller=\"{caller}\"");
    metrics
        .lines()
        .filter(|line| line.starts_with("sportello_grpc_requests_total{"))
        .filter(|line| line.contains(&service) && line.contains(&caller))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}
