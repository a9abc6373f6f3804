//! The gateway's API refuses what the account may not do, on the server, whatever the
//! UI shows: 401 without a session, 403 without the role, for another department or
//! another municipality, and without the CSRF token; sign-in is rate limited and its
//! cookie is HttpOnly, SameSite=Strict and Secure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sportello_gateway::{
    auth::accounts::{self, AccountInput},
    config::DEMO_MUNICIPALITY,
    demo,
};
use sportello_proto::routing::v1::{GetTicketRequest, case_service_client::CaseServiceClient};
use sportello_tests::{
    http::{self, Api, User},
    stack::{Stack, context},
};

const PASSWORD: &str = http::DEMO_PASSWORD;

async fn stack() -> (Stack, Api) {
    let stack = Stack::start().await;
    let db = stack.gateway.running.db().clone();
    let routing = stack.service("routing").channel().await;
    demo::seed(&db, routing, DEMO_MUNICIPALITY, PASSWORD)
        .await
        .expect("demo seeded");
    // An operator of another municipality (Sarzana).
    accounts::upsert_seeded(
        &db,
        "011027".parse().unwrap(),
        AccountInput {
            id: "poli.sarzana".into(),
            display_name: "Operatore di Sarzana".into(),
            password: PASSWORD.into(),
            roles: vec!["polivalente".into(), "admin".into()],
            department: None,
            active: true,
        },
    )
    .await
    .unwrap();
    let addr = stack
        .gateway
        .running
        .http_addr
        .expect("the gateway serves HTTP");
    (stack, Api { addr })
}

/// Issues a ticket for `service` at the kiosk; returns its first case's id.
async fn ticket(stack: &Stack, api: &Api, kiosk: &User, service: &str) -> String {
    let reply = api
        .call(
            "POST",
            "/api/v1/sites/palazzo-civico/tickets",
            Some(kiosk),
            Some(json!({"service_codes": [service]})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let ticket_id = reply.json()["ticket"]["id"].as_str().unwrap().to_owned();
    let mut cases = CaseServiceClient::new(stack.service("routing").channel().await);
    let ticket = cases
        .get_ticket(context("case.read").request(GetTicketRequest { ticket_id }))
        .await
        .unwrap()
        .into_inner();
    ticket.cases[0].id.clone()
}

#[tokio::test]
async fn the_api_checks_role_department_municipality_and_csrf_on_the_server() {
    let (stack, api) = stack().await;
    let kiosk = api.sign_in("totem.civico").await;
    let info = api.sign_in("info.rossi").await;
    let back_office = api.sign_in("bo.gialli").await; // anagrafe
    let tecnico = api.sign_in("tec.neri").await; // suap
    let manager = api.sign_in("resp.blu").await;
    let sarzana = api.sign_in("poli.sarzana").await;

    // No session: 401.
    assert_eq!(
        api.call("GET", "/api/v1/console", None, None).await.status,
        401
    );
    assert_eq!(
        api.call("POST", "/api/v1/console/call-next", None, None)
            .await
            .status,
        401
    );

    // Without the role: 403, whatever the UI shows.
    let enrolment = json!({
        "window_id": "01a21700-0000-7000-8000-000000000000",
        "child_fiscal_code": "RSSLCU25E10E463X",
        "applicant_fiscal_code": "RSSMRA88C02E463Y",
        "working_parents": 2,
    });
    let forbidden = [
        ("GET", "/api/v1/admin/accounts", &info, None),
        (
            "PUT",
            "/api/v1/admin/operators/info.rossi",
            &info,
            Some(json!({"display_name": "x", "tier": 4})),
        ),
        (
            "POST",
            "/api/v1/admin/sites",
            &manager,
            Some(json!({"code": "x", "name": "x", "counter_count": 1})),
        ),
        ("POST", "/api/v1/console/call-next", &kiosk, None),
        ("POST", "/api/v1/console/call-next", &manager, None),
        (
            "POST",
            "/api/v1/sites/palazzo-civico/tickets",
            &info,
            Some(json!({"service_codes": ["urp.information"]})),
        ),
        (
            "GET",
            "/api/v1/cases/01a21700-0000-7000-8000-000000000000",
            &kiosk,
            None,
        ),
        // Enrolment: the counter's and the education department's, not the information
        // desk's nor another department's; the manager reads but does not file.
        ("GET", "/api/v1/education/windows", &info, None),
        ("GET", "/api/v1/education/windows", &back_office, None),
        (
            "POST",
            "/api/v1/education/applications",
            &tecnico,
            Some(enrolment.clone()),
        ),
        (
            "POST",
            "/api/v1/education/applications",
            &manager,
            Some(enrolment.clone()),
        ),
    ];
    for (method, path, user, body) in forbidden {
        let reply = api.call(method, path, Some(user), body).await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.body);
        assert_eq!(reply.json()["error"]["code"], "PERMISSION_DENIED");
    }

    // Another department: a back-office operator of the registry may not open a SUAP
    // case, nor a SUAP technician a registry case; the manager reads both.
    let suap_case = ticket(&stack, &api, &kiosk, "suap.scia").await;
    let registry_case = ticket(&stack, &api, &kiosk, "registry.residence_certificate").await;
    let suap_path = format!("/api/v1/cases/{suap_case}");
    let registry_path = format!("/api/v1/cases/{registry_case}");
    assert_eq!(
        api.call("GET", &suap_path, Some(&back_office), None)
            .await
            .status,
        403
    );
    assert_eq!(
        api.call("GET", &registry_path, Some(&tecnico), None)
            .await
            .status,
        403
    );
    assert_eq!(
        api.call("GET", &registry_path, Some(&back_office), None)
            .await
            .status,
        200
    );
    assert_eq!(
        api.call("GET", &suap_path, Some(&manager), None)
            .await
            .status,
        200
    );
    let recall = format!("{suap_path}/recall");
    assert_eq!(
        api.call("POST", &recall, Some(&back_office), None)
            .await
            .status,
        403
    );

    // Another municipality: 403 on La Spezia's case, and its site is not even found.
    let reply = api.call("GET", &registry_path, Some(&sarzana), None).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let reply = api
        .call(
            "POST",
            &format!("{registry_path}/complete"),
            Some(&sarzana),
            Some(json!({"outcome_code": "issued"})),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let accounts = api
        .call("GET", "/api/v1/admin/accounts", Some(&sarzana), None)
        .await
        .json();
    assert_eq!(
        accounts["accounts"].as_array().unwrap().len(),
        1,
        "only Sarzana's own: {accounts}"
    );
    // La Spezia's site is not even found from Sarzana: not in its administrator's list,
    // and a Sarzana operator cannot sit at its counters (while La Spezia's admin sees it).
    let site_codes = |user| {
        let api = &api;
        async move {
            let reply = api
                .call("GET", "/api/v1/admin/sites", Some(user), None)
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            reply.json()["sites"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["code"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let admin = api.sign_in("admin").await;
    assert!(
        site_codes(&admin)
            .await
            .contains(&"palazzo-civico".to_owned())
    );
    assert_eq!(site_codes(&sarzana).await, Vec::<String>::new());
    let profile = api
        .call(
            "PUT",
            "/api/v1/admin/operators/poli.sarzana",
            Some(&sarzana),
            Some(json!({"display_name": "Operatore di Sarzana", "tier": 2, "department": "anagrafe"})),
        )
        .await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    let seat = api
        .call(
            "POST",
            "/api/v1/console/seat",
            Some(&sarzana),
            Some(json!({"site_code": "palazzo-civico", "counter_number": 1})),
        )
        .await;
    // Not even found: sites are looked up in the account's own municipality.
    assert_eq!(seat.status, 404, "{}", seat.body);
    let error = &seat.json()["error"];
    assert_eq!(error["code"], json!("NOT_FOUND"), "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("palazzo-civico"),
        "{error}"
    );

    // CSRF: a change without the token, or with another session's, is refused.
    let no_token = http::request(
        api.addr,
        "POST",
        "/api/v1/console/presence",
        &[("Cookie", info.cookie.as_str())],
        Some(&json!({"presence": "break"})),
    )
    .await;
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    assert!(
        no_token.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CSRF")
    );
    let wrong_token = http::request(
        api.addr,
        "POST",
        "/api/v1/console/presence",
        &[
            ("Cookie", info.cookie.as_str()),
            ("X-CSRF-Token", kiosk.csrf.as_str()),
        ],
        Some(&json!({"presence": "break"})),
    )
    .await;
    assert_eq!(wrong_token.status, 403);

    // Bad input is named by field.
    let reply = api
        .call(
            "POST",
            "/api/v1/console/presence",
            Some(&info),
            Some(json!({"presence": "asleep"})),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["error"]["fields"][0]["field"], "presence");
    let reply = api
        .call(
            "POST",
            "/api/v1/console/presence",
            Some(&info),
            Some(json!({"presence": null})),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(
        reply.json()["error"]["fields"][0]["field"],
        "presence",
        "{}",
        reply.body
    );

    // Signing out ends the session.
    assert_eq!(
        api.call("DELETE", "/api/v1/session", Some(&info), None)
            .await
            .status,
        204
    );
    assert_eq!(
        api.call("GET", "/api/v1/session", Some(&info), None)
            .await
            .status,
        401
    );
    // All of that with each service on its own NATS user, and nothing refused.
    stack.assert_nats_refused_nothing();
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_and_is_rate_limited() {
    let (_stack, api) = stack().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "poli.verdi", "password": PASSWORD})),
        )
        .await;
    let cookie = reply.header("set-cookie").unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!reply.body.contains("argon2"), "no hash in the reply");

    // Three failures are free, the fourth sets a first wait (gateway_abuse.rs follows
    // the doubling).
    for _ in 0..4 {
        let reply = api
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(json!({"username": "poli.bianchi", "password": "not the password"})),
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    // Now even the right password waits.
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "poli.bianchi", "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert!(reply.header("retry-after").is_some());
    // Other accounts are not held.
    api.sign_in("poli.verdi").await;
    // An unknown account answers like a wrong password.
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"username": "nobody", "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn the_openapi_document_and_the_public_pages_are_served() {
    let (_stack, api) = stack().await;
    let reply = api.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["openapi"], "3.1.0");
    let sites = api.call("GET", "/api/v1/sites", None, None).await.json();
    assert_eq!(sites["sites"].as_array().unwrap().len(), 2, "{sites}");
    let services = api
        .call("GET", "/api/v1/sites/palazzo-civico/services", None, None)
        .await
        .json();
    assert!(
        services["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "registry.family_status_certificate"),
        "{services}"
    );
    let reply = api
        .call("GET", "/api/v1/verify/AAAA-BBBB-CCCC-DDDD", None, None)
        .await
        .json();
    assert_eq!(reply["authentic"], false);
}

/// The records office (role `protocollo`, the one that reads the senders' names in the
/// protocol register, DPR 445/2000 art. 53) is an account like the others: the accounts
/// table takes the role, and its holder signs in and sees it on the session.
#[tokio::test]
async fn a_records_office_account_is_stored_and_signs_in() {
    let (stack, api) = stack().await;
    accounts::upsert_seeded(
        stack.gateway.running.db(),
        DEMO_MUNICIPALITY,
        AccountInput {
            id: "prot.spezia".into(),
            display_name: "Ufficio protocollo".into(),
            password: PASSWORD.into(),
            roles: vec!["protocollo".into()],
            department: None,
            active: true,
        },
    )
    .await
    .unwrap();
    let user = api.sign_in("prot.spezia").await;
    let reply = api.call("GET", "/api/v1/session", Some(&user), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["account"]["roles"], json!(["protocollo"]));
}

/// The demo seeder writes a known password and a published Open311 key: it refuses a
/// database holding accounts it did not make, and writes nothing there; a database it
/// seeded stays its own, whatever accounts were added since.
#[tokio::test]
async fn the_demo_seeder_refuses_a_database_with_real_accounts() {
    let stack = Stack::start().await;
    let db = stack.gateway.running.db().clone();
    let routing = stack.service("routing").channel().await;
    accounts::upsert_seeded(
        &db,
        DEMO_MUNICIPALITY,
        AccountInput {
            id: "m.verdi".into(),
            display_name: "Maria Verdi".into(),
            password: "una-password-vera-123".into(),
            roles: vec!["admin".into()],
            department: None,
            active: true,
        },
    )
    .await
    .unwrap();
    let error = demo::seed(&db, routing.clone(), DEMO_MUNICIPALITY, PASSWORD)
        .await
        .expect_err("a real account: refused");
    assert_eq!(error.kind(), sportello_kit::ErrorKind::FailedPrecondition);
    assert!(error.message().contains("1 account"), "{}", error.message());
    let (accounts_now, marked): (i64, bool) = sqlx::query_as(
        "select (select count(*) from accounts), exists (select 1 from demo_installation)",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!((accounts_now, marked), (1, false), "nothing written");

    // A database the demo seeded is the demo's: seeding again after adding an account works.
    let demo_stack = Stack::start().await;
    let demo_db = demo_stack.gateway.running.db().clone();
    let demo_routing = demo_stack.service("routing").channel().await;
    demo::seed(&demo_db, demo_routing.clone(), DEMO_MUNICIPALITY, PASSWORD)
        .await
        .unwrap();
    accounts::upsert_seeded(
        &demo_db,
        DEMO_MUNICIPALITY,
        AccountInput {
            id: "collega.prova".into(),
            display_name: "Collega di prova".into(),
            password: PASSWORD.into(),
            roles: vec!["polivalente".into()],
            department: None,
            active: true,
        },
    )
    .await
    .unwrap();
    demo::seed(&demo_db, demo_routing, DEMO_MUNICIPALITY, PASSWORD)
        .await
        .expect("the demo's own database");
}
