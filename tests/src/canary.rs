//! Canaries: known personal data driven through the services, then looked for wherever
//! it must never be — every log line and trace span of the test process, every metric,
//! every message of every JetStream stream, and the JetStream store on disk.
//!
//! [`Capture::install`] puts one global `tracing` subscriber in place at TRACE for every
//! target (and the `log` crate's records through it), which records each event's message
//! and fields and each span's name and fields, as recorded when it opens and later. The
//! services run in-process, so whatever they log or trace comes through it; the kit's own
//! subscriber then finds one already installed and keeps it. Install it first thing in
//! the test: a process has one global subscriber (nextest runs each test in a process of
//! its own).

use std::{
    fmt::Write as _,
    path::Path,
    sync::{Arc, Mutex},
};

use futures::TryStreamExt;
use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
};
use tracing_subscriber::{
    Layer,
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::{http, stack::Stack};

/// Every event and span of the test process, one line each, as text.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<String>>>);

impl Capture {
    /// Installs the process's global subscriber, at TRACE for every target; panics if
    /// one is already installed (then nothing would be captured).
    pub fn install() -> Self {
        let capture = Self::default();
        tracing_subscriber::registry()
            .with(Recorder(capture.clone()))
            .try_init()
            .expect("the first subscriber of this test process: install the capture first");
        capture
    }

    fn push(&self, line: String) {
        self.0.lock().expect("capture lock").push(line);
    }

    /// What was captured so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("capture lock").clone()
    }

    /// Whether any line captured so far contains `text`.
    pub fn contains(&self, text: &str) -> bool {
        self.0
            .lock()
            .expect("capture lock")
            .iter()
            .any(|l| l.contains(text))
    }

    /// Where `needles` appear in what was captured, at most `limit` findings.
    pub fn leaks(&self, needles: &Needles, limit: usize) -> Vec<Leak> {
        let lines = self.0.lock().expect("capture lock");
        let mut leaks = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            leaks.extend(needles.find(&format!("log/trace line {n}"), line.as_bytes()));
            if leaks.len() >= limit {
                break;
            }
        }
        leaks
    }
}

/// The layer behind [`Capture`].
struct Recorder(Capture);

impl<S> Layer<S> for Recorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        self.0.push(format!(
            "span {} {} opened:{}",
            meta.target(),
            meta.name(),
            fields.0
        ));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let name = ctx.span(id).map_or("?", |s| s.name());
        let mut fields = Fields::default();
        values.record(&mut fields);
        self.0.push(format!("span {name} recorded:{}", fields.0));
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.push(format!(
            "event {} {}:{}",
            meta.level(),
            meta.target(),
            fields.0
        ));
    }
}

/// Fields as ` name=value`, values as their `Debug` (strings and bytes as they are).
#[derive(Default)]
struct Fields(String);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        let _ = write!(
            self.0,
            " {}={}",
            field.name(),
            String::from_utf8_lossy(value)
        );
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let _ = write!(self.0, " {}={value}", field.name());
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(self.0, ": {cause}");
            source = cause.source();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

/// The personal data to look for, each with what it is; matched ignoring ASCII case.
#[derive(Debug, Clone)]
pub struct Needles(Vec<(&'static str, String)>);

impl Needles {
    /// `(what, text)` pairs.
    pub fn new(needles: &[(&'static str, &str)]) -> Self {
        assert!(
            needles.iter().all(|(_, n)| n.len() >= 6),
            "needles short enough to match by chance"
        );
        Self(
            needles
                .iter()
                .map(|(what, n)| (*what, n.to_ascii_lowercase()))
                .collect(),
        )
    }

    /// Every needle found in `haystack`, described as at `place`.
    pub fn find(&self, place: &str, haystack: &[u8]) -> Vec<Leak> {
        // Lossy: invalid UTF-8 becomes U+FFFD, never swallowing an ASCII byte.
        let text = String::from_utf8_lossy(haystack).to_ascii_lowercase();
        self.0
            .iter()
            .filter_map(|(what, needle)| {
                text.find(needle.as_str()).map(|at| Leak {
                    place: place.to_owned(),
                    what,
                    excerpt: excerpt(&text, at, needle.len()),
                })
            })
            .collect()
    }
}

/// A few characters either side of a match, the match marked.
fn excerpt(text: &str, at: usize, len: usize) -> String {
    let mut start = at.saturating_sub(60);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + len + 60).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    format!(
        "…{}«{}»{}…",
        &text[start..at],
        &text[at..at + len],
        &text[at + len..end]
    )
    .replace(['\n', '\r'], " ")
}

/// Personal data found where it must not be.
#[derive(Debug, Clone)]
pub struct Leak {
    /// Where: the log line, metric, stream message or file.
    pub place: String,
    /// What was found (the fiscal code, the surname, …).
    pub what: &'static str,
    /// The match with a little context.
    pub excerpt: String,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}: {}", self.what, self.place, self.excerpt)
    }
}

/// Every service's `/metrics`, scraped; the number of samples, and the leaks.
pub async fn scan_metrics(stack: &Stack, needles: &Needles) -> (usize, Vec<Leak>) {
    let mut samples = 0;
    let mut leaks = Vec::new();
    for (name, service) in stack.all() {
        let (status, body) = http::get(service.running.metrics_addr, "/metrics").await;
        assert_eq!(status, 200, "{name}'s /metrics");
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            samples += 1;
            leaks.extend(needles.find(&format!("{name}'s metric {line:.120}"), line.as_bytes()));
        }
    }
    (samples, leaks)
}

/// Every file under `dir` read back as bytes; the number of files and bytes read, and
/// the leaks.
pub fn scan_dir(dir: &Path, needles: &Needles) -> (usize, u64, Vec<Leak>) {
    let (mut files, mut bytes, mut leaks) = (0, 0, Vec::new());
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta =
            std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if meta.is_dir() {
            for entry in
                std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            {
                pending.push(entry.expect("a directory entry").path());
            }
        } else if meta.is_file() {
            let content =
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            files += 1;
            bytes += content.len() as u64;
            let place = format!("file {}", path.strip_prefix(dir).unwrap_or(&path).display());
            leaks.extend(needles.find(&place, &content));
            leaks.extend(needles.find(&place, path.to_string_lossy().as_bytes()));
        }
    }
    (files, bytes, leaks)
}

/// Every message still in every JetStream stream, read back through `client` (one
/// allowed to read them all, the harness): its subject, headers and payload. The
/// number of messages read, and the leaks.
pub async fn scan_streams(client: async_nats::Client, needles: &Needles) -> (usize, Vec<Leak>) {
    let js = async_nats::jetstream::new(client);
    let infos: Vec<_> = js.streams().try_collect().await.expect("list the streams");
    let (mut read, mut leaks) = (0, Vec::new());
    for info in infos {
        let name = info.config.name.clone();
        let stream = js.get_stream(&name).await.expect("the stream");
        if info.state.messages == 0 {
            continue;
        }
        for sequence in info.state.first_sequence..=info.state.last_sequence {
            // A gap: a message deleted (acknowledged off a work queue, or purged).
            let Ok(message) = stream.get_raw_message(sequence).await else {
                continue;
            };
            read += 1;
            let place = format!("stream {name} #{sequence} ({})", message.subject);
            leaks.extend(needles.find(&place, message.subject.as_bytes()));
            leaks.extend(needles.find(&format!("{place} payload"), &message.payload));
            for (header, values) in message.headers.iter() {
                for value in values {
                    let text = format!("{header}: {value}");
                    leaks
                        .extend(needles.find(&format!("{place} header {header}"), text.as_bytes()));
                }
            }
        }
    }
    (read, leaks)
}
