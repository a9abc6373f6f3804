//! The gateway holds under abuse (issue 19, point 2): sign-in failures slow down per
//! account and per source, never the whole municipality, and a forged `X-Forwarded-For`
//! does not escape them; a password change ends the other sessions; the status page's
//! details are for operations staff; calling-board streams are capped and end at
//! shutdown, so a rolling restart drains with boards open.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{net::SocketAddr, time::Duration};

use serde_json::json;
use sportello_gateway::{
    config::{DEMO_MUNICIPALITY, WebConfig},
    demo,
};
use sportello_tests::{
    http::{self, Api, User},
    stack::Stack,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const PASSWORD: &str = http::DEMO_PASSWORD;
const SITE: &str = "palazzo-civico";

async fn stack_with(web: WebConfig) -> (Stack, Api) {
    let stack = Box::pin(Stack::start_with(web)).await;
    let db = stack.gateway.running.db().clone();
    let routing = stack.service("routing").channel().await;
    demo::seed(&db, routing, DEMO_MUNICIPALITY, PASSWORD)
        .await
        .expect("demo seeded");
    let addr = stack.gateway.running.http_addr.expect("HTTP");
    (stack, Api { addr })
}

async fn sign_in_as(api: &Api, username: &str, password: &str, xff: &str) -> http::Response {
    let body = json!({"username": username, "password": password});
    http::request(
        api.addr,
        "POST",
        "/api/v1/session",
        &[("X-Forwarded-For", xff)],
        Some(&body),
    )
    .await
}

#[tokio::test]
async fn failures_slow_down_per_account_and_per_source_and_forged_headers_do_not_help() {
    let (_stack, api) = Box::pin(stack_with(WebConfig::default())).await;
    // One account: three free failures, then waits that double (a hash may take longer
    // than the first wait on a loaded machine: the doubling catches up), whatever
    // address the client claims.
    let mut failures = 0;
    let wait: u64 = loop {
        let xff = format!("198.51.100.{failures}");
        let reply = sign_in_as(&api, "poli.bianchi", "not the password", &xff).await;
        if reply.status == 429 {
            break reply.header("retry-after").unwrap().parse().unwrap();
        }
        assert_eq!(reply.status, 401, "{}", reply.body);
        failures += 1;
        assert!(failures <= 12, "never slowed down");
    };
    assert!(
        failures >= 4,
        "three failures are free, and one more: {failures}"
    );
    // Even the right password waits.
    let reply = sign_in_as(&api, "poli.bianchi", PASSWORD, "198.51.100.99").await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    // No global lockout: another account signs in at once.
    api.sign_in("poli.verdi").await;
    // After the wait, the right password works and forgets the failures.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let reply = sign_in_as(&api, "poli.bianchi", PASSWORD, "198.51.100.1").await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // One source spraying many accounts (no trusted proxy: X-Forwarded-For is ignored,
    // each attempt claims another address) is slowed down as a whole.
    let mut refused = None;
    for n in 0..80 {
        let reply = sign_in_as(
            &api,
            &format!("spray.{n}"),
            "Password1234",
            &format!("203.0.113.{n}"),
        )
        .await;
        if reply.status == 429 {
            refused = Some(n);
            break;
        }
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    let refused = refused.expect("the source is slowed down");
    assert!(
        refused > 10,
        "an office behind one NAT has room: refused at {refused}"
    );
    let reply = sign_in_as(&api, "info.rossi", PASSWORD, "192.0.2.1").await;
    assert_eq!(reply.status, 429, "the same source waits for any account");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_counted() {
    let web = WebConfig {
        trusted_proxies: "127.0.0.0/8,::1".parse().unwrap(),
        ..WebConfig::default()
    };
    let (_stack, api) = Box::pin(stack_with(web)).await;
    // One client behind the proxy sprays until slowed down…
    let mut slowed = false;
    for n in 0..80 {
        let reply = sign_in_as(
            &api,
            &format!("spray.{n}"),
            "Password1234",
            "6.6.6.6, 203.0.113.50",
        )
        .await;
        if reply.status == 429 {
            slowed = true;
            break;
        }
    }
    assert!(slowed);
    // …and another client behind the same proxy signs in at once.
    let reply = sign_in_as(&api, "info.rossi", PASSWORD, "203.0.113.51").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn next_after_sign_in_is_only_a_path_of_this_site() {
    let (_stack, api) = Box::pin(stack_with(WebConfig::default())).await;
    for (next, expected) in [
        ("/console?x=1", Some("/console?x=1")),
        ("//evil.example/", None),
        ("/\\evil.example", None),
        ("https://evil.example/", None),
        ("/\t/evil.example", None),
    ] {
        let body = json!({"username": "poli.verdi", "password": PASSWORD, "next": next});
        let reply = http::request(api.addr, "POST", "/api/v1/session", &[], Some(&body)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["next"].as_str(), expected, "{next:?}");
    }
}

fn account_body(password: &str, roles: &[&str]) -> serde_json::Value {
    json!({"display_name": "Account di prova", "password": password, "roles": roles, "active": true})
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let (_stack, api) = Box::pin(stack_with(WebConfig::default())).await;
    let here = api.sign_in("admin").await;
    let elsewhere = api.sign_in("admin").await;
    let verdi_1 = api.sign_in("poli.verdi").await;
    let verdi_2 = api.sign_in("poli.verdi").await;

    // The administrator changes their own password: this session stays, the other ends.
    api.expect(
        200,
        "PATCH",
        "/api/v1/admin/accounts/admin",
        &here,
        Some(account_body("a new password for admin", &["admin"])),
    )
    .await;
    let alive = |user: User| async move {
        api.call("GET", "/api/v1/session", Some(&user), None)
            .await
            .status
    };
    assert_eq!(alive(here.clone()).await, 200);
    assert_eq!(alive(elsewhere).await, 401);

    // A reset of another's password ends all of that account's sessions.
    api.expect(
        200,
        "PATCH",
        "/api/v1/admin/accounts/poli.verdi",
        &here,
        Some(account_body("a new password for verdi", &["polivalente"])),
    )
    .await;
    assert_eq!(alive(verdi_1).await, 401);
    assert_eq!(alive(verdi_2).await, 401);
    // Changing something else ends nothing.
    let verdi = sign_in_as(&api, "poli.verdi", "a new password for verdi", "").await;
    assert_eq!(verdi.status, 200, "{}", verdi.body);
    let verdi = User {
        cookie: verdi
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned(),
        csrf: verdi.json()["csrf_token"].as_str().unwrap().to_owned(),
    };
    api.expect(
        200,
        "PATCH",
        "/api/v1/admin/accounts/poli.verdi",
        &here,
        Some(account_body("", &["polivalente"])),
    )
    .await;
    assert_eq!(alive(verdi).await, 200);
}

#[tokio::test]
async fn the_status_details_are_for_operations_staff_only() {
    let (_stack, api) = Box::pin(stack_with(WebConfig::default())).await;
    let public = api.call("GET", "/api/v1/status", None, None).await;
    assert_eq!(public.status, 200);
    assert_eq!(public.json(), json!({"all_serving": true}));
    let page = api.call("GET", "/stato", None, None).await;
    assert!(page.body.contains("Tutti i servizi sono in servizio"));
    assert!(
        !page.body.contains("routing") && !page.body.contains("https://"),
        "{}",
        page.body
    );

    let operator = api.sign_in("poli.verdi").await;
    let reply = api
        .call("GET", "/api/v1/status", Some(&operator), None)
        .await;
    assert!(
        reply.json().get("services").is_none(),
        "an operator is not operations staff"
    );

    let admin = api.sign_in("admin").await;
    let reply = api.call("GET", "/api/v1/status", Some(&admin), None).await;
    assert_eq!(
        reply.json()["services"].as_array().unwrap().len(),
        7,
        "{}",
        reply.body
    );
    let page = api.call("GET", "/stato", Some(&admin), None).await;
    assert!(
        page.body.contains("<table id=\"services\""),
        "{}",
        page.body
    );
}

/// An open board stream: the raw text read so far.
struct BoardStream {
    stream: TcpStream,
    text: String,
}

impl BoardStream {
    /// Opens `/api/v1/sites/{site}/board/events`; returns the status and, on 200, the
    /// stream; otherwise the whole response text.
    async fn open(addr: SocketAddr, site: &str) -> Result<Self, String> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET /api/v1/sites/{site}/board/events HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut board = Self {
            stream,
            text: String::new(),
        };
        board.read_until("\r\n\r\n").await;
        if board.text.starts_with("HTTP/1.1 200") {
            Ok(board)
        } else {
            // The refusal's body, with Connection: keep-alive: read what is there.
            let _ = tokio::time::timeout(Duration::from_millis(300), board.read_some()).await;
            Err(board.text)
        }
    }

    async fn read_some(&mut self) -> usize {
        let mut buf = [0u8; 4096];
        let n = self.stream.read(&mut buf).await.unwrap_or(0);
        self.text.push_str(&String::from_utf8_lossy(&buf[..n]));
        n
    }

    /// Reads until `needle` appears (within 10 s).
    async fn read_until(&mut self, needle: &str) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !self.text.contains(needle) {
                assert!(
                    self.read_some().await > 0,
                    "closed before {needle:?}: {}",
                    self.text
                );
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} within 10 s: {}", self.text));
    }

    /// Reads until the server closes the connection.
    async fn read_to_end(&mut self) {
        while self.read_some().await > 0 {}
    }
}

#[tokio::test]
async fn board_streams_are_capped_per_site_and_share_one_board() {
    let web = WebConfig {
        board_max_streams: 10,
        board_max_streams_per_site: 2,
        ..WebConfig::default()
    };
    let (stack, api) = Box::pin(stack_with(web)).await;
    let mut first = BoardStream::open(api.addr, SITE).await.unwrap();
    let mut second = BoardStream::open(api.addr, SITE).await.unwrap();
    first.read_until("event: queues").await;
    second.read_until("event: queues").await;
    let refused = BoardStream::open(api.addr, SITE)
        .await
        .err()
        .expect("over the cap");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after:"),
        "{refused}"
    );
    // Another site has its own places.
    let mut other = BoardStream::open(api.addr, "via-costantini").await.unwrap();
    other.read_until("event: queues").await;
    // An unknown site is 404, not a place taken.
    let unknown = BoardStream::open(api.addr, "nowhere").await.err().unwrap();
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");

    // A ticket issued: both screens of the site hear the new queues from the one board.
    let kiosk = api.sign_in("totem.civico").await;
    let services = api
        .call("GET", &format!("/api/v1/sites/{SITE}/services"), None, None)
        .await
        .json();
    let service = services["services"][0]["code"].as_str().unwrap().to_owned();
    let reply = api
        .call(
            "POST",
            &format!("/api/v1/sites/{SITE}/tickets"),
            Some(&kiosk),
            Some(json!({"service_codes": [service]})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    // Routing publishes the ticket's case events (its outbox, stepped in tests).
    stack
        .service("routing")
        .running
        .workers
        .relay
        .run_once()
        .await
        .expect("relay routing's outbox");
    for board in [&mut first, &mut second] {
        board.read_until("\"waiting\":1").await;
    }
    // A screen closed gives its place back.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        if let Ok(board) = BoardStream::open(api.addr, SITE).await {
            again = Some(board);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    again.expect("the closed screen's place is free again");
}

#[tokio::test]
async fn a_restart_with_a_board_open_drains_within_ten_seconds() {
    let (stack, api) = Box::pin(stack_with(WebConfig::default())).await;
    let mut board = BoardStream::open(api.addr, SITE).await.unwrap();
    board.read_until("event: queues").await;
    // The rest of the stack stays up while the gateway stops.
    let Stack {
        gateway,
        ctx: _ctx,
        services: _services,
    } = stack;
    let stopped = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(gateway.stop(), board.read_to_end())
    })
    .await;
    assert!(
        stopped.is_ok(),
        "the gateway did not drain within 10 s with a board open"
    );
    // A board trying again while the gateway is gone finds it closed.
    assert!(TcpStream::connect(api.addr).await.is_err());
}
