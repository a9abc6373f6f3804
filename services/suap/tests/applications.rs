//! SUAP applications end to end: the SUAP with routing running in-process (its protocol
//! register, its cases and its back office are real), PostgreSQL, NATS and the manual
//! clock. The back office's work travels over NATS: the tests step both services' relays
//! and consumers as the running workers would ([`Desk::hand_over`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use jiff::{Timestamp, civil::Date};
use sportello_kit::{
    CallContext, PeerChannel, Role,
    payments::{Creditor, PaymentsConfig},
    testing::{TestContext, TestService, exchange, pagopa::SimPagoPa},
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    common::v1::{Address, Channel},
    routing::v1::{
        AcceptOfferRequest, CaseStatus, CompleteWorkRequest, GetCaseRequest,
        GetRegistrationRequest, IncomingKind, Operator, Presence, SetPresenceRequest, Skill, Tier,
        UpsertOperatorRequest, WorkRequested, WorkState,
        back_office_service_client::BackOfficeServiceClient,
        case_service_client::CaseServiceClient, operator_service_client::OperatorServiceClient,
        protocol_service_client::ProtocolServiceClient,
    },
    suap::v1::{
        Application, ApplicationStatus, FileApplicationRequest, FiledDocument,
        GetApplicationRequest, ListProceduresRequest, MandateKind, ReceiveIntegrationRequest,
        RecordOpinionRequest, RegisterBusinessRequest, ReportMeasuresRequest,
        RequestIntegrationRequest, RequestOpinionRequest,
        application_service_client::ApplicationServiceClient,
        business_service_client::BusinessServiceClient,
    },
};
use tonic::Code;

const SPEZIA: &str = "011015";

fn operator(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:op-7", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Polivalente])
}

fn administrator(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:admin", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Admin])
}

async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A PDF as small as the document rules take.
fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes()
}

fn document(item: &str) -> FiledDocument {
    FiledDocument {
        checklist_item: item.into(),
        content: pdf(item),
        media_type: "application/pdf".into(),
    }
}

/// The SUAP and routing on one database with one clock, a business, and a SUAP
/// specialist present in the back office.
struct Desk {
    ctx: TestContext,
    suap: TestService,
    routing: TestService,
    /// The local pagoPA, for a desk started paying (its receipt poller is a timer that
    /// the other tests' counts of timers fired would see).
    pagopa: Option<SimPagoPa>,
    business_id: String,
    specialist: CallContext,
}

impl Desk {
    async fn start() -> Self {
        Self::start_with(false).await
    }

    async fn start_paying() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(paying: bool) -> Self {
        let ctx = TestContext::new(&[&sportello_suap::SPEC, &sportello_routing::SPEC]).await;
        let mut routing_config = sportello_routing::RoutingConfig::from(ctx.config.clone());
        routing_config.seed_municipalities = vec![SPEZIA.parse().unwrap()];
        let routing = Box::pin(TestService::start(
            &sportello_routing::SPEC,
            routing_config,
            sportello_routing::start,
        ))
        .await;
        let pagopa = if paying {
            Some(SimPagoPa::start(ctx.config.clock.clone()).await)
        } else {
            None
        };
        let payments = pagopa.as_ref().map(|sim| {
            PaymentsConfig::for_test(
                sim.url(),
                SPEZIA.parse().unwrap(),
                Creditor {
                    fiscal_code: "00211160114".parse().unwrap(),
                    iban: "IT60X0542811101000000123456".to_owned(),
                    name: "Comune della Spezia".to_owned(),
                },
                sportello_suap::payments::SEGREGATION_CODE.parse().unwrap(),
            )
            .unwrap()
        });
        let config = sportello_suap::SuapConfig {
            service: ctx.config.clone(),
            routing_url: Some(routing.grpc_url()),
            documents: Default::default(),
            payments,
        };
        let suap = Box::pin(TestService::start(
            &sportello_suap::SPEC,
            config,
            sportello_suap::start,
        ))
        .await;
        let business_id = BusinessServiceClient::new(suap.channel().await)
            .register_business(
                operator("business.register").request(RegisterBusinessRequest {
                    municipality_istat_code: SPEZIA.into(),
                    vat_number: "01234560116".into(),
                    legal_name: "Trattoria del Prione S.n.c.".into(),
                    ateco_code: "56.10.11".into(),
                    registered_office: Some(Address {
                        street_name: "Via del Prione".into(),
                        house_number: "42".into(),
                        postal_code: "19121".into(),
                        ..Default::default()
                    }),
                    idempotency_key: String::new(),
                }),
            )
            .await
            .unwrap()
            .into_inner()
            .business
            .unwrap()
            .id;
        let specialist = specialist(&routing, "s.verdi").await;
        // La Spezia's 2027 tariff for dehors in zone 1 (coefficient 1.5): the canone of
        // the land the `suolo.*` applications ask for.
        sportello_proto::suap::v1::occupation_service_client::OccupationServiceClient::new(
            suap.channel().await,
        )
        .set_tariffs(administrator("suap.tariffs").request(
            sportello_proto::suap::v1::SetTariffsRequest {
                municipality_istat_code: SPEZIA.into(),
                year: 2027,
                population: common::SPEZIA_POPULATION,
                rates: vec![sportello_proto::suap::v1::TariffRate {
                    zone_category: 1,
                    kind: sportello_proto::suap::v1::OccupationKind::Dehors as i32,
                    permanent: false,
                    coefficient_milli: 1_500,
                    reduction_percent: 0,
                }],
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap();
        Self {
            ctx,
            suap,
            routing,
            pagopa,
            business_id,
            specialist,
        }
    }

    fn pool(&self) -> &sqlx::PgPool {
        self.suap.running.db().pool()
    }

    async fn applications(&self) -> ApplicationServiceClient<PeerChannel> {
        ApplicationServiceClient::new(self.suap.channel().await)
    }

    fn filing(&self, procedure: &str, items: &[&str]) -> FileApplicationRequest {
        FileApplicationRequest {
            municipality_istat_code: SPEZIA.into(),
            business_id: self.business_id.clone(),
            procedure_code: procedure.into(),
            subject: "Via del Prione 42".into(),
            documents: items.iter().map(|i| document(i)).collect(),
            channel: Channel::Counter as i32,
            mandate: MandateKind::SpecialPowerOfAttorney as i32,
            mandate_reference: "Procura speciale del 2026-11-20".into(),
            requester_ref: String::new(),
            idempotency_key: String::new(),
            // Public land gives its place: each procedure its own corner of Via del Prione.
            occupation: procedure.starts_with("suolo.").then(|| {
                let x0 = if procedure.ends_with("tutelata") {
                    20.0
                } else {
                    0.0
                };
                sportello_proto::suap::v1::OccupationPlace {
                    kind: sportello_proto::suap::v1::OccupationKind::Dehors as i32,
                    vertices: common::rect(x0, 0.0, x0 + 6.0, 3.9),
                    street: "Via del Prione".into(),
                    zone_category: 1,
                    start_date: "2027-06-01".into(),
                    end_date: "2027-09-30".into(),
                }
            }),
        }
    }

    async fn file(&self, procedure: &str, items: &[&str]) -> Application {
        self.applications()
            .await
            .file_application(operator("suap.file").request(self.filing(procedure, items)))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }

    async fn get(&self, id: &str) -> Application {
        self.applications()
            .await
            .get_application(operator("suap.read").request(GetApplicationRequest {
                application_id: id.into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }

    /// Moves the work between the SUAP and routing as their running workers would.
    async fn hand_over(&self) {
        exchange(&[(&self.routing, "work-suap"), (&self.suap, "suap-work")]).await;
    }

    /// The specialist accepts the offered item and completes it with `outcome`.
    async fn work(&self, outcome: &str, result: &[(&str, &str)]) {
        self.hand_over().await;
        let item: (String, String) = sqlx::query_as(
            "select id::text, state from routing.work_items where state = 'offered'",
        )
        .fetch_one(self.pool())
        .await
        .unwrap();
        let mut back_office = BackOfficeServiceClient::new(self.routing.channel().await);
        back_office
            .accept_offer(self.specialist.request(AcceptOfferRequest {
                item_id: item.0.clone(),
                operator_id: "s.verdi".into(),
            }))
            .await
            .unwrap();
        let done = back_office
            .complete_work(
                self.specialist.request(CompleteWorkRequest {
                    item_id: item.0,
                    operator_id: "s.verdi".into(),
                    outcome_code: outcome.into(),
                    result: result
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                }),
            )
            .await
            .unwrap()
            .into_inner()
            .item
            .unwrap();
        assert_eq!(done.state, WorkState::Completed as i32);
        self.hand_over().await;
    }

    /// Moves the clock to midnight in Rome at the start of `day`.
    fn at_start_of(&self, day: &str) {
        let day: Date = day.parse().unwrap();
        self.ctx.clock.set(rome::start_of_day(day).unwrap());
    }

    async fn events(&self) -> Vec<String> {
        sqlx::query_scalar(
            "select event_type from outbox where event_type like 'suap.application.%'
             or event_type like 'suap.opinion.%' order by id",
        )
        .fetch_all(self.pool())
        .await
        .unwrap()
    }
}

/// A back-office specialist of the SUAP in routing, present for back-office work.
async fn specialist(routing: &TestService, id: &str) -> CallContext {
    let mut operators = OperatorServiceClient::new(routing.channel().await);
    operators
        .upsert_operator(
            administrator("operator.upsert").request(UpsertOperatorRequest {
                operator: Some(Operator {
                    id: id.into(),
                    municipality_istat_code: SPEZIA.into(),
                    display_name: format!("Specialista {id}"),
                    tier: Tier::BackOffice as i32,
                    department: "suap".into(),
                    skills: vec![Skill {
                        skill: "suap".into(),
                        proficiency: 4,
                    }],
                    ..Default::default()
                }),
            }),
        )
        .await
        .unwrap();
    let context = CallContext::new("gateway", &format!("operator:{id}"), SPEZIA, "work.serve")
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("suap"));
    operators
        .set_presence(context.request(SetPresenceRequest {
            operator_id: id.into(),
            presence: Presence::BackOffice as i32,
        }))
        .await
        .unwrap();
    context
}

async fn registration(d: &Desk, id: &str) -> sportello_proto::routing::v1::Registration {
    ProtocolServiceClient::new(d.routing.channel().await)
        .get_registration(operator("protocol.read").request(GetRegistrationRequest {
            registration_id: id.into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .registration
        .unwrap()
}

async fn outgoing_kinds(d: &Desk) -> Vec<String> {
    sqlx::query_scalar(
        "select kind from routing.registrations where direction = 'outgoing' order by year, number",
    )
    .fetch_all(d.pool())
    .await
    .unwrap()
}

const SHOP: &[&str] = &["scia_form", "moral_requirements", "floor_plan"];

/// A business's name, activity and office change with the version read; its VAT number
/// never does; a stale version or a bad field changes nothing.
#[tokio::test]
async fn a_business_is_updated_with_the_version_it_was_read_at() {
    use sportello_proto::suap::v1::{GetBusinessRequest, UpdateBusinessRequest};
    let d = Box::pin(Desk::start()).await;
    let mut businesses = BusinessServiceClient::new(d.suap.channel().await);
    let office = |street: &str| Address {
        street_name: street.into(),
        house_number: "7".into(),
        postal_code: "19121".into(),
        ..Default::default()
    };
    let update = |version: u64, ateco: &str| UpdateBusinessRequest {
        business_id: d.business_id.clone(),
        version,
        legal_name: "Trattoria del Prione di Rossi & C. S.n.c.".into(),
        ateco_code: ateco.into(),
        registered_office: Some(office("Via Sapri")),
    };
    let updated = businesses
        .update_business(operator("business.update").request(update(1, "56.10.11")))
        .await
        .unwrap()
        .into_inner()
        .business
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.vat_number, "01234560116");
    assert_eq!(updated.registered_office.unwrap().street_name, "Via Sapri");

    let stale = businesses
        .update_business(operator("business.update").request(update(1, "56.10.11")))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let bad = businesses
        .update_business(operator("business.update").request(update(2, "5610")))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("ateco_code"), "{bad:?}");
    let now = businesses
        .get_business(operator("business.read").request(GetBusinessRequest {
            business_id: d.business_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .business
        .unwrap();
    assert_eq!(now.version, 2, "nothing changed by the refused updates");
    let events: Vec<String> = sqlx::query_scalar(
        "select event_type from outbox where event_type like 'suap.business.%' order by id",
    )
    .fetch_all(d.pool())
    .await
    .unwrap();
    assert_eq!(
        events,
        ["suap.business.registered", "suap.business.updated"]
    );
}

/// The counter finds the business it files for by VAT number, in its own municipality
/// only; an unknown one is NOT_FOUND (register it first), a wrong check digit is named.
#[tokio::test]
async fn the_counter_finds_a_business_by_its_vat_number() {
    use sportello_proto::suap::v1::{GetBusinessRequest, LookupBusinessRequest};
    let d = Box::pin(Desk::start()).await;
    let mut businesses = BusinessServiceClient::new(d.suap.channel().await);
    let lookup = |vat: &str, municipality: &str| LookupBusinessRequest {
        municipality_istat_code: municipality.into(),
        vat_number: vat.into(),
    };
    let found = businesses
        .lookup_business(operator("business.read").request(lookup(" 01234560116 ", SPEZIA)))
        .await
        .unwrap()
        .into_inner()
        .business
        .unwrap();
    assert_eq!(found.id, d.business_id);
    assert_eq!(found.legal_name, "Trattoria del Prione S.n.c.");
    assert_eq!(
        found.registered_office.as_ref().unwrap().postal_code,
        "19121"
    );
    let by_id = businesses
        .get_business(operator("business.read").request(GetBusinessRequest {
            business_id: d.business_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .business
        .unwrap();
    assert_eq!(by_id, found);

    // Valid, but not registered here: the Comune della Spezia's own VAT number.
    let unknown = businesses
        .lookup_business(operator("business.read").request(lookup("00211160114", SPEZIA)))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    let bad = businesses
        .lookup_business(operator("business.read").request(lookup("01234560110", SPEZIA)))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("vat_number"), "{bad:?}");
    let elsewhere = businesses
        .lookup_business(operator("business.read").request(lookup("01234560116", "010025")))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::PermissionDenied, "{elsewhere:?}");
    let no_id = businesses
        .get_business(operator("business.read").request(GetBusinessRequest {
            business_id: "0195f3a0-0000-7000-8000-00000000ffff".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(no_id.code(), Code::NotFound, "{no_id:?}");
}

/// A SCIA filed at the counter: a protocol number and a receipt at once, effective on
/// filing; the control is tier-4 work on the 60-day clock; the specialist completes it
/// within the term and the application is compliant.
#[tokio::test]
async fn a_scia_filed_at_the_counter_is_controlled_in_the_back_office_within_60_days() {
    let d = Box::pin(Desk::start()).await;
    let app = d.file("commercio.vicinato_apertura", SHOP).await;
    assert_eq!(app.status, ApplicationStatus::Effective as i32);
    assert!(!app.protocol_number.is_empty());
    assert!(
        !app.receipt_protocol_number.is_empty(),
        "the receipt is issued at once"
    );
    assert_eq!(app.received_date, "2026-11-26");
    // 60 days from Thursday 26 November 2026, the day of receipt not counted.
    assert_eq!(app.due_date, "2027-01-25");
    assert_eq!(app.documents.len(), 3);

    let filed = registration(
        &d,
        &sqlx::query_scalar::<_, String>("select protocol_registration_id from applications")
            .fetch_one(d.pool())
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(filed.kind, IncomingKind::Scia as i32);
    assert_eq!(filed.formatted_number, app.protocol_number);
    assert_eq!(outgoing_kinds(&d).await, ["receipt"]);

    let payload: Vec<u8> =
        sqlx::query_scalar("select payload from outbox where event_type = 'suap.work.requested'")
            .fetch_one(d.pool())
            .await
            .unwrap();
    let work = <WorkRequested as prost::Message>::decode(payload.as_slice()).unwrap();
    assert_eq!(work.service_code, "suap.scia_control");
    assert_eq!(work.work_id, app.id);
    let clock = work.clock.unwrap();
    assert_eq!(
        (clock.rule.as_str(), clock.due_date.as_str()),
        ("scia", "2027-01-25")
    );
    assert_eq!(work.documents.len(), 3);

    // Routing opens one back-office case on 20 January; the specialist controls it.
    d.ctx
        .clock
        .set("2027-01-20T09:00:00Z".parse::<Timestamp>().unwrap());
    d.hand_over().await;
    assert_eq!(count(d.pool(), "routing.work_items").await, 1);
    let noted = d.get(&app.id).await;
    assert!(!noted.case_id.is_empty(), "the case id came with `opened`");
    let case = CaseServiceClient::new(d.routing.channel().await)
        .get_case(operator("case.serve").request(GetCaseRequest {
            case_id: noted.case_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.tier, Tier::BackOffice as i32);
    d.work("compliant", &[]).await;
    let done = d.get(&app.id).await;
    assert_eq!(done.status, ApplicationStatus::Compliant as i32);
    assert_eq!(done.due_date, "", "no term runs any more");
    // The end of the term changes nothing now.
    d.at_start_of("2027-01-26");
    assert_eq!(d.suap.running.workers.timers.run_once().await.unwrap(), 0);
    assert_eq!(
        d.events().await,
        ["suap.application.filed", "suap.application.compliant"]
    );
}

/// An order to conform interrupts the control term and gives at least 30 days; the
/// measures reported start the term again in full and a second control; it closes the
/// SCIA as compliant.
#[tokio::test]
async fn an_order_to_conform_then_the_measures_then_the_control_closes_it() {
    let d = Box::pin(Desk::start()).await;
    let app = d.file("commercio.vicinato_apertura", SHOP).await;
    d.ctx
        .clock
        .set("2026-12-10T09:00:00Z".parse::<Timestamp>().unwrap());
    // The form asked for 20 days: the law's floor is 30.
    d.work(
        "conform_order",
        &[("days", "20"), ("measures", "adeguare i servizi igienici")],
    )
    .await;
    let ordered = d.get(&app.id).await;
    assert_eq!(ordered.status, ApplicationStatus::ConformOrdered as i32);
    assert_eq!(
        ordered.due_date, "2027-01-09",
        "at least 30 days from 10 December"
    );
    assert_eq!(ordered.awaiting, "the report of the measures taken");
    assert_eq!(outgoing_kinds(&d).await, ["receipt", "order_to_conform"]);

    d.ctx
        .clock
        .set("2026-12-28T09:00:00Z".parse::<Timestamp>().unwrap());
    let reported = d
        .applications()
        .await
        .report_measures(operator("suap.measures").request(ReportMeasuresRequest {
            application_id: app.id.clone(),
            documents: vec![document("misure")],
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(reported.status, ApplicationStatus::MeasuresReported as i32);
    // The term starts again in full from 28 December.
    assert_eq!(reported.due_date, "2027-02-26");
    d.work("compliant", &[]).await;
    let done = d.get(&app.id).await;
    assert_eq!(done.status, ApplicationStatus::Compliant as i32);
    assert_eq!(
        count(d.pool(), "routing.work_items").await,
        2,
        "two rounds of control"
    );
    assert_eq!(
        d.events().await,
        [
            "suap.application.filed",
            "suap.application.conform_ordered",
            "suap.application.measures_reported",
            "suap.application.compliant"
        ]
    );
}

/// Measures not reported in time: the activity is prohibited when the order's days end;
/// a SCIA nobody controls consolidates when its 60 days end, and routing's work is
/// completed with the SUAP's decision.
#[tokio::test]
async fn the_clock_prohibits_or_consolidates_when_nothing_is_done() {
    let d = Box::pin(Desk::start()).await;
    let ordered = d.file("commercio.vicinato_apertura", SHOP).await;
    d.ctx
        .clock
        .set("2026-12-10T09:00:00Z".parse::<Timestamp>().unwrap());
    d.work("conform_order", &[("days", "30")]).await;
    let untouched = d
        .file(
            "commercio.vicinato_trasferimento",
            &["scia_form", "floor_plan"],
        )
        .await;
    assert_eq!(untouched.due_date, "2027-02-08");
    d.hand_over().await;

    let timers = &d.suap.running.workers.timers;
    d.at_start_of("2027-01-09");
    assert_eq!(
        timers.run_once().await.unwrap(),
        0,
        "the last day to conform is not over"
    );
    d.at_start_of("2027-01-10");
    assert_eq!(timers.run_once().await.unwrap(), 1);
    assert_eq!(
        d.get(&ordered.id).await.status,
        ApplicationStatus::Prohibited as i32
    );
    let late = d
        .applications()
        .await
        .report_measures(operator("suap.measures").request(ReportMeasuresRequest {
            application_id: ordered.id.clone(),
            documents: vec![document("misure")],
            idempotency_key: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");

    d.at_start_of("2027-02-09");
    assert_eq!(timers.run_once().await.unwrap(), 1);
    let lapsed = d.get(&untouched.id).await;
    assert_eq!(lapsed.status, ApplicationStatus::Consolidated as i32);
    d.hand_over().await;
    let case = CaseServiceClient::new(d.routing.channel().await)
        .get_case(operator("case.serve").request(GetCaseRequest {
            case_id: d.get(&untouched.id).await.case_id,
        }))
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_eq!(case.outcome_code, "controls_lapsed");
}

/// The ordinary procedure: one integration request suspends the clock and its arrival
/// resumes it; two opinions are asked and recorded (one late); silence-assent on a
/// dehors, "decision due" on one in a protected area.
#[tokio::test]
async fn an_ordinary_procedure_integration_opinions_and_silence() {
    let d = Box::pin(Desk::start()).await;
    let dehors = d
        .file(
            "suolo.dehors",
            &["application_form", "occupation_plan", "photos"],
        )
        .await;
    let protected = d
        .file(
            "suolo.dehors_area_tutelata",
            &[
                "application_form",
                "occupation_plan",
                "photos",
                "landscape_report",
            ],
        )
        .await;
    assert_eq!(dehors.status, ApplicationStatus::UnderReview as i32);
    // The integration window ends on 26 December (a holiday: Monday 28), the decision 30
    // days after it.
    assert_eq!(dehors.due_date, "2027-01-27");
    let mut client = d.applications().await;

    d.ctx
        .clock
        .set("2026-12-04T09:00:00Z".parse::<Timestamp>().unwrap());
    let suspended = client
        .request_integration(
            operator("suap.integration").request(RequestIntegrationRequest {
                application_id: dehors.id.clone(),
                reason: "Manca la planimetria quotata degli arredi".into(),
                request_date: String::new(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(
        suspended.status,
        ApplicationStatus::IntegrationRequested as i32
    );
    assert_eq!(
        suspended.due_date, "",
        "no term runs while the integration is awaited"
    );
    assert_eq!(suspended.awaiting, "the integration");
    let second = client
        .request_integration(
            operator("suap.integration").request(RequestIntegrationRequest {
                application_id: dehors.id.clone(),
                reason: "Un'altra cosa".into(),
                request_date: String::new(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition, "{second:?}");
    assert!(second.message().contains("art. 7"), "{second:?}");

    d.ctx
        .clock
        .set("2027-01-05T09:00:00Z".parse::<Timestamp>().unwrap());
    let resumed = client
        .receive_integration(
            operator("suap.integration").request(ReceiveIntegrationRequest {
                application_id: dehors.id.clone(),
                documents: vec![document("planimetria")],
                received_date: String::new(),
                idempotency_key: String::new(),
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(resumed.status, ApplicationStatus::UnderReview as i32);
    // The integration came after the window: 30 days from its arrival.
    assert_eq!(resumed.due_date, "2027-02-04");

    for office in ["polizia_locale", "soprintendenza"] {
        let rule = if office == "soprintendenza" {
            "assent_sensitive"
        } else {
            "opinion"
        };
        client
            .request_opinion(operator("suap.opinion").request(RequestOpinionRequest {
                application_id: dehors.id.clone(),
                office: office.into(),
                rule: rule.into(),
                term_days: 0,
                question: "Parere sul dehors in Via del Prione".into(),
            }))
            .await
            .unwrap();
    }
    let asked = d.get(&dehors.id).await;
    let due: Vec<(&str, &str)> = asked
        .opinions
        .iter()
        .map(|o| (o.office.as_str(), o.due_date.as_str()))
        .collect();
    assert_eq!(
        due,
        [
            ("polizia_locale", "2027-01-25"),
            ("soprintendenza", "2027-04-05")
        ]
    );
    d.ctx
        .clock
        .set("2027-01-28T09:00:00Z".parse::<Timestamp>().unwrap());
    let late = client
        .record_opinion(operator("suap.opinion").request(RecordOpinionRequest {
            application_id: dehors.id.clone(),
            office: "polizia_locale".into(),
            verdict: "favourable_with_conditions".into(),
            received_date: String::new(),
            document: Some(document("parere")),
        }))
        .await
        .unwrap()
        .into_inner()
        .opinion
        .unwrap();
    assert!(late.late, "after its 20 days");
    let stranger = client
        .record_opinion(operator("suap.opinion").request(RecordOpinionRequest {
            application_id: dehors.id.clone(),
            office: "vvf".into(),
            verdict: "favourable".into(),
            received_date: String::new(),
            document: None,
        }))
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::InvalidArgument, "{stranger:?}");
    assert!(stranger.message().contains("office"), "{stranger:?}");
    let incoming: Vec<String> = sqlx::query_scalar(
        "select kind from routing.registrations where direction = 'incoming' order by year, number",
    )
    .fetch_all(d.pool())
    .await
    .unwrap();
    assert_eq!(
        incoming,
        ["application", "application", "integration", "opinion"]
    );

    // The terms end with nothing decided.
    let timers = &d.suap.running.workers.timers;
    d.at_start_of("2027-01-28");
    assert_eq!(
        timers.run_once().await.unwrap(),
        1,
        "the protected one's term"
    );
    assert_eq!(
        d.get(&protected.id).await.status,
        ApplicationStatus::DecisionOverdue as i32,
        "no silence-assent on heritage (L. 241/1990 art. 20 c. 4)"
    );
    d.at_start_of("2027-02-05");
    assert_eq!(timers.run_once().await.unwrap(), 1);
    assert_eq!(
        d.get(&dehors.id).await.status,
        ApplicationStatus::GrantedBySilence as i32
    );
    // The overdue one is still the back office's to decide.
    d.hand_over().await;
    let open: i64 = sqlx::query_scalar(
        "select count(*) from routing.work_items where state not in ('completed', 'cancelled')",
    )
    .fetch_one(d.pool())
    .await
    .unwrap();
    assert_eq!(open, 1);
}

/// A communication (a transfer of ownership) is filed with its receipt and nothing else
/// runs: no clock, no back-office work.
#[tokio::test]
async fn a_transfer_of_ownership_is_a_communication_with_no_clock() {
    let d = Box::pin(Desk::start()).await;
    let app = d
        .file(
            "commercio.vicinato_subingresso",
            &["communication_form", "deed", "moral_requirements"],
        )
        .await;
    assert_eq!(app.status, ApplicationStatus::Filed as i32);
    assert_eq!(app.due_date, "");
    assert!(!app.receipt_protocol_number.is_empty());
    assert_eq!(
        count(d.pool(), "outbox where event_type = 'suap.work.requested'").await,
        0
    );
}

/// Bad filings name what is wrong and nothing is registered or written.
#[tokio::test]
async fn bad_filings_name_the_field_and_register_nothing() {
    let d = Box::pin(Desk::start()).await;
    let mut client = d.applications().await;
    let procedures = client
        .list_procedures(operator("suap.read").request(ListProceduresRequest {}))
        .await
        .unwrap()
        .into_inner()
        .procedures;
    assert!(
        procedures
            .iter()
            .any(|p| p.code == "somministrazione.apertura" && p.forwarded_to_other_bodies)
    );

    let cases: Vec<(&str, FileApplicationRequest)> = vec![
        (
            "documents",
            d.filing("commercio.vicinato_apertura", &["scia_form"]),
        ),
        (
            "documents[0].checklist_item",
            d.filing("commercio.vicinato_apertura", &["boh"]),
        ),
        (
            "mandate",
            FileApplicationRequest {
                mandate: 0,
                ..d.filing("commercio.vicinato_apertura", SHOP)
            },
        ),
        ("procedure_code", d.filing("commercio.nulla", SHOP)),
        (
            "subject",
            FileApplicationRequest {
                subject: "Per RSSMRA80A01E463K".into(),
                ..d.filing("commercio.vicinato_apertura", SHOP)
            },
        ),
    ];
    for (field, request) in cases {
        let status = client
            .file_application(operator("suap.file").request(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().contains(field), "{field}: {status:?}");
    }
    let mut wrong_pdf = d.filing("commercio.vicinato_apertura", SHOP);
    wrong_pdf.documents[1].content = b"GIF89a".to_vec();
    let status = client
        .file_application(operator("suap.file").request(wrong_pdf))
        .await
        .unwrap_err();
    assert!(status.message().contains("documents[1]"), "{status:?}");
    assert_eq!(count(d.pool(), "applications").await, 0);
    assert_eq!(count(d.pool(), "routing.registrations").await, 0);

    // A SCIA unica goes to the ASL at once.
    let bar = d
        .file(
            "somministrazione.apertura",
            &[
                "scia_form",
                "moral_requirements",
                "health_notification",
                "floor_plan",
            ],
        )
        .await;
    let recipients: Vec<(String, String)> = sqlx::query_as(
        "select kind, recipient_ref from routing.registrations where direction = 'outgoing'
         order by number",
    )
    .fetch_all(d.pool())
    .await
    .unwrap();
    assert_eq!(
        recipients,
        [
            ("receipt".to_owned(), format!("impresa:{}", d.business_id)),
            ("communication".to_owned(), "ente:asl".to_owned())
        ]
    );
    // An integration request belongs to the ordinary procedure only.
    let status = client
        .request_integration(
            operator("suap.integration").request(RequestIntegrationRequest {
                application_id: bar.id.clone(),
                reason: "Manca qualcosa".into(),
                request_date: String::new(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // Retrying a filing with its key repeats nothing.
    let keyed = FileApplicationRequest {
        idempotency_key: "0b6a3c8e-2f51-4d8a-9a43-8c8b7c7f0001".into(),
        ..d.filing("commercio.vicinato_cessazione", &["communication_form"])
    };
    let first = client
        .file_application(operator("suap.file").request(keyed.clone()))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .file_application(operator("suap.file").request(keyed))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(count(d.pool(), "applications").await, 2);
}

/// A dehors application carries its place: the decision grants the occupation, the
/// canone's pagoPA notice follows once the decision is committed, and the payment makes
/// the permit valid. A second application for an overlapping place, granted by the
/// specialist too, cannot take the place: it goes back to the back office with the
/// reason, and nothing is granted.
#[tokio::test]
async fn a_dehors_application_grants_its_place_and_the_paid_canone_makes_it_valid() {
    use sportello_proto::suap::v1::{
        GetOccupationRequest, OccupationKind, OccupationPlace, OccupationStatus,
        occupation_service_client::OccupationServiceClient,
    };
    let d = Box::pin(Desk::start_paying()).await;
    let occupations = OccupationServiceClient::new(d.suap.channel().await);
    let place = |x0: f64| OccupationPlace {
        kind: OccupationKind::Dehors as i32,
        vertices: common::rect(x0, 0.0, x0 + 6.0, 3.9),
        street: "Via del Prione".into(),
        zone_category: 1,
        start_date: "2027-06-01".into(),
        end_date: "2027-09-30".into(),
    };
    let items = ["application_form", "occupation_plan", "photos"];
    let file = |x0: f64| {
        let mut request = d.filing("suolo.dehors", &items);
        request.occupation = Some(place(x0));
        request
    };
    let missing = d
        .applications()
        .await
        .file_application(operator("suap.file").request(FileApplicationRequest {
            occupation: None,
            ..d.filing("suolo.dehors", &items)
        }))
        .await
        .unwrap_err();
    assert!(missing.message().contains("occupation"), "{missing:?}");
    let mut bad_place = file(0.0);
    bad_place.occupation.as_mut().unwrap().end_date = "2027-05-01".into();
    let bad = d
        .applications()
        .await
        .file_application(operator("suap.file").request(bad_place))
        .await
        .unwrap_err();
    assert!(bad.message().contains("occupation.end_date"), "{bad:?}");

    let first = d
        .applications()
        .await
        .file_application(operator("suap.file").request(file(0.0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert!(!first.occupation_id.is_empty());
    let second = d
        .applications()
        .await
        .file_application(operator("suap.file").request(file(3.0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();

    let occupation = |id: String| {
        let mut client = occupations.clone();
        async move {
            client
                .get_occupation(
                    operator("suap.read").request(GetOccupationRequest { occupation_id: id }),
                )
                .await
                .unwrap()
                .into_inner()
                .occupation
                .unwrap()
        }
    };
    // The specialist grants the first: the place is granted, its notice follows.
    d.work("granted", &[]).await;
    assert_eq!(
        d.get(&first.id).await.status,
        ApplicationStatus::Granted as i32
    );
    assert_eq!(
        occupation(first.occupation_id.clone()).await.status,
        OccupationStatus::Granted as i32
    );
    let timers = &d.suap.running.workers.timers;
    timers.run_once().await.unwrap();
    let notice: String =
        sqlx::query_scalar("select notice_number from payment_positions where purpose_id = $1")
            .bind(&first.occupation_id)
            .fetch_one(d.pool())
            .await
            .unwrap();
    // 24 m² billed × €1.20 a day × 1.5 × 122 days.
    d.ctx.clock.advance(jiff::SignedDuration::from_mins(1));
    d.pagopa
        .as_ref()
        .unwrap()
        .pay(&notice, 527_040)
        .await
        .unwrap();
    for _ in 0..3 {
        d.ctx.clock.advance(jiff::SignedDuration::from_secs(6));
        timers.run_once().await.unwrap();
        d.suap.running.workers.relay.run_once().await.unwrap();
    }
    assert_eq!(
        occupation(first.occupation_id.clone()).await.status,
        OccupationStatus::Valid as i32
    );

    // The second overlaps it: granting it cannot stand.
    d.work("granted", &[]).await;
    let back = d.get(&second.id).await;
    assert_eq!(back.status, ApplicationStatus::UnderReview as i32);
    assert_eq!(
        occupation(second.occupation_id.clone()).await.status,
        OccupationStatus::Requested as i32
    );
    // The new round is offered by routing's dispatch once it has taken the request: on a
    // loaded machine a moment after the hand-over went quiet, so wait for it.
    let mut note: Option<String> = None;
    for _ in 0..50 {
        note = sqlx::query_scalar(
            "select context_note from routing.work_items where state = 'offered'",
        )
        .fetch_optional(d.pool())
        .await
        .unwrap();
        if note.is_some() {
            break;
        }
        d.hand_over().await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let note = note.expect("the second round offered to the specialist");
    assert!(note.contains(&first.occupation_id), "{note}");
}

/// Silence-assent cannot grant a place another occupation holds: when the term of the
/// second of two overlapping dehors applications ends, it becomes overdue and goes back
/// to the back office with the reason; its place is not granted.
#[tokio::test]
async fn silence_assent_does_not_grant_a_place_taken_meanwhile() {
    use sportello_proto::suap::v1::{
        GetOccupationRequest, OccupationStatus, occupation_service_client::OccupationServiceClient,
    };
    let d = Box::pin(Desk::start()).await;
    let items = ["application_form", "occupation_plan", "photos"];
    let first = d.file("suolo.dehors", &items).await;
    let mut overlapping = d.filing("suolo.dehors", &items);
    overlapping.occupation.as_mut().unwrap().vertices = common::rect(3.0, 0.0, 9.0, 3.9);
    let second = d
        .applications()
        .await
        .file_application(operator("suap.file").request(overlapping))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    d.work("granted", &[]).await;
    assert_eq!(
        d.get(&first.id).await.status,
        ApplicationStatus::Granted as i32
    );

    d.at_start_of("2027-01-28");
    d.suap.running.workers.timers.run_once().await.unwrap();
    let overdue = d.get(&second.id).await;
    assert_eq!(overdue.status, ApplicationStatus::DecisionOverdue as i32);
    let occupation = OccupationServiceClient::new(d.suap.channel().await)
        .get_occupation(operator("suap.read").request(GetOccupationRequest {
            occupation_id: second.occupation_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    assert_eq!(occupation.status, OccupationStatus::Requested as i32);
    assert!(
        d.events()
            .await
            .contains(&"suap.application.land_unavailable".to_owned())
    );
    d.hand_over().await;
    let open: i64 = sqlx::query_scalar(
        "select count(*) from routing.work_items where state not in ('completed', 'cancelled')",
    )
    .fetch_one(d.pool())
    .await
    .unwrap();
    assert_eq!(
        open, 1,
        "the new round only: the first round's work was withdrawn or done"
    );
}

/// A refusal goes through the notice of reasons against (L. 241/1990 art. 10-bis): a
/// `refused` with no notice sends the notice instead; the term is suspended; the
/// observations filed within the 10 days start the round in which the specialist decides,
/// the term running again 10 days after them; a refusal without its reasons goes back to
/// the back office; the reasoned refusal revokes the place asked for.
#[tokio::test]
async fn a_refusal_goes_through_the_10_bis_notice_and_the_observations() {
    use sportello_proto::suap::v1::{
        GetOccupationRequest, OccupationStatus, RecordObservationsRequest,
        occupation_service_client::OccupationServiceClient,
    };
    let d = Box::pin(Desk::start()).await;
    let filed = d
        .file(
            "suolo.dehors",
            &["application_form", "occupation_plan", "photos"],
        )
        .await;
    assert_eq!(filed.due_date, "2027-01-27");
    let reasons = [(
        "reasons",
        "Il dehors occupa il marciapiede oltre la larghezza consentita dal regolamento",
    )];

    // Thursday 26 November: the specialist refuses; the law wants the notice first.
    d.work("refused", &reasons).await;
    let notified = d.get(&filed.id).await;
    assert_eq!(notified.status, ApplicationStatus::ReasonsNotified as i32);
    // Suspended from the notice through the window's last day (26 November + 10 days is
    // Sunday 6 December, moved to Monday 7): 12 days added to 27 January, should no
    // observations come.
    assert_eq!(notified.due_date, "2027-02-08");
    assert_eq!(
        outgoing_kinds(&d).await,
        ["receipt", "notice_of_reasons_against"]
    );
    assert!(
        d.events()
            .await
            .contains(&"suap.application.reasons_notified".to_owned())
    );
    let open: i64 = sqlx::query_scalar(
        "select count(*) from routing.work_items where state not in ('completed', 'cancelled')",
    )
    .fetch_one(d.pool())
    .await
    .unwrap();
    assert_eq!(open, 0, "nothing to decide while the business may answer");

    let mut client = d.applications().await;
    let observations = |day: &str| RecordObservationsRequest {
        application_id: filed.id.clone(),
        documents: vec![document("observations")],
        received_date: day.into(),
        idempotency_key: String::new(),
    };
    let before = client
        .record_observations(operator("suap.observations").request(observations("2026-11-20")))
        .await
        .unwrap_err();
    assert_eq!(before.code(), Code::InvalidArgument);
    assert!(before.message().contains("received_date"), "{before:?}");

    // Tuesday 1 December, within the 10 days: the observations.
    d.at_start_of("2026-12-01");
    let heard = client
        .record_observations(operator("suap.observations").request(observations("")))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(heard.status, ApplicationStatus::ReasonsNotified as i32);
    // Suspended from 26 November, the term runs again on 11 December, 10 days after the
    // observations: 15 days added to 27 January.
    assert_eq!(heard.due_date, "2027-02-11");
    let again = client
        .record_observations(operator("suap.observations").request(observations("")))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // The refusal needs its reasons: without them the work comes back.
    d.work("refused", &[]).await;
    assert_eq!(
        d.get(&filed.id).await.status,
        ApplicationStatus::ReasonsNotified as i32
    );
    assert!(
        d.events()
            .await
            .contains(&"suap.application.decision_sent_back".to_owned())
    );
    let note: String =
        sqlx::query_scalar("select context_note from routing.work_items where state = 'offered'")
            .fetch_one(d.pool())
            .await
            .unwrap();
    assert!(note.contains("motivazione"), "{note}");

    d.work("refused", &reasons).await;
    let refused = d.get(&filed.id).await;
    assert_eq!(refused.status, ApplicationStatus::Refused as i32);
    assert_eq!(
        outgoing_kinds(&d).await,
        ["receipt", "notice_of_reasons_against", "rejection"]
    );
    let occupation = OccupationServiceClient::new(d.suap.channel().await)
        .get_occupation(operator("suap.read").request(GetOccupationRequest {
            occupation_id: refused.occupation_id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    assert_eq!(occupation.status, OccupationStatus::Revoked as i32);
}

/// Without observations the window ends by itself and the back office decides; late
/// observations are refused naming the 10 days; a grant after the notice stands.
#[tokio::test]
async fn the_window_for_observations_ends_and_the_office_decides() {
    use sportello_proto::suap::v1::RecordObservationsRequest;
    let d = Box::pin(Desk::start()).await;
    let filed = d
        .file(
            "suolo.dehors",
            &["application_form", "occupation_plan", "photos"],
        )
        .await;
    d.work(
        "reasons_against",
        &[(
            "reasons",
            "La planimetria non rispetta le distanze dagli attraversamenti",
        )],
    )
    .await;
    assert_eq!(
        d.get(&filed.id).await.status,
        ApplicationStatus::ReasonsNotified as i32
    );

    // Notice received on 26 November: 10 days to Sunday 6 December, moved to Monday 7.
    d.at_start_of("2026-12-08");
    let late = d
        .applications()
        .await
        .record_observations(
            operator("suap.observations").request(RecordObservationsRequest {
                application_id: filed.id.clone(),
                documents: vec![document("observations")],
                received_date: String::new(),
                idempotency_key: String::new(),
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    assert!(late.message().contains("2026-12-07"), "{late:?}");

    d.suap.running.workers.timers.run_once().await.unwrap();
    d.hand_over().await;
    let note: String =
        sqlx::query_scalar("select context_note from routing.work_items where state = 'offered'")
            .fetch_one(d.pool())
            .await
            .unwrap();
    assert!(note.contains("Nessuna osservazione"), "{note}");
    let waiting = d.get(&filed.id).await;
    assert_eq!(
        waiting.due_date, "2027-02-08",
        "suspended 26 November to 7 December"
    );

    d.work("granted", &[]).await;
    assert_eq!(
        d.get(&filed.id).await.status,
        ApplicationStatus::Granted as i32
    );
}
