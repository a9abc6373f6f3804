//! The gateway's API as the load calls it: every failure is an outcome, never a panic,
//! and a call that cannot be answered (connection refused, reset, 502/503/504, 429) is
//! tried again with the same idempotency key — the documented client behaviour
//! (services/gateway/README.md: 503 with Retry-After; create calls take a key).

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::http::Response;

/// What one logical request came to after its retries.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A final answer (any status that is not worth retrying).
    Answered(Response),
    /// No final answer within the budget: the last transient status (0: no connection).
    GaveUp(u16),
}

/// Per-attempt limit: a call answered later counts as not answered.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One attempt: a connection, a request, the whole response.
pub async fn once(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&(String, String)>,
    body: Option<&serde_json::Value>,
) -> Result<Response, String> {
    tokio::time::timeout(ATTEMPT_TIMEOUT, attempt(addr, method, path, cookie, body))
        .await
        .map_err(|_| "timed out".to_owned())?
}

async fn attempt(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&(String, String)>,
    body: Option<&serde_json::Value>,
) -> Result<Response, String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((cookie, csrf)) = cookie {
        request.push_str(&format!("Cookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\n"));
    }
    if method != "GET" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| e.to_string())?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("a truncated response")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Whether a status means "not now, try again": the gateway or a service behind it was
/// unreachable or shedding load.
pub fn transient(status: u16) -> bool {
    matches!(status, 0 | 429 | 502 | 503 | 504)
}

/// A call tried again while it is transient, backing off from 100 ms to 2 s (or the
/// server's Retry-After), for at most `budget`. Counts every attempt in `attempts`.
pub async fn with_retries(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&(String, String)>,
    body: Option<&serde_json::Value>,
    budget: Duration,
    attempts: &mut u32,
) -> Outcome {
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        *attempts += 1;
        let (status, wait) = match once(addr, method, path, cookie, body).await {
            Ok(reply) if !transient(reply.status) => return Outcome::Answered(reply),
            Ok(reply) => {
                let after = reply
                    .header("retry-after")
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(Duration::from_secs);
                (
                    reply.status,
                    after.unwrap_or(delay).min(Duration::from_secs(2)),
                )
            }
            Err(_) => (0, delay),
        };
        if start.elapsed() + wait > budget {
            return Outcome::GaveUp(status);
        }
        tokio::time::sleep(wait).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
