//! A minimal HTTP/1.1 client, enough for tests to read the gateway's JSON and pages and
//! to call its API as a signed-in account.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// GETs `path` from `addr`; returns the status code and the body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
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

/// An HTTP response: status, headers (lowercase names) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request with `headers` and an optional JSON `body`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Response {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status code");
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
    Response {
        status,
        headers,
        body,
    }
}

/// The demo accounts' password (the gateway's demo seed, as `make run` has it).
pub const DEMO_PASSWORD: &str = "demo-sportello";

/// The gateway's REST API at `addr`, as a signed-in browser calls it.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// The gateway's HTTP address.
    pub addr: SocketAddr,
}

/// A signed-in account: its cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct User {
    /// `name=value` of the session cookie.
    pub cookie: String,
    /// The CSRF token sent back on writes.
    pub csrf: String,
}

impl Api {
    /// Signs `username` in with the demo password; panics (in a test) if refused.
    #[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    pub async fn sign_in(&self, username: &str) -> User {
        let reply = self
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(serde_json::json!({"username": username, "password": DEMO_PASSWORD})),
            )
            .await;
        assert_eq!(reply.status, 200, "{username} signs in: {}", reply.body);
        User {
            cookie: reply
                .header("set-cookie")
                .and_then(|c| c.split(';').next())
                .expect("a session cookie")
                .to_owned(),
            csrf: reply.json()["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// One call, as `user` when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        user: Option<&User>,
        body: Option<serde_json::Value>,
    ) -> Response {
        let mut headers = Vec::new();
        if let Some(user) = user {
            headers.push(("Cookie", user.cookie.as_str()));
            headers.push(("X-CSRF-Token", user.csrf.as_str()));
        }
        request(self.addr, method, path, &headers, body.as_ref()).await
    }

    /// Calls as `user` and expects `status`; returns the JSON body.
    #[allow(clippy::panic)]
    pub async fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        user: &User,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let reply = self.call(method, path, Some(user), body).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        reply.json()
    }
}
