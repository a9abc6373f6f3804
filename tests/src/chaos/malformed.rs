//! Malformed and oversized gRPC requests and HTTP bodies, by the hundred thousand.
//!
//! gRPC: every unary RPC the targets' reflection advertises, called with random bytes,
//! truncated and bit-flipped protobufs of its own request message, wrong wire types,
//! huge repeated fields, messages above the services' size limits (really, and only by
//! the frame's declared length), bad `grpc-timeout` headers, wrong content types and bad
//! compression flags. The frames are built here byte by byte and sent through the
//! caller's [`PeerChannel`] as raw HTTP/2 requests, so nothing of tonic's client side
//! tidies them up; mutual TLS and the signed person of the call are the channel's.
//!
//! HTTP: every route of the gateway's own OpenAPI document, with garbage, oversized,
//! deeply nested and wrongly typed JSON, invalid UTF-8 and wrong content types, signed
//! in or not.
//!
//! A request is replayable: each one is drawn from `seed` and its index alone.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use prost_reflect::{Cardinality, Kind, MessageDescriptor, MethodDescriptor};
use sportello_kit::PeerChannel;

/// What the flood is aimed at, built by the caller: channels with their TLS identity,
/// and the gateway's HTTP address.
#[derive(Debug, Clone)]
pub struct Targets {
    /// gRPC services: a name for the report and a channel to the service.
    pub grpc: Vec<(String, PeerChannel)>,
    /// The gateway's HTTP address, if HTTP is flooded too.
    pub http: Option<SocketAddr>,
    /// A signed-in account's cookie and CSRF token, so bodies reach the handlers
    /// behind a session too.
    pub http_user: Option<crate::http::User>,
}

/// What the flood saw.
#[derive(Debug, Clone, Default)]
pub struct FloodReport {
    /// Requests sent.
    pub requests: u64,
    /// gRPC answers by code (and "transport …" when the exchange itself failed).
    pub grpc: BTreeMap<String, u64>,
    /// HTTP answers by status.
    pub http: BTreeMap<String, u64>,
    /// Answers that must never come, each with the request that drew it (a few).
    pub forbidden: Vec<String>,
    /// How many answers were forbidden.
    pub forbidden_count: u64,
    /// Panics in this process during the flood (the in-process services).
    pub panics: u64,
    /// Answers by kind of malformation, then by code or status: where a forbidden
    /// answer comes from.
    pub by_kind: BTreeMap<String, BTreeMap<String, u64>>,
}

/// gRPC codes a malformed request may get. Besides INVALID_ARGUMENT and
/// RESOURCE_EXHAUSTED: UNAUTHENTICATED (a request without identity, or whose headers
/// the gate refuses), PERMISSION_DENIED (a service acting as itself where only a person
/// may), and the answers of a request whose mangling still decoded to a well-formed
/// message — a random message is sometimes a valid one, about something that does not
/// exist or in a state that does not allow it: OK, NOT_FOUND, ALREADY_EXISTS,
/// FAILED_PRECONDITION; and UNIMPLEMENTED for a `grpc-encoding` the server does not
/// support, as gRPC's compression spec has it (see `record`). Never INTERNAL, UNKNOWN,
/// DATA_LOSS, UNAVAILABLE (the service is up), OUT_OF_RANGE (tonic's old word for a
/// message over the limit) or a failed exchange.
const ACCEPTED_GRPC: [&str; 8] = [
    "InvalidArgument",
    "ResourceExhausted",
    "Unauthenticated",
    "PermissionDenied",
    "Ok",
    "NotFound",
    "AlreadyExists",
    "FailedPrecondition",
];

impl FloodReport {
    /// Whether nothing forbidden came back and nothing panicked.
    pub fn holds(&self) -> bool {
        self.forbidden_count == 0 && self.panics == 0
    }

    /// The run's one line.
    pub fn line(&self) -> String {
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "chaos malformed: requests {}, answers by code gRPC [{}], HTTP [{}], forbidden {}, panics {}",
            self.requests,
            list(&self.grpc),
            list(&self.http),
            self.forbidden_count,
            self.panics
        )
    }

    fn record(&mut self, answer: Answer) {
        self.requests += 1;
        let (map, label, ok) = match &answer.outcome {
            // An unsupported grpc-encoding is UNIMPLEMENTED by gRPC's compression spec.
            Outcome::Grpc(code, _) => (
                &mut self.grpc,
                code.clone(),
                ACCEPTED_GRPC.contains(&code.as_str())
                    || (code == "Unimplemented" && answer.kind == GRPC_KINDS[9]),
            ),
            // A GET's body means nothing: the request may well succeed.
            Outcome::Http(status) => (
                &mut self.http,
                status.to_string(),
                (400..500).contains(status) || (answer.get && (200..400).contains(status)),
            ),
            Outcome::Failed(why) => (
                if answer.http {
                    &mut self.http
                } else {
                    &mut self.grpc
                },
                format!("failed: {}", why.split(':').next().unwrap_or(why)),
                false,
            ),
        };
        *map.entry(label.clone()).or_default() += 1;
        *self
            .by_kind
            .entry(format!(
                "{} {}",
                if answer.http { "HTTP" } else { "gRPC" },
                answer.kind
            ))
            .or_default()
            .entry(label.clone())
            .or_default() += 1;
        if !ok {
            self.forbidden_count += 1;
            if self.forbidden.len() < 20 {
                let detail = match &answer.outcome {
                    Outcome::Grpc(_, message) => message.as_str(),
                    Outcome::Http(_) => "",
                    Outcome::Failed(why) => why.as_str(),
                };
                self.forbidden
                    .push(format!("{label} ← {}: {detail}", answer.what));
            }
        }
    }
}

/// Counts panics in this process from the first call on (the hook is installed once
/// and keeps the previous one, so panics still print).
pub fn panics() -> u64 {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            COUNT.fetch_add(1, Ordering::Relaxed);
            previous(info);
        }));
    });
    COUNT.load(Ordering::Relaxed)
}

/// A small deterministic generator (splitmix64): a request is replayed from its seed,
/// and the tests need no more randomness than this.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator of request `index` of the flood seeded `seed`.
    pub fn new(seed: u64, index: u64) -> Self {
        Self(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.bits() % n.max(1) as u64) as usize
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.bits() as u8).collect()
    }

    /// Fewer than `max` random bytes.
    pub fn some_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        self.bytes(len)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One unary RPC: its path and request message.
#[derive(Debug, Clone)]
struct Rpc {
    service: String,
    path: String,
    input: MessageDescriptor,
}

/// One HTTP route of the OpenAPI document.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    /// The request body's schema properties: name and declared type.
    fields: Vec<(String, String)>,
}

#[derive(Debug)]
enum Outcome {
    /// The code, and the message (for the report's examples).
    Grpc(String, String),
    Http(u16),
    Failed(String),
}

#[derive(Debug)]
struct Answer {
    http: bool,
    /// An HTTP GET.
    get: bool,
    kind: &'static str,
    what: String,
    outcome: Outcome,
}

/// How long one malformed request may take before it counts as unanswered.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// The size limit above every service's (the largest is a document's 10 MiB plus its
/// envelope): a message this big is refused by every server.
const ABOVE_EVERY_LIMIT: usize = 17 * 1024 * 1024;

/// Sends `requests` malformed requests, about two thirds gRPC and one third HTTP when
/// both are targeted, `concurrency` at a time, drawn from `seed`.
pub async fn flood(targets: &Targets, requests: usize, seed: u64) -> FloodReport {
    let panics_before = panics();
    let mut rpcs = Vec::new();
    for (name, channel) in &targets.grpc {
        let reflected = crate::dynamic::reflect(channel).await;
        for service in &reflected.services {
            if service.starts_with("grpc.reflection") {
                continue;
            }
            let Some(descriptor) = reflected.pool.get_service_by_name(service) else {
                continue;
            };
            for method in descriptor.methods() {
                if !method.is_client_streaming() && !method.is_server_streaming() {
                    rpcs.push((channel.clone(), rpc(name, &method)));
                }
            }
        }
    }
    let routes = match targets.http {
        Some(addr) => routes(addr).await,
        None => Vec::new(),
    };
    let mut report = FloodReport::default();
    if rpcs.is_empty() && routes.is_empty() {
        return report;
    }
    let mut answers = futures::stream::iter(0..requests as u64)
        .map(|index| {
            let mut rng = Rng::new(seed, index);
            let rpcs = &rpcs;
            let routes = &routes;
            async move {
                let http = !routes.is_empty() && (rpcs.is_empty() || rng.below(3) == 0);
                match (http, targets.http) {
                    (true, Some(addr)) => {
                        let route = rng.pick(routes.as_slice());
                        http_request(addr, targets.http_user.as_ref(), route, &mut rng).await
                    }
                    _ => {
                        let (channel, rpc) = rng.pick(rpcs.as_slice());
                        grpc_request(channel.clone(), rpc, &mut rng).await
                    }
                }
            }
        })
        .buffer_unordered(32);
    while let Some(answer) = answers.next().await {
        report.record(answer);
    }
    report.panics = panics().saturating_sub(panics_before);
    report
}

fn rpc(service: &str, method: &MethodDescriptor) -> Rpc {
    Rpc {
        service: service.to_owned(),
        path: format!("/{}/{}", method.parent_service().full_name(), method.name()),
        input: method.input(),
    }
}

// ---- gRPC ----

/// A plausible message of `descriptor`, as protobuf bytes: each field present at
/// random, with random values of its own type (nested messages to a small depth).
fn plausible(descriptor: &MessageDescriptor, rng: &mut Rng, depth: u32) -> BytesMut {
    let mut out = BytesMut::new();
    for field in descriptor.fields() {
        if rng.below(3) == 0 {
            continue;
        }
        let times = if field.cardinality() == Cardinality::Repeated {
            rng.below(4)
        } else {
            1
        };
        for _ in 0..times {
            let number = u64::from(field.number());
            match field.kind() {
                Kind::Message(inner) => {
                    if depth < 3 {
                        let body = plausible(&inner, rng, depth + 1);
                        put_len(&mut out, number, &body);
                    }
                }
                Kind::String | Kind::Bytes => {
                    let text = random_text(rng);
                    put_len(&mut out, number, text.as_bytes());
                }
                Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => {
                    put_varint(&mut out, number << 3 | 1);
                    out.put_u64_le(rng.bits());
                }
                Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => {
                    put_varint(&mut out, number << 3 | 5);
                    out.put_u32_le(rng.bits() as u32);
                }
                _ => {
                    // Varints: ints, bools, enums, small or huge.
                    put_varint(&mut out, number << 3);
                    let value = if rng.below(2) == 0 {
                        rng.bits() % 8
                    } else {
                        rng.bits()
                    };
                    put_varint(&mut out, value);
                }
            }
        }
    }
    out
}

/// Text that is sometimes plausible (a code, a number), sometimes not at all.
fn random_text(rng: &mut Rng) -> String {
    const SAMPLES: [&str; 10] = [
        "011015",
        "RSSMRA80A01E463X",
        "",
        "00000000-0000-0000-0000-000000000000",
        "palazzo-civico",
        "999999999999999999999",
        "../../etc/passwd",
        "Ω≈ç√∫˜µ≤≥÷",
        "'; DROP TABLE cases; --",
        "\u{0}\u{1}\u{7f}",
    ];
    match rng.below(3) {
        0 => (*rng.pick(&SAMPLES)).to_owned(),
        1 => "x".repeat(rng.below(5_000)),
        _ => String::from_utf8_lossy(&rng.some_bytes(64)).into_owned(),
    }
}

fn put_varint(out: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        out.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    out.put_u8(value as u8);
}

fn put_len(out: &mut BytesMut, number: u64, body: &[u8]) {
    put_varint(out, number << 3 | 2);
    put_varint(out, body.len() as u64);
    out.put_slice(body);
}

/// The kinds of malformed gRPC request, each with its name in the report's examples.
const GRPC_KINDS: [&str; 11] = [
    "random bytes",
    "truncated",
    "bit-flipped",
    "wrong wire types",
    "huge repeated field",
    "oversized message",
    "declared oversized",
    "bad grpc-timeout",
    "wrong content-type",
    "bad compression flag",
    "short frame",
];

/// One malformed gRPC call.
async fn grpc_request(mut channel: PeerChannel, rpc: &Rpc, rng: &mut Rng) -> Answer {
    // Oversized messages are costly: one in a thousand really is.
    let mut kind = rng.below(GRPC_KINDS.len());
    if kind == 5 && rng.below(200) != 0 {
        kind = 6;
    }
    let message: Bytes = match kind {
        0 => rng.some_bytes(512).into(),
        1 => {
            let whole = plausible(&rpc.input, rng, 0);
            let cut = rng.below(whole.len().max(1));
            whole.freeze().slice(..cut)
        }
        2 => {
            let mut whole = plausible(&rpc.input, rng, 0);
            for _ in 0..=rng.below(8) {
                if !whole.is_empty() {
                    let at = rng.below(whole.len());
                    whole[at] ^= 1 << rng.below(8);
                }
            }
            whole.freeze()
        }
        3 => wrong_wire_types(&rpc.input, rng).freeze(),
        4 => huge_repeated(&rpc.input, rng).freeze(),
        5 => Bytes::from(vec![0x0a; ABOVE_EVERY_LIMIT]),
        _ => plausible(&rpc.input, rng, 0).freeze(),
    };
    let mut frame = BytesMut::with_capacity(message.len() + 5);
    let flag = if kind == 9 {
        1 + rng.below(255) as u8
    } else {
        0
    };
    frame.put_u8(flag);
    let declared = match kind {
        6 => (ABOVE_EVERY_LIMIT + rng.below(1 << 30)) as u32,
        10 => message.len() as u32 + 1 + rng.below(1_000) as u32,
        _ => message.len() as u32,
    };
    frame.put_u32(declared);
    frame.put_slice(&message);

    let mut request = http::Request::new(tonic::body::Body::new(Full::new(frame.freeze())));
    *request.version_mut() = http::Version::HTTP_2;
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = match rpc.path.parse() {
        Ok(uri) => uri,
        Err(e) => {
            return Answer {
                http: false,
                get: false,
                kind: GRPC_KINDS[kind],
                what: rpc.path.clone(),
                outcome: Outcome::Failed(format!("bad path: {e}")),
            };
        }
    };
    let content_type = if kind == 8 {
        *rng.pick(&[
            "application/json",
            "text/plain",
            "application/grpc-web",
            "application/grpc+json",
            "",
            "application/grpc; charset=\u{1}",
        ])
    } else {
        "application/grpc"
    };
    let headers = request.headers_mut();
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        headers.insert(http::header::CONTENT_TYPE, value);
    }
    headers.insert("te", http::HeaderValue::from_static("trailers"));
    if kind == 9 && rng.below(2) == 0 {
        headers.insert("grpc-encoding", http::HeaderValue::from_static("gzip"));
    }
    let identity = if kind == 7 {
        // The channel writes its own grpc-timeout for a call with a context: the bad one
        // travels with a service acting as itself, whose headers are written here.
        let bad = *rng.pick(&[
            "abc",
            "-1S",
            "1",
            "S",
            "99999999999H",
            "1.5S",
            "+5S",
            "1x",
            "",
            "12345678901m",
        ]);
        if let Ok(value) = http::HeaderValue::from_str(bad) {
            headers.insert("grpc-timeout", value);
        }
        for (key, value) in [
            (sportello_kit::context::CALLER, "gateway"),
            (sportello_kit::context::ACTOR, "system:chaos-flood"),
            (sportello_kit::context::MUNICIPALITY, "011015"),
            (sportello_kit::context::PURPOSE, "chaos.flood"),
        ] {
            headers.insert(key, http::HeaderValue::from_static(value));
        }
        "service headers"
    } else if rng.below(5) == 0 {
        "no identity"
    } else {
        request
            .extensions_mut()
            .insert(crate::stack::context("chaos.flood"));
        "a person"
    };
    let what = format!(
        "{} {} ({}, {} bytes, {identity})",
        rpc.service,
        rpc.path,
        GRPC_KINDS[kind],
        message.len()
    );
    let outcome = match tokio::time::timeout(ANSWER_WITHIN, send_grpc(&mut channel, request)).await
    {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed("no answer in time".to_owned()),
    };
    Answer {
        http: false,
        get: false,
        kind: GRPC_KINDS[kind],
        what,
        outcome,
    }
}

/// Sends a raw request and reads its status as a client would: an HTTP status other
/// than 200 is named as such, otherwise `grpc-status` from the headers (trailers-only)
/// or the trailers.
async fn send_grpc(
    channel: &mut PeerChannel,
    request: http::Request<tonic::body::Body>,
) -> Outcome {
    use tonic::codegen::Service;
    if let Err(e) = futures::future::poll_fn(|cx| channel.poll_ready(cx)).await {
        return Outcome::Failed(format!("transport: {e}"));
    }
    let response = match channel.call(request).await {
        Ok(response) => response,
        Err(e) => return Outcome::Failed(format!("transport: {e}")),
    };
    if response.status() != http::StatusCode::OK {
        return Outcome::Grpc(
            format!("http {}", response.status().as_u16()),
            String::new(),
        );
    }
    if let Some(status) = tonic::Status::from_header_map(response.headers()) {
        return Outcome::Grpc(format!("{:?}", status.code()), status.message().to_owned());
    }
    match response.into_body().collect().await {
        Ok(collected) => match collected
            .trailers()
            .and_then(tonic::Status::from_header_map)
        {
            Some(status) => Outcome::Grpc(
                format!("{:?}", status.code()),
                format!("in trailers: {}", status.message()),
            ),
            None => Outcome::Failed("transport: no grpc-status".to_owned()),
        },
        Err(status) => Outcome::Failed(format!("transport: {}", status.message())),
    }
}

/// A message whose fields carry the wrong wire type (a varint for a string, bytes for a
/// number), or a wire type that does not exist.
fn wrong_wire_types(descriptor: &MessageDescriptor, rng: &mut Rng) -> BytesMut {
    let mut out = BytesMut::new();
    for field in descriptor.fields() {
        let number = u64::from(field.number());
        match rng.below(4) {
            0 => {
                put_varint(&mut out, number << 3);
                put_varint(&mut out, rng.bits());
            }
            1 => put_len(&mut out, number, &rng.some_bytes(32)),
            2 => {
                put_varint(&mut out, number << 3 | 5);
                out.put_u32_le(rng.bits() as u32);
            }
            _ => {
                // Wire types 6 and 7 do not exist; 3 and 4 are groups, long gone.
                put_varint(&mut out, number << 3 | (3 + rng.below(5) as u64));
                out.put_slice(&rng.some_bytes(8));
            }
        }
    }
    out
}

/// A repeated field (or, failing one, any field) repeated until the message is about
/// 3 MiB: below the default limit, so the handler's own bounds are what answers.
fn huge_repeated(descriptor: &MessageDescriptor, rng: &mut Rng) -> BytesMut {
    let fields: Vec<_> = descriptor.fields().collect();
    let repeated: Vec<_> = fields
        .iter()
        .filter(|f| f.cardinality() == Cardinality::Repeated)
        .collect();
    let mut out = BytesMut::with_capacity(3 << 20);
    let Some(field) = (if repeated.is_empty() {
        fields.first()
    } else {
        Some(*rng.pick(&repeated))
    }) else {
        out.put_slice(&vec![0u8; 3 << 20]);
        return out;
    };
    let number = u64::from(field.number());
    let one = match field.kind() {
        Kind::Message(inner) => {
            let mut element = BytesMut::new();
            put_len(&mut element, number, &plausible(&inner, rng, 2));
            element
        }
        Kind::String | Kind::Bytes => {
            let mut element = BytesMut::new();
            put_len(&mut element, number, b"x");
            element
        }
        _ => {
            let mut element = BytesMut::new();
            put_varint(&mut element, number << 3);
            put_varint(&mut element, 1);
            element
        }
    };
    while out.len() < 3 << 20 {
        out.put_slice(&one);
    }
    out
}

// ---- HTTP ----

/// The routes of the gateway's OpenAPI document, as it serves it; the calling board's
/// event stream is left out (it never ends, by design).
async fn routes(addr: SocketAddr) -> Vec<Route> {
    let (status, body) = crate::http::get(addr, "/api/v1/openapi.json").await;
    assert_eq!(status, 200, "the gateway serves its OpenAPI document");
    let document: serde_json::Value = serde_json::from_str(&body).expect("OpenAPI as JSON");
    let mut routes = Vec::new();
    let Some(paths) = document["paths"].as_object() else {
        return routes;
    };
    for (path, operations) in paths {
        if path.ends_with("/events") {
            continue;
        }
        let Some(operations) = operations.as_object() else {
            continue;
        };
        for (method, operation) in operations {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            let schema = match schema["$ref"].as_str() {
                Some(reference) => document
                    .pointer(reference.trim_start_matches('#'))
                    .cloned()
                    .unwrap_or_default(),
                None => schema.clone(),
            };
            let fields = schema["properties"]
                .as_object()
                .map(|properties| {
                    properties
                        .iter()
                        .map(|(name, p)| {
                            (
                                name.clone(),
                                p["type"].as_str().unwrap_or("object").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            routes.push(Route {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                fields,
            });
        }
    }
    routes
}

const HTTP_KINDS: [&str; 8] = [
    "garbage bytes",
    "oversized body",
    "deeply nested JSON",
    "wrong field types",
    "wrong content-type",
    "invalid UTF-8",
    "garbage path parameters",
    "random JSON",
];

/// A value of another type than `declared`.
fn wrong_value(declared: &str, rng: &mut Rng) -> serde_json::Value {
    use serde_json::json;
    let choices = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(18446744073709551615u64),
        json!("x".repeat(rng.below(100_000))),
        json!([1, "a", null]),
        json!({"a": {"b": []}}),
    ];
    loop {
        let value = rng.pick(&choices).clone();
        let same = matches!(
            (declared, &value),
            ("string", serde_json::Value::String(_))
                | ("integer" | "number", serde_json::Value::Number(_))
                | ("boolean", serde_json::Value::Bool(_))
                | ("array", serde_json::Value::Array(_))
                | ("object", serde_json::Value::Object(_))
        );
        if !same {
            return value;
        }
    }
}

/// One malformed HTTP request.
async fn http_request(
    addr: SocketAddr,
    user: Option<&crate::http::User>,
    route: &Route,
    rng: &mut Rng,
) -> Answer {
    let kind = rng.below(HTTP_KINDS.len());
    let garbage_param = |rng: &mut Rng| -> String {
        match rng.below(4) {
            0 => "%00%ff%fe".to_owned(),
            1 => "a".repeat(rng.below(10_000)),
            2 => "..%2f..%2fetc".to_owned(),
            _ => rng
                .some_bytes(40)
                .iter()
                .map(|b| format!("%{b:02x}"))
                .collect(),
        }
    };
    let mut path = String::new();
    for segment in route.path.split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        if segment.starts_with('{') {
            if kind == 6 {
                path.push_str(&garbage_param(rng));
            } else {
                // A well-formed id that does not exist, or the demo site.
                const IDS: [&str; 3] = [
                    "00000000-0000-0000-0000-000000000000",
                    "palazzo-civico",
                    "42",
                ];
                let id = *rng.pick(&IDS);
                path.push_str(id);
            }
        } else {
            path.push_str(segment);
        }
    }
    if kind == 6 {
        path.push('?');
        path.push_str(&garbage_param(rng));
        path.push_str("=%zz");
    }
    let mut content_type = "application/json";
    let body: Vec<u8> = match kind {
        0 => rng.some_bytes(4_096),
        1 => {
            // Above the default 2 MiB body limit; now and then above the declarations'
            // own (documents of 10 MiB).
            let size = if rng.below(50) == 0 {
                ABOVE_EVERY_LIMIT
            } else {
                3 << 20
            };
            let mut body = b"{\"a\":\"".to_vec();
            body.resize(size, b'x');
            body.extend_from_slice(b"\"}");
            body
        }
        2 => {
            let depth = 1_000 + rng.below(200_000);
            let mut body = "[".repeat(depth).into_bytes();
            if rng.below(2) == 0 {
                body.extend(std::iter::repeat_n(b']', depth));
            }
            body
        }
        3 => {
            let mut object = serde_json::Map::new();
            for (name, declared) in &route.fields {
                object.insert(name.clone(), wrong_value(declared, rng));
            }
            serde_json::Value::Object(object).to_string().into_bytes()
        }
        4 => {
            content_type = *rng.pick(&[
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/xml",
                "application/json; charset=ebcdic",
                "",
            ]);
            b"{\"username\":\"a\"}".to_vec()
        }
        5 => {
            let mut body = b"{\"name\":\"".to_vec();
            body.extend_from_slice(&[0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]);
            body.extend_from_slice(b"\"}");
            body
        }
        6 => b"{}".to_vec(),
        _ => random_json(rng, 0).to_string().into_bytes(),
    };
    // Signing out would end the session the flood's other requests use.
    let signed_in = user.filter(|_| {
        rng.below(2) == 0 && !(route.method == "DELETE" && route.path == "/api/v1/session")
    });
    let what = format!(
        "{} {} ({}, {} bytes{})",
        route.method,
        route.path,
        HTTP_KINDS[kind],
        body.len(),
        if signed_in.is_some() {
            ", signed in"
        } else {
            ""
        }
    );
    let outcome = match tokio::time::timeout(
        ANSWER_WITHIN,
        send_http(addr, &route.method, &path, content_type, signed_in, body),
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failed("no answer in time".to_owned()),
    };
    Answer {
        http: true,
        get: route.method == "GET",
        kind: HTTP_KINDS[kind],
        what,
        outcome,
    }
}

fn random_json(rng: &mut Rng, depth: u32) -> serde_json::Value {
    use serde_json::json;
    match if depth > 3 {
        rng.below(4)
    } else {
        rng.below(6)
    } {
        0 => json!(null),
        1 => json!(rng.bits() as i64),
        2 => json!(random_text(rng)),
        3 => json!(rng.below(2) == 0),
        4 => serde_json::Value::Array(
            (0..rng.below(5))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => serde_json::Value::Object(
            (0..rng.below(5))
                .map(|i| (format!("k{i}"), random_json(rng, depth + 1)))
                .collect(),
        ),
    }
}

/// One HTTP/1.1 request on its own connection; the status, or why there was none.
async fn send_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    user: Option<&crate::http::User>,
    body: Vec<u8>,
) -> Outcome {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return Outcome::Failed("connect".to_owned());
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if let Some(user) = user {
        head.push_str(&format!(
            "Cookie: {}\r\nX-CSRF-Token: {}\r\n",
            user.cookie, user.csrf
        ));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    // The server may answer (413) and close before reading a large body: a failed
    // write is no failure if a status came back.
    let _ = stream.write_all(&request).await;
    let mut first = Vec::new();
    let mut chunk = [0u8; 1024];
    while !first.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => first.extend_from_slice(&chunk[..n]),
        }
    }
    let line = String::from_utf8_lossy(&first);
    match line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
    {
        Some(status) => Outcome::Http(status),
        None => Outcome::Failed(format!("no HTTP status: {:?}", line.lines().next())),
    }
}
