//! Open311 GeoReport v2 on the gateway, over the whole stack: a report filed by a
//! client application with its API key is registered in the protocol register, becomes
//! the URP back office's work on the service charter's clock, is replied to and reads
//! "closed" with the reply over Open311; bad input gets Open311's precise error and
//! writes nothing. Every fixture of the specification and every response of the real
//! gateway is held to the JSON Schemas in `services/gateway/open311/schema/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use serde_json::{Value, json};
use sportello_gateway::{config::DEMO_MUNICIPALITY, demo};
use sportello_kit::{CallContext, Role, testing::exchange};
use sportello_proto::urp::v1::{
    GetReportRequest, ReplyOutcome, ReplyToReportRequest,
    report_service_client::ReportServiceClient,
};
use sportello_tests::{
    http::{self, Api},
    stack::Stack,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OPEN311: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../services/gateway/open311");

/// The schema `name` (`requests`, `errors`, …).
fn validator(name: &str) -> jsonschema::Validator {
    let path = format!("{OPEN311}/schema/{name}.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Fails, naming every violation, unless `value` meets the schema `name`.
fn assert_meets(name: &str, value: &Value) {
    let errors: Vec<String> = validator(name)
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{value:#}");
}

#[test]
fn every_example_of_the_specification_meets_its_schema() {
    for (schema, fixture) in [
        ("services", "services"),
        ("service_definition", "service_definition"),
        ("request_created", "request_created"),
        ("tokens", "tokens"),
        ("requests", "requests"),
        ("requests", "request"),
        ("errors", "errors"),
    ] {
        let path = format!("{OPEN311}/fixtures/{fixture}.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_meets(schema, &serde_json::from_str(&text).unwrap());
    }
    // The schemas refuse what the specification rules out.
    let refused = [
        (
            "requests",
            json!([{"service_request_id": "1", "status": "pending",
            "service_code": "a", "requested_datetime": "2010-04-14T06:37:38-08:00"}]),
        ),
        (
            "requests",
            json!([{"service_request_id": "1", "status": "open",
            "service_code": "a", "requested_datetime": "2010-04-14 06:37"}]),
        ),
        (
            "request_created",
            json!([{"service_request_id": "1", "token": "t"}]),
        ),
        (
            "services",
            json!([{"service_code": "a", "service_name": "A", "metadata": false,
            "type": "sometimes"}]),
        ),
        ("errors", json!([])),
        ("errors", json!({"code": 400, "description": "x"})),
    ];
    for (schema, value) in refused {
        assert!(!validator(schema).is_valid(&value), "{schema} took {value}");
    }
}

/// `application/x-www-form-urlencoded`, as Open311 clients send it.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// One request with `content_type`; returns the status, the content type and the body.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: \
         {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// The gateway's Open311 API, every answer checked against its schema.
struct Open311 {
    addr: SocketAddr,
}

impl Open311 {
    /// GETs `path`; expects `status` and the schema `schema` (or Open311's errors).
    async fn get(&self, path: &str, status: u16, schema: &str) -> Value {
        let (got, _, body) = send(self.addr, "GET", path, "text/plain", "").await;
        self.check(path, got, status, schema, &body)
    }

    /// POSTs the form `pairs` to `requests.json`.
    async fn post(&self, pairs: &[(&str, &str)], status: u16) -> Value {
        let (got, _, body) = send(
            self.addr,
            "POST",
            "/open311/v2/requests.json",
            "application/x-www-form-urlencoded; charset=utf-8",
            &form(pairs),
        )
        .await;
        self.check("POST requests.json", got, status, "request_created", &body)
    }

    fn check(&self, what: &str, got: u16, status: u16, schema: &str, body: &str) -> Value {
        assert_eq!(got, status, "{what}: {body}");
        let value: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
        let schema = if (200..300).contains(&got) {
            schema
        } else {
            "errors"
        };
        assert_meets(schema, &value);
        if schema == "errors" {
            for error in value.as_array().unwrap() {
                assert_eq!(error["code"].as_u64(), Some(u64::from(got)), "{value}");
            }
        }
        value
    }

    /// Expects one error of `status` whose description starts with `prefix`; returns it.
    async fn error(
        &self,
        method: &str,
        path: &str,
        body: &str,
        status: u16,
        prefix: &str,
    ) -> String {
        let (got, _, text) = send(
            self.addr,
            method,
            path,
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
        let value = self.check(&format!("{method} {path}"), got, status, "errors", &text);
        let description = value[0]["description"].as_str().unwrap().to_owned();
        assert!(
            description.starts_with(prefix),
            "{method} {path}: {description}"
        );
        description
    }
}

struct Desk {
    stack: Stack,
    api: Api,
    open311: Open311,
    key: String,
}

/// The whole stack on Friday 6 November 2026, 10:00 in Rome, with the demo's accounts
/// and report categories, and a key issued by the administrator for "FixMyStreet".
async fn desk() -> Desk {
    let stack = Stack::start().await;
    stack.ctx.clock.set("2026-11-06T09:00:00Z".parse().unwrap());
    let db = stack.gateway.running.db().clone();
    demo::seed(
        &db,
        stack.service("routing").channel().await,
        DEMO_MUNICIPALITY,
        http::DEMO_PASSWORD,
    )
    .await
    .unwrap();
    demo::seed_urp(stack.service("urp").channel().await, DEMO_MUNICIPALITY)
        .await
        .unwrap();
    let addr = stack.gateway.running.http_addr.unwrap();
    let api = Api { addr };
    let admin = api.sign_in("admin").await;
    let issued = api
        .expect(
            201,
            "POST",
            "/api/v1/admin/open311-keys",
            &admin,
            Some(json!({"application": "FixMyStreet La Spezia"})),
        )
        .await;
    let key = issued["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("o311_"));
    // Kept as its hash only.
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from open311_keys where application = 'FixMyStreet La Spezia'
         and key_sha256 = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&key)
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(stored, 1);
    Desk {
        open311: Open311 { addr },
        stack,
        api,
        key,
    }
}

impl Desk {
    fn pool(&self) -> &sqlx::PgPool {
        self.stack.service("urp").running.db().pool()
    }

    /// URP's timers and outbox, and the work between URP and routing.
    async fn work_flows(&self) {
        let urp = self.stack.service("urp");
        urp.running.workers.timers.run_once().await.unwrap();
        exchange(&[
            (self.stack.service("routing"), "work-urp"),
            (urp, "urp-work"),
        ])
        .await;
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
            .fetch_one(self.pool())
            .await
            .unwrap()
    }
}

/// The URP back office (Elena Azzurri's account), as the gateway asserts her.
fn urp_back_office() -> CallContext {
    CallContext::new(
        "gateway",
        "operator:bo.azzurri",
        "011015",
        "urp.report.reply",
    )
    .unwrap()
    .with_roles(&[Role::BackOffice])
    .with_department(Some("urp"))
}

#[tokio::test]
async fn a_report_filed_over_open311_is_registered_worked_on_the_charters_clock_replied_and_closed()
{
    let desk = desk().await;
    let o = &desk.open311;

    // What may be reported, and under which code.
    let services = o.get("/open311/v2/services.json", 200, "services").await;
    let codes: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service_code"].as_str().unwrap())
        .collect();
    for code in [
        "strade.buca",
        "illuminazione.lampione_spento",
        "servizi.reclamo",
    ] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    let definition = o
        .get(
            "/open311/v2/services/strade.buca.json?jurisdiction_id=011015",
            200,
            "service_definition",
        )
        .await;
    assert_eq!(definition["service_code"], "strade.buca");

    // Filed as FixMyStreet would: its own attributes too, which are not ours to refuse.
    let filed = o
        .post(
            &[
                ("api_key", &desk.key),
                ("jurisdiction_id", "011015"),
                ("service_code", "strade.buca"),
                ("lat", "44.10253"),
                ("long", "9.82415"),
                ("address_string", "Via del Prione 12, La Spezia"),
                ("email", "mario.rossi@example.org"),
                ("first_name", "Mario"),
                ("last_name", "Rossi"),
                ("phone", "333 1234567"),
                ("device_id", "tt222111"),
                ("account_id", "123456"),
                (
                    "description",
                    "Buca profonda davanti al civico 12, pericolosa per i motorini.",
                ),
                ("media_url", "https://example.org/foto/buca.jpg"),
                ("attribute[fixmystreet_id]", "42"),
            ],
            200,
        )
        .await;
    let code = filed[0]["service_request_id"].as_str().unwrap().to_owned();
    assert_eq!(code, "2026-000001");
    // 30 days from Friday 6 November end on Sunday 6 December: due Monday the 7th.
    assert!(
        filed[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains("2026-12-07"),
        "{filed}"
    );

    // Registered in the protocol register at once; the client app is its source.
    let mut reports = ReportServiceClient::new(desk.stack.service("urp").channel().await);
    let report = reports
        .get_report(urp_back_office().request(GetReportRequest {
            municipality_istat_code: "011015".into(),
            code_or_id: code.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .report
        .unwrap();
    assert!(!report.protocol_number.is_empty());
    let registered: i64 = sqlx::query_scalar("select count(*) from routing.registrations")
        .fetch_one(desk.pool())
        .await
        .unwrap();
    assert_eq!(registered, 1);
    let (source, filed_by): (String, String) =
        sqlx::query_as("select source, filed_by from reports where code = $1")
            .bind(&code)
            .fetch_one(desk.pool())
            .await
            .unwrap();
    assert_eq!(source, "FixMyStreet La Spezia");
    assert!(filed_by.starts_with("open311:"), "{filed_by}");

    // Open, with the protocol number, the office and the charter's day.
    let open = o
        .get(
            &format!("/open311/v2/requests/{code}.json"),
            200,
            "requests",
        )
        .await;
    let request = &open[0];
    assert_eq!(request["status"], "open");
    assert!(
        request["status_notes"]
            .as_str()
            .unwrap()
            .contains(&report.protocol_number)
    );
    assert_eq!(request["agency_responsible"], "Manutenzione strade");
    assert_eq!(request["requested_datetime"], "2026-11-06T10:00:00+01:00");
    assert_eq!(request["expected_datetime"], "2026-12-07T23:59:59+01:00");
    assert_eq!(request["lat"], 44.10253);
    assert_eq!(request["address"], "Via del Prione 12, La Spezia");
    assert_eq!(request["media_url"], "https://example.org/foto/buca.jpg");
    // The public view: nobody's name, address or phone.
    let text = open.to_string();
    for personal in ["Rossi", "mario.rossi@example.org", "1234567"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }

    // The token is the report's id.
    let token = o
        .get(
            &format!("/open311/v2/tokens/{}.json", report.id),
            200,
            "tokens",
        )
        .await;
    assert_eq!(
        token,
        json!([{"service_request_id": code, "token": report.id}])
    );

    // The URP back office's work, on the charter's clock.
    desk.work_flows().await;
    let (state, due): (String, Option<jiff_sqlx::Date>) = sqlx::query_as(
        "select state, due_date from routing.work_items where service_code = 'urp.report_reply'",
    )
    .fetch_one(desk.pool())
    .await
    .unwrap();
    assert_eq!(state, "waiting");
    assert_eq!(due.unwrap().to_jiff().to_string(), report.due_date);
    assert_eq!(report.due_date, "2026-12-07");

    // Five days later the office replies.
    desk.stack
        .ctx
        .clock
        .advance(jiff::SignedDuration::from_hours(24 * 5));
    let reply = "La buca è stata chiusa dalla squadra di manutenzione l'11 novembre.";
    reports
        .reply_to_report(urp_back_office().request(ReplyToReportRequest {
            report_id: report.id.clone(),
            text: reply.into(),
            outcome: ReplyOutcome::Resolved as i32,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
        }))
        .await
        .unwrap();
    desk.work_flows().await;
    let state: String = sqlx::query_scalar(
        "select state from routing.work_items where service_code = 'urp.report_reply'",
    )
    .fetch_one(desk.pool())
    .await
    .unwrap();
    assert_eq!(state, "completed");

    // Closed over Open311, the reply in status_notes.
    let closed = o
        .get(
            &format!("/open311/v2/requests/{code}.json?jurisdiction_id=011015"),
            200,
            "requests",
        )
        .await;
    assert_eq!(closed[0]["status"], "closed");
    assert!(
        closed[0]["status_notes"].as_str().unwrap().contains(reply),
        "{closed}"
    );
    assert_eq!(closed[0]["updated_datetime"], "2026-11-11T10:00:00+01:00");

    // The list, with the specification's filters.
    let listed = o
        .get("/open311/v2/requests.json?status=closed", 200, "requests")
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let none = o
        .get("/open311/v2/requests.json?status=open", 200, "requests")
        .await;
    assert_eq!(none, json!([]));
    let by_code = o
        .get(
            &format!("/open311/v2/requests.json?service_request_id={code},2026-000099"),
            200,
            "requests",
        )
        .await;
    assert_eq!(by_code[0]["service_request_id"], code.as_str());
    let other_service = o
        .get(
            "/open311/v2/requests.json?service_code=rifiuti.abbandono,verde.potatura",
            200,
            "requests",
        )
        .await;
    assert_eq!(other_service, json!([]));
    let in_range = o
        .get(
            "/open311/v2/requests.json?service_code=strade.buca&start_date=2026-11-01T00:00:00Z\
             &end_date=2026-11-30T00:00:00%2B01:00",
            200,
            "requests",
        )
        .await;
    assert_eq!(in_range.as_array().unwrap().len(), 1);

    // A revoked key writes nothing more (the administrator signs in again: five days
    // have passed).
    let admin = desk.api.sign_in("admin").await;
    let keys = desk
        .api
        .expect(200, "GET", "/api/v1/admin/open311-keys", &admin, None)
        .await;
    let id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
    desk.api
        .expect(
            200,
            "DELETE",
            &format!("/api/v1/admin/open311-keys/{id}"),
            &admin,
            None,
        )
        .await;
    o.error(
        "POST",
        "/open311/v2/requests.json",
        &form(&[
            ("api_key", &desk.key),
            ("service_code", "strade.buca"),
            ("address_string", "Via Chiodo 1"),
            ("description", "Un'altra buca, più piccola."),
        ]),
        403,
        "api_key non valida o revocata",
    )
    .await;
    assert_eq!(desk.count("reports").await, 1);
    desk.stack.assert_nats_refused_nothing();
}

#[tokio::test]
async fn bad_input_gets_open311s_precise_error_and_writes_nothing() {
    let desk = desk().await;
    let o = &desk.open311;
    let key = desk.key.as_str();
    let pothole = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = vec![
            ("api_key", key),
            (
                "description",
                "Buca profonda davanti al civico 12, pericolosa.",
            ),
        ];
        pairs.extend_from_slice(extra);
        form(&pairs)
    };
    let post = "/open311/v2/requests.json";

    // No key, a wrong key: 403.
    o.error(
        "POST",
        post,
        &form(&[
            ("service_code", "strade.buca"),
            ("lat", "44.1"),
            ("long", "9.8"),
        ]),
        403,
        "api_key mancante",
    )
    .await;
    o.error(
        "POST",
        post,
        &form(&[
            ("api_key", "o311_0000"),
            ("service_code", "strade.buca"),
            ("lat", "44.1"),
            ("long", "9.8"),
        ]),
        403,
        "api_key non valida",
    )
    .await;
    // No service code: 400, naming it.
    o.error(
        "POST",
        post,
        &pothole(&[("lat", "44.1"), ("long", "9.8")]),
        400,
        "service_code: obbligatorio",
    )
    .await;
    // A pothole needs a place: URP's error, under the parameters the client sends.
    let description = o
        .error(
            "POST",
            post,
            &pothole(&[("service_code", "strade.buca")]),
            400,
            "lat/long, address_string: la categoria strade.buca richiede il luogo",
        )
        .await;
    assert!(
        description.contains(" / category strade.buca needs a location"),
        "{description}"
    );
    // An unknown service code: 404, with the active ones named.
    let description = o
        .error(
            "POST",
            post,
            &pothole(&[
                ("service_code", "strade.voragine"),
                ("lat", "44.1"),
                ("long", "9.8"),
            ]),
            404,
            "service_code: categoria strade.voragine sconosciuta",
        )
        .await;
    assert!(description.contains("strade.buca"), "{description}");
    // Half a point, a point that is not a number.
    o.error(
        "POST",
        post,
        &pothole(&[("service_code", "strade.buca"), ("lat", "44.1")]),
        400,
        "long: ",
    )
    .await;
    o.error(
        "POST",
        post,
        &pothole(&[
            ("service_code", "strade.buca"),
            ("lat", "nord"),
            ("long", "9.8"),
        ]),
        400,
        "lat: ",
    )
    .await;
    // Another municipality.
    o.error(
        "POST",
        post,
        &pothole(&[
            ("service_code", "strade.buca"),
            ("address_string", "Via Roma 1"),
            ("jurisdiction_id", "011027"),
        ]),
        404,
        "jurisdiction_id: 011027 sconosciuto",
    )
    .await;
    // A description too short for URP.
    o.error(
        "POST",
        post,
        &form(&[
            ("api_key", key),
            ("service_code", "strade.buca"),
            ("address_string", "Via Roma 1"),
            ("description", "buca"),
        ]),
        400,
        "description: almeno 10 caratteri",
    )
    .await;

    // Nothing registered, stored or emitted.
    assert_eq!(desk.count("reports").await, 0);
    assert_eq!(desk.count("outbox").await, 0);
    assert_eq!(desk.count("routing.registrations").await, 0);

    // Reading: errors in the same format.
    o.error(
        "GET",
        "/open311/v2/services.json?jurisdiction_id=011027",
        "",
        404,
        "jurisdiction_id: ",
    )
    .await;
    o.error(
        "GET",
        "/open311/v2/services/strade.voragine.json",
        "",
        404,
        "service_code: ",
    )
    .await;
    o.error(
        "GET",
        "/open311/v2/requests/2026-999999.json",
        "",
        404,
        "segnalazione 2026-999999 non trovata",
    )
    .await;
    o.error(
        "GET",
        "/open311/v2/requests/buca.json",
        "",
        404,
        "service_request_id: buca",
    )
    .await;
    o.error(
        "GET",
        "/open311/v2/tokens/2026-000001.json",
        "",
        404,
        "token: ",
    )
    .await;
    o.error(
        "GET",
        "/open311/v2/requests.json?status=pending",
        "",
        400,
        "status: ",
    )
    .await;
    o.error(
        "GET",
        "/open311/v2/requests.json?start_date=ieri",
        "",
        400,
        "start_date: ",
    )
    .await;
    o.error(
        "GET",
        "/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-11-01T00:00:00Z",
        "",
        400,
        "start_date, end_date: l'intervallo non può superare 90 giorni",
    )
    .await;
    o.error("PUT", post, "", 405, "metodo non ammesso").await;
    o.error(
        "GET",
        "/open311/v2/discovery.json",
        "",
        404,
        "risorsa Open311 inesistente",
    )
    .await;
    // XML is not served: Open311's XML error says so.
    let (status, content_type, body) = send(
        desk.stack.gateway.running.http_addr.unwrap(),
        "GET",
        "/open311/v2/requests.xml",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(status, 400);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    assert!(
        body.contains("<errors>") && body.contains("solo in JSON"),
        "{body}"
    );
    let (status, _, body) = send(
        desk.stack.gateway.running.http_addr.unwrap(),
        "GET",
        "/open311/v2/services/strade.buca.xml",
        "text/plain",
        "",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.starts_with("<?xml"), "{body}");

    // A complaint needs no place; it is filed, and never listed.
    let filed = o
        .post(
            &[
                ("api_key", key),
                ("service_code", "servizi.reclamo"),
                (
                    "description",
                    "Allo sportello mi hanno fatto aspettare due ore senza motivo.",
                ),
            ],
            200,
        )
        .await;
    assert_eq!(filed[0]["service_request_id"], "2026-000001");
    let listed = o.get("/open311/v2/requests.json", 200, "requests").await;
    assert_eq!(listed, json!([]), "complaints are not public");
}
