//! The change of residence through the gateway, with the whole stack running in-process
//! and the manual clock: the counter declares, the registry hands the address check to
//! routing's back office as work over NATS, a specialist works it in the back office, and
//! the registry's back office runs the notice of reasons against (L. 241/1990 art. 10-bis)
//! to its decision (DPR 223/1989 art. 18-bis; DL 5/2012 art. 5). The tests step the
//! relays, consumers and timers as the running workers would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::Timestamp;
use serde_json::{Value, json};
use sportello_gateway::{config::DEMO_MUNICIPALITY, demo};
use sportello_kit::{
    CallContext, Role,
    testing::{TestService, exchange},
};
use sportello_proto::registry::v1::{
    GetResidentRequest, NewAddress, RegisterResidentRequest, RegisterStreetRequest,
    RegistrationGround, Relationship, Resident, Sex,
    resident_service_client::ResidentServiceClient, street_service_client::StreetServiceClient,
};
use sportello_tests::{
    http::{self, Api, User},
    stack::Stack,
};

const PASSWORD: &str = http::DEMO_PASSWORD;
const SPEZIA: &str = "011015";
/// Mario Rossi, 1 January 1980, La Spezia (E463).
const MARIO: &str = "RSSMRA80A01E463A";
/// Maria Bianchi, 5 August 1982, Genova (D969).
const MARIA: &str = "BNCMRA82M45D969P";
/// Anna Verdi, 21 April 1975, Pisa (G702).
const ANNA: &str = "VRDNNA75D61G702A";
/// Arben Hoxha, 2 March 1985, Albania (Z100).
const ARBEN: &str = "HXHRBN85C02Z100R";

/// The registry as the counter reaches it (through the gateway's certificate).
fn counter(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:poli.bianchi", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Polivalente])
}

fn registry(stack: &Stack) -> &TestService {
    stack.service("registry")
}

/// The stack, the demo accounts, La Spezia's streets Via del Prione and Via Domenico
/// Chiodo, and the Rossi family (Mario, head, and Maria, spouse) at Via del Prione 12.
async fn desk() -> (Stack, Api, Vec<Resident>) {
    let stack = Stack::start().await;
    let routing = stack.service("routing").channel().await;
    demo::seed(
        stack.gateway.running.db(),
        routing,
        DEMO_MUNICIPALITY,
        PASSWORD,
    )
    .await
    .expect("demo seeded");
    let channel = registry(&stack).channel().await;
    let mut streets = StreetServiceClient::new(channel.clone());
    for (code, name) in [("PRIONE", "del Prione"), ("CHIODO", "Domenico Chiodo")] {
        streets
            .register_street(counter("street.register").request(RegisterStreetRequest {
                municipality_istat_code: SPEZIA.into(),
                street_code: code.into(),
                qualifier: "Via".into(),
                name: name.into(),
                postal_code: "19121".into(),
                idempotency_key: String::new(),
            }))
            .await
            .unwrap();
    }
    let mut residents = ResidentServiceClient::new(channel);
    let mut family: Vec<Resident> = Vec::new();
    for (code, surname, given, sex, birth, place) in [
        (MARIO, "Rossi", "Mario", Sex::Male, "1980-01-01", "E463"),
        (MARIA, "Bianchi", "Maria", Sex::Female, "1982-08-05", "D969"),
    ] {
        let head = family.first();
        let resident = residents
            .register_resident(
                counter("resident.register").request(RegisterResidentRequest {
                    municipality_istat_code: SPEZIA.into(),
                    fiscal_code: code.into(),
                    surname: surname.into(),
                    given_names: given.into(),
                    sex: sex as i32,
                    birth_date: birth.into(),
                    birthplace_code: place.into(),
                    citizenship: "IT".into(),
                    address: head.is_none().then(|| NewAddress {
                        street_code: "PRIONE".into(),
                        house_number: "12".into(),
                    }),
                    family_id: head.map(|h| h.family_id.clone()).unwrap_or_default(),
                    relationship: if head.is_some() {
                        Relationship::Spouse as i32
                    } else {
                        0
                    },
                    effective_date: "2020-01-01".into(),
                    idempotency_key: String::new(),
                    ground: RegistrationGround::DataLoad as i32,
                }),
            )
            .await
            .unwrap()
            .into_inner()
            .resident
            .unwrap();
        family.push(resident);
    }
    let addr = stack
        .gateway
        .running
        .http_addr
        .expect("the gateway serves HTTP");
    (stack, Api { addr }, family)
}

/// Moves the work between the registry and routing as their running workers would.
async fn hand_over(stack: &Stack) {
    exchange(&[
        (stack.service("routing"), "work-registry"),
        (registry(stack), "registry-work"),
    ])
    .await;
}

/// Moves the clock to `instant` and signs `username` in again: the days between outlast
/// any session.
async fn at(stack: &Stack, api: &Api, instant: &str, username: &str) -> User {
    stack.ctx.clock.set(instant.parse::<Timestamp>().unwrap());
    api.sign_in(username).await
}

/// The Rossi family moves to Via Domenico Chiodo 5, declared at the counter.
fn move_within() -> Value {
    json!({
        "origin": "within",
        "members": [
            {"fiscal_code": MARIO, "relationship": "head"},
            {"fiscal_code": MARIA.to_ascii_lowercase(), "relationship": "spouse"},
        ],
        "declarant": 0,
        "address": {"street_code": "CHIODO", "house_number": "5"},
        "site": "palazzo-civico",
    })
}

/// DPR 223/1989 art. 18-bis c. 1 and 2, L. 241/1990 art. 10-bis, DL 5/2012 art. 5
/// (issue 11, "Done means"): a change of residence declared through the gateway; its
/// address check is offered in the back office and fails; no rejection without a notice
/// of reasons against, which the registry registers as an OUTGOING protocol entry; its
/// receipt opens the 10-day window; the citizen's observations are recorded and rejected
/// with reasons; only then is the change rejected and the previous address restored,
/// with the appeal stated (art. 36).
#[tokio::test]
async fn a_failed_check_goes_through_the_10_bis_notice_to_rejection_art_18_bis_dpr_223_1989() {
    let (stack, api, family) = Box::pin(desk()).await;
    let desk_user = api.sign_in("poli.bianchi").await;
    let specialist = api.sign_in("bo.gialli").await; // anagrafe
    let suap = api.sign_in("tec.neri").await; // another department
    api.expect(
        200,
        "POST",
        "/api/v1/console/presence",
        &specialist,
        Some(json!({"presence": "back_office"})),
    )
    .await;

    // The specialist may not take a declaration: the counter does.
    let refused = api
        .call(
            "POST",
            "/api/v1/residence-changes",
            Some(&specialist),
            Some(move_within()),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    let declared = api
        .expect(
            201,
            "POST",
            "/api/v1/residence-changes",
            &desk_user,
            Some(move_within()),
        )
        .await;
    let change = &declared["residence_change"];
    let id = change["id"].as_str().unwrap().to_owned();
    assert_eq!(change["status"], "recorded");
    assert_eq!(change["origin"], "within");
    assert_eq!(change["next_step"], "check");
    assert_eq!(change["members"].as_array().unwrap().len(), 2);
    // The receipt: the protocol number, the day, and the 45 days (DPR 223/1989
    // art. 18-bis c. 1) by which the citizen will hear.
    let receipt = &declared["receipt"];
    assert!(!receipt["protocol_number"].as_str().unwrap().is_empty());
    assert_eq!(receipt["declared_on"], "2026-11-26");
    assert_eq!(receipt["answer_by"], change["check_due"]);
    assert_eq!(receipt["answer_by"], "2027-01-11");
    // Names and fiscal codes stay in the registry: the reply has record ids only.
    assert!(!declared.to_string().contains(MARIO));
    assert!(!declared.to_string().contains("Rossi"));

    // The address check reaches the back office as work over NATS, offered to the
    // specialist, who accepts it and completes it with check_failed.
    hand_over(&stack).await;
    let offered = api
        .expect(
            200,
            "GET",
            "/api/v1/back-office/work?view=offered",
            &specialist,
            None,
        )
        .await;
    let items = offered["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{offered}");
    assert_eq!(items[0]["origin"], "registry");
    assert_eq!(items[0]["procedure_id"], id.as_str());
    let item = items[0]["id"].as_str().unwrap().to_owned();
    api.expect(
        200,
        "POST",
        &format!("/api/v1/back-office/work/{item}/accept"),
        &specialist,
        None,
    )
    .await;
    api.expect(
        200,
        "POST",
        &format!("/api/v1/back-office/work/{item}/complete"),
        &specialist,
        Some(
            json!({"outcome_code": "check_failed", "result": {"reason": "abitazione disabitata"}}),
        ),
    )
    .await;
    hand_over(&stack).await;
    let path = format!("/api/v1/residence-changes/{id}");
    let failed = api.expect(200, "GET", &path, &specialist, None).await;
    let failed = &failed["residence_change"];
    assert_eq!(
        failed["status"], "recorded",
        "no rejection without a notice"
    );
    assert_eq!(failed["check_failure"], "abitazione disabitata");
    assert_eq!(failed["next_step"], "notice");

    // The 10-bis steps are their own item in the department's back office (issue 13):
    // the change waiting for its notice is listed, not only reachable from the check.
    let listed = api
        .expect(
            200,
            "GET",
            "/api/v1/back-office/work?view=department",
            &specialist,
            None,
        )
        .await;
    let reasons_against: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["service_code"] == "registry.residence_reasons_against")
        .collect();
    assert_eq!(reasons_against.len(), 1, "{listed}");
    assert_eq!(reasons_against[0]["procedure_id"], id.as_str());
    assert_ne!(reasons_against[0]["state"], "completed");
    let reasons_item = reasons_against[0]["id"].as_str().unwrap().to_owned();

    // The 10-bis steps are the registry office's: the counter and another department's
    // specialist are refused, and nothing is written.
    let notice = json!({"reasons": "al sopralluogo l'abitazione risultava disabitata"});
    for user in [&desk_user, &suap] {
        let reply = api
            .call(
                "POST",
                &format!("{path}/notice"),
                Some(user),
                Some(notice.clone()),
            )
            .await;
        assert_eq!(reply.status, 403, "{}", reply.body);
    }

    // The notice is sent: an OUTGOING protocol entry dated the day it is sent, within
    // the 45 days; silence-assent no longer applies.
    let specialist = at(&stack, &api, "2026-12-15T09:00:00Z", "bo.gialli").await;
    let sent = api
        .expect(
            200,
            "POST",
            &format!("{path}/notice"),
            &specialist,
            Some(notice),
        )
        .await;
    let sent = &sent["residence_change"];
    assert_eq!(sent["notice_sent_date"], "2026-12-15");
    assert!(sent["silence_assent_date"].is_null());
    assert_eq!(sent["next_step"], "receipt");
    let number = sent["notice_protocol_number"].as_str().unwrap().to_owned();
    let outgoing: Vec<(String, String)> = sqlx::query_as(
        "select kind, number::text from routing.registrations where direction = 'outgoing'",
    )
    .fetch_all(stack.service("routing").running.db().pool())
    .await
    .unwrap();
    assert_eq!(outgoing.len(), 1, "{outgoing:?}");
    assert_eq!(outgoing[0].0, "notice_of_reasons_against");
    assert!(
        number.ends_with(&outgoing[0].1),
        "{number} is the entry {outgoing:?}"
    );

    // Its receipt opens the 10-day window (L. 241/1990 art. 10-bis).
    let specialist = at(&stack, &api, "2026-12-16T10:00:00Z", "bo.gialli").await;
    let received = api
        .expect(
            200,
            "POST",
            &format!("{path}/notice-receipt"),
            &specialist,
            Some(json!({"delivery": "counter", "received_date": "2026-12-16"})),
        )
        .await;
    assert_eq!(received["residence_change"]["notice_delivery"], "counter");
    assert_eq!(
        received["residence_change"]["observations_window_end"],
        "2026-12-28"
    );

    let specialist = at(&stack, &api, "2026-12-21T10:00:00Z", "bo.gialli").await;
    let observed = api
        .expect(
            200,
            "POST",
            &format!("{path}/observations"),
            &specialist,
            Some(json!({
                "received_date": "2026-12-21",
                "observations": "Abito all'indirizzo da novembre; allego il contratto di locazione.",
            })),
        )
        .await;
    assert_eq!(observed["residence_change"]["next_step"], "answer");

    // The answer rejects them, with reasons: the change is rejected, the previous
    // address restored from the declaration's day, and the appeal stated.
    let specialist = at(&stack, &api, "2026-12-28T10:00:00Z", "bo.gialli").await;
    let answered = api
        .expect(
            200,
            "POST",
            &format!("{path}/answer"),
            &specialist,
            Some(json!({
                "outcome": "rejected",
                "reasons": "le osservazioni non superano l'esito del sopralluogo",
            })),
        )
        .await;
    let rejected = &answered["residence_change"];
    assert_eq!(rejected["status"], "rejected");
    // The registry's decision completes the 10-bis item with its outcome.
    hand_over(&stack).await;
    let card = api
        .expect(
            200,
            "GET",
            &format!("/api/v1/back-office/work/{reasons_item}"),
            &specialist,
            None,
        )
        .await;
    assert_eq!(card["item"]["state"], "completed", "{card}");
    assert_eq!(card["item"]["outcome_code"], "rejected", "{card}");
    assert_eq!(rejected["observations_outcome"], "rejected");
    assert_eq!(rejected["next_step"], "none");
    assert!(
        rejected["appeal"].as_str().unwrap().contains("36"),
        "{rejected}"
    );
    let mario = ResidentServiceClient::new(registry(&stack).channel().await)
        .get_resident(counter("resident.read").request(GetResidentRequest {
            resident_id: family[0].id.clone(),
            as_of: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .resident
        .unwrap();
    assert_eq!(
        mario.address.unwrap().street_name,
        family[0].address.clone().unwrap().street_name,
        "the previous address restored"
    );
}

/// A move from another municipality (DL 5/2012 art. 5), declared through the gateway:
/// the members are registered from the declaration's day, and when the 45 days pass
/// with no notice of reasons against, silence-assent confirms it (DPR 223/1989 art.
/// 18-bis c. 1; DL 5/2012 art. 5 c. 5).
#[tokio::test]
async fn immigration_from_another_municipality_reaches_silence_assent_dl_5_2012_art_5() {
    let (stack, api, _family) = Box::pin(desk()).await;
    let desk_user = api.sign_in("poli.bianchi").await;
    let mut declaration = json!({
        "origin": "municipality",
        "origin_municipality_istat_code": "010025",
        "members": [
            {"fiscal_code": ANNA, "relationship": "head", "surname": "Verdi",
             "given_names": "Anna", "sex": "female", "birth_date": "1975-04-21",
             "birthplace_code": "G702", "citizenship": "IT"},
            {"fiscal_code": ARBEN, "relationship": "cohabitant", "surname": "Hoxha",
             "given_names": "Arben", "sex": "male", "birth_date": "1985-03-02",
             "birthplace_code": "Z100", "citizenship": "AL"},
        ],
        "declarant": 0,
        "address": {"street_code": "CHIODO", "house_number": "5"},
        "site": "palazzo-civico",
        "dwelling_title": "tenant",
        "dwelling_title_reference": "contratto registrato 1234/3T/2026",
    });
    // A non-EU citizen without their residence permit (DL 5/2012 art. 5 c. 3): 400
    // naming the member's field, and nothing is written.
    let refused = api
        .call(
            "POST",
            "/api/v1/residence-changes",
            Some(&desk_user),
            Some(declaration.clone()),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(
        refused.json()["error"]["fields"][0]["field"],
        "members[1].residence_permit"
    );
    let pool = registry(&stack).running.db().pool().clone();
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from registry.residence_changes")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 0);

    declaration["members"][1]["residence_permit"] = json!("I123456789");
    declaration["members"][1]["residence_permit_expiry"] = json!("2028-01-01");
    let declared = api
        .expect(
            201,
            "POST",
            "/api/v1/residence-changes",
            &desk_user,
            Some(declaration),
        )
        .await;
    let change = &declared["residence_change"];
    let id = change["id"].as_str().unwrap().to_owned();
    assert_eq!(change["origin"], "municipality");
    assert_eq!(change["origin_municipality_istat_code"], "010025");
    assert_eq!(change["silence_assent_date"], "2027-01-12");
    assert_eq!(declared["receipt"]["answer_by"], "2027-01-11");
    hand_over(&stack).await;

    // The last day of the term, 23:59 in Rome: not yet.
    let timers = &registry(&stack).running.workers.timers;
    stack
        .ctx
        .clock
        .set("2027-01-11T22:59:00Z".parse::<Timestamp>().unwrap());
    assert_eq!(timers.run_once().await.unwrap(), 0);
    // Midnight in Rome: the 45 days have passed with no notice; silence-assent.
    let desk_user = at(&stack, &api, "2027-01-11T23:00:00Z", "poli.bianchi").await;
    assert_eq!(timers.run_once().await.unwrap(), 1);
    let now = api
        .expect(
            200,
            "GET",
            &format!("/api/v1/residence-changes/{id}"),
            &desk_user,
            None,
        )
        .await;
    assert_eq!(now["residence_change"]["status"], "confirmed");
    assert_eq!(
        now["residence_change"]["confirmation_basis"],
        "silence_assent"
    );
    assert_eq!(now["residence_change"]["next_step"], "none");
}

/// L. 241/1990 art. 10-bis (issue 11, "Done means", bad input): observations that arrive
/// after the 10 days from the notice's receipt are refused naming the rule, and nothing
/// is written; a declaration the document does not allow is 400 naming the field; a
/// fiscal code no resident has is 400 naming the member's field.
#[tokio::test]
async fn observations_after_the_window_are_refused_and_nothing_is_written_art_10_bis() {
    let (stack, api, _family) = Box::pin(desk()).await;
    let desk_user = api.sign_in("poli.bianchi").await;

    let mut bad = move_within();
    bad["members"][0]["relationship"] = json!("boss");
    let reply = api
        .call(
            "POST",
            "/api/v1/residence-changes",
            Some(&desk_user),
            Some(bad),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(
        reply.json()["error"]["fields"][0]["field"],
        "members[0].relationship"
    );
    let mut stranger = move_within();
    stranger["members"][1]["fiscal_code"] = json!(ANNA);
    let reply = api
        .call(
            "POST",
            "/api/v1/residence-changes",
            Some(&desk_user),
            Some(stranger),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(
        reply.json()["error"]["fields"][0]["field"],
        "members[1].fiscal_code"
    );
    assert!(
        !reply.body.contains(ANNA),
        "the code is not echoed: {}",
        reply.body
    );

    let declared = api
        .expect(
            201,
            "POST",
            "/api/v1/residence-changes",
            &desk_user,
            Some(move_within()),
        )
        .await;
    let id = declared["residence_change"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/residence-changes/{id}");
    let specialist = at(&stack, &api, "2026-12-15T09:00:00Z", "bo.gialli").await;
    api.expect(
        200,
        "POST",
        &format!("{path}/notice"),
        &specialist,
        Some(json!({"reasons": "al sopralluogo l'abitazione risultava disabitata"})),
    )
    .await;
    // Reasons with personal data in them are refused: they travel in events.
    let reply = api
        .call(
            "POST",
            &format!("{path}/answer"),
            Some(&specialist),
            Some(json!({"outcome": "rejected", "reasons": format!("vedi {MARIO}")})),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.json()["error"]["fields"][0]["field"], "reasons");

    let specialist = at(&stack, &api, "2026-12-16T10:00:00Z", "bo.gialli").await;
    let received = api
        .expect(
            200,
            "POST",
            &format!("{path}/notice-receipt"),
            &specialist,
            Some(json!({"delivery": "return_card", "received_date": "2026-12-16"})),
        )
        .await;
    let window_end = received["residence_change"]["observations_window_end"].clone();
    assert_eq!(window_end, "2026-12-28");
    let before = api.expect(200, "GET", &path, &specialist, None).await;

    let specialist = at(&stack, &api, "2027-01-04T10:00:00Z", "bo.gialli").await;
    let late = api
        .call(
            "POST",
            &format!("{path}/observations"),
            Some(&specialist),
            Some(json!({"received_date": "2027-01-04", "observations": "Abito qui da novembre."})),
        )
        .await;
    assert_eq!(late.status, 409, "{}", late.body);
    let error = late.json();
    assert_eq!(error["error"]["code"], "FAILED_PRECONDITION");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10-bis"),
        "names the rule: {error}"
    );
    let after = api.expect(200, "GET", &path, &specialist, None).await;
    assert_eq!(before, after, "nothing written");
    assert!(after["residence_change"]["observations_date"].is_null());
}

/// A minimal PDF: what the registry's magic-byte check asks of one is that it start with
/// `%PDF-`. ASCII, so the test's HTTP client reads it back unchanged.
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
/// A JPEG's first bytes (SOI, then an APP0 JFIF marker).
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9";

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn with_documents(documents: Value) -> Value {
    let mut body = move_within();
    body["documents"] = documents;
    body
}

/// Issue 13 at the gateway: the counter attaches the signed form to a declaration as
/// base64 in the JSON body; a bad document refuses the whole declaration naming its
/// field, before anything is registered; the specialist's work item lists the document
/// by reference, and the counter and the specialist read it back through the gateway
/// with its type, never cached nor sniffed.
#[tokio::test]
async fn a_declarations_documents_are_attached_listed_and_read_back_through_the_gateway() {
    let (stack, api, _family) = Box::pin(desk()).await;
    let desk_user = api.sign_in("poli.bianchi").await;
    let specialist = api.sign_in("bo.gialli").await; // anagrafe
    api.expect(
        200,
        "POST",
        "/api/v1/console/presence",
        &specialist,
        Some(json!({"presence": "back_office"})),
    )
    .await;
    let field = |reply: &http::Response| {
        reply.json()["error"]["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    // A JPEG declared as a PDF: the registry's magic-byte check names the field, and
    // nothing is registered (no work reaches the back office below but the good one).
    let refused = api
        .call(
            "POST",
            "/api/v1/residence-changes",
            Some(&desk_user),
            Some(with_documents(json!([{
                "title": "Modulo di dichiarazione",
                "media_type": "application/pdf",
                "content_base64": base64(JPEG),
            }]))),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(
        field(&refused),
        "documents[0].media_type",
        "{}",
        refused.body
    );

    // What the gateway checks itself: base64, the count, a title free of personal data.
    let pdf = json!({"title": "Altro documento", "media_type": "application/pdf", "content_base64": base64(PDF)});
    for (documents, named) in [
        (
            json!([{"media_type": "application/pdf", "content_base64": "JVBERi0x!"}]),
            "documents[0].content_base64",
        ),
        (json!(vec![pdf.clone(); 6]), "documents"),
        (
            json!([{"title": "Carta di mario.rossi@example.it", "media_type": "application/pdf", "content_base64": base64(PDF)}]),
            "documents[0].title",
        ),
    ] {
        let reply = api
            .call(
                "POST",
                "/api/v1/residence-changes",
                Some(&desk_user),
                Some(with_documents(documents)),
            )
            .await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(field(&reply), named, "{}", reply.body);
    }

    let declared = api
        .expect(
            201,
            "POST",
            "/api/v1/residence-changes",
            &desk_user,
            Some(with_documents(json!([{
                "title": "Modulo di dichiarazione",
                "media_type": "application/pdf",
                "content_base64": base64(PDF),
            }]))),
        )
        .await;
    let id = declared["residence_change"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        declared["receipt"]["documents"],
        json!(["Modulo di dichiarazione"])
    );
    let sha256 = sportello_kit::documents::Sha256Hex::of(PDF).to_string();

    // The work item carries the reference, not the bytes; and only this change's.
    hand_over(&stack).await;
    let offered = api
        .expect(
            200,
            "GET",
            "/api/v1/back-office/work?view=offered",
            &specialist,
            None,
        )
        .await;
    let items = offered["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the declaration taken: {offered}");
    assert_eq!(items[0]["procedure_id"], id.as_str());
    assert_eq!(items[0]["documents"], 1);
    assert_eq!(
        items[0]["document_refs"],
        json!([{
            "sha256": sha256,
            "media_type": "application/pdf",
            "size_bytes": PDF.len(),
            "title": "Modulo di dichiarazione",
        }])
    );

    // Read back, by the counter and by the specialist, as the bytes handed in.
    let path = format!("/api/v1/residence-changes/{id}/documents/{sha256}");
    for user in [&desk_user, &specialist] {
        let read = api.call("GET", &path, Some(user), None).await;
        assert_eq!(read.status, 200, "{}", read.body);
        assert_eq!(read.body.as_bytes(), PDF);
        assert_eq!(read.header("content-type"), Some("application/pdf"));
        assert_eq!(read.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(read.header("cache-control"), Some("no-store"));
        let disposition = read.header("content-disposition").unwrap();
        assert_eq!(
            disposition,
            format!("inline; filename=\"documento-{}.pdf\"", &sha256[..12])
        );
    }
    // Unknown hashes, and this document under another change, are not found.
    let unknown = format!(
        "/api/v1/residence-changes/{id}/documents/{}",
        "0".repeat(64)
    );
    assert_eq!(
        api.call("GET", &unknown, Some(&desk_user), None)
            .await
            .status,
        404
    );
    let elsewhere = format!(
        "/api/v1/residence-changes/{}/documents/{sha256}",
        uuid::Uuid::now_v7()
    );
    assert_eq!(
        api.call("GET", &elsewhere, Some(&desk_user), None)
            .await
            .status,
        404
    );
    let malformed = format!("/api/v1/residence-changes/{id}/documents/abc");
    let reply = api.call("GET", &malformed, Some(&desk_user), None).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(field(&reply), "sha256");
}

/// A scan over tonic's default 4 MiB message, under DOCUMENT_MAX_BYTES (10 MiB): the
/// gateway's body limit for a declaration and its decoding limit for the read both take
/// it, as the registry's do.
#[tokio::test]
async fn a_document_over_4_mib_goes_through_the_gateway_both_ways() {
    let (_stack, api, _family) = Box::pin(desk()).await;
    let desk_user = api.sign_in("poli.bianchi").await;
    let mut scan = b"%PDF-1.4\n".to_vec();
    scan.resize(6 * 1024 * 1024, b'A');
    let declared = api
        .expect(
            201,
            "POST",
            "/api/v1/residence-changes",
            &desk_user,
            Some(with_documents(json!([{
                "title": "Titolo di occupazione dell'alloggio",
                "media_type": "application/pdf",
                "content_base64": base64(&scan),
            }]))),
        )
        .await;
    let id = declared["residence_change"]["id"].as_str().unwrap();
    let sha256 = sportello_kit::documents::Sha256Hex::of(&scan).to_string();
    let read = api
        .call(
            "GET",
            &format!("/api/v1/residence-changes/{id}/documents/{sha256}"),
            Some(&desk_user),
            None,
        )
        .await;
    assert_eq!(
        read.status,
        200,
        "{}",
        &read.body[..read.body.len().min(300)]
    );
    assert_eq!(read.body.len(), scan.len());
    assert!(read.body.as_bytes() == scan.as_slice());
}
