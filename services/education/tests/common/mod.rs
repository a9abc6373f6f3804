//! Education started in-process with the registry (the residence facts) and routing (the
//! protocol register) on one fresh database and one manual clock: nothing faked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code, unreachable_pub)]

use sportello_kit::{
    CallContext, PeerChannel, Role,
    payments::{Creditor, PaymentsConfig},
    testing::{TestContext, TestService, exchange, pagopa::SimPagoPa},
};
use sportello_proto::{
    common::v1::Channel,
    education::v1::{
        AnswerOfferRequest, Application, Criteria, FileApplicationRequest, FileObjectionRequest,
        GetApplicationRequest, GetObjectionRequest, IncomeBand, Objection, OfferPlacesRequest,
        OpenWindowRequest, SchoolLevel, Window, enrolment_service_client::EnrolmentServiceClient,
    },
    registry::v1::{
        ChangeResidentStatusRequest, NewAddress, RegisterResidentRequest, RegisterStreetRequest,
        Relationship, ResidentStatus, Sex, resident_service_client::ResidentServiceClient,
        street_service_client::StreetServiceClient,
    },
    routing::v1::{
        AcceptOfferRequest, CompleteWorkRequest, Operator, Presence, SetPresenceRequest, Skill,
        Tier, UpsertOperatorRequest, WorkState,
        back_office_service_client::BackOfficeServiceClient,
        operator_service_client::OperatorServiceClient,
    },
};

/// The deployment's pseudonymisation secret, shared by the registry and education.
pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// La Spezia.
pub const SPEZIA: &str = "011015";

/// A person: surname, name, sex, birth date, birthplace.
pub type Who = (&'static str, &'static str, Sex, &'static str, &'static str);

/// The three services.
pub struct Office {
    pub ctx: TestContext,
    pub education: TestService,
    pub registry: TestService,
    pub routing: TestService,
    /// The local pagoPA, when education takes payments.
    pub pagopa: Option<SimPagoPa>,
}

impl Office {
    /// Starts routing (La Spezia's catalogue), the registry and education, on `today`.
    pub async fn start(today: &str) -> Self {
        Self::start_with(today, false).await
    }

    /// [`Office::start`] with the local pagoPA simulator as education's GPD: fee notices
    /// are real positions there, and the tests pay them as a PSP would.
    pub async fn start_paying(today: &str) -> Self {
        Self::start_with(today, true).await
    }

    async fn start_with(today: &str, paying: bool) -> Self {
        let ctx = TestContext::new(&[
            &sportello_education::SPEC,
            &sportello_registry::SPEC,
            &sportello_routing::SPEC,
        ])
        .await;
        ctx.clock.set(today.parse().unwrap());
        let mut routing_config = sportello_routing::RoutingConfig::from(ctx.config.clone());
        routing_config.seed_municipalities = vec![SPEZIA.parse().unwrap()];
        let routing = Box::pin(TestService::start(
            &sportello_routing::SPEC,
            routing_config,
            sportello_routing::start,
        ))
        .await;
        let registry_config =
            sportello_registry::RegistryConfig::with_key(ctx.config.clone(), KEY).unwrap();
        let registry = Box::pin(TestService::start(
            &sportello_registry::SPEC,
            registry_config,
            sportello_registry::start,
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
                sportello_education::fees::SEGREGATION_CODE.parse().unwrap(),
            )
            .unwrap()
        });
        let config = sportello_education::EducationConfig {
            service: ctx.config.clone(),
            routing_url: Some(routing.grpc_url()),
            registry_url: Some(registry.grpc_url()),
            pseudonym_key: KEY.parse().unwrap(),
            payments,
        };
        let education = Box::pin(TestService::start(
            &sportello_education::SPEC,
            config,
            sportello_education::start,
        ))
        .await;
        StreetServiceClient::new(registry.channel().await)
            .register_street(counter("street.register").request(RegisterStreetRequest {
                municipality_istat_code: SPEZIA.into(),
                street_code: "PRIONE".into(),
                qualifier: "Via".into(),
                name: "del Prione".into(),
                postal_code: "19121".into(),
                idempotency_key: String::new(),
            }))
            .await
            .unwrap();
        Self {
            ctx,
            education,
            registry,
            routing,
            pagopa,
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.education.running.db().pool()
    }

    pub async fn enrolment(&self) -> EnrolmentServiceClient<PeerChannel> {
        EnrolmentServiceClient::new(self.education.channel().await)
    }

    /// Files `application`'s family's objection at the counter.
    pub async fn object(
        &self,
        application: &Application,
        grounds: &str,
    ) -> Result<Objection, tonic::Status> {
        self.enrolment()
            .await
            .file_objection(
                counter("enrolment.objection").request(FileObjectionRequest {
                    application_id: application.id.clone(),
                    grounds: grounds.into(),
                    channel: Channel::Counter as i32,
                    idempotency_key: String::new(),
                }),
            )
            .await
            .map(|r| r.into_inner().objection.unwrap())
    }

    pub async fn objection(&self, id: &str) -> Objection {
        self.enrolment()
            .await
            .get_objection(counter("enrolment.read").request(GetObjectionRequest {
                objection_id: id.into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .objection
            .unwrap()
    }

    pub async fn application(&self, id: &str) -> Application {
        self.enrolment()
            .await
            .get_application(counter("enrolment.read").request(GetApplicationRequest {
                application_id: id.into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap()
    }

    /// Moves the work between education and routing as their running workers would.
    pub async fn hand_over(&self) {
        exchange(&[
            (&self.routing, "work-education"),
            (&self.education, "education-work"),
        ])
        .await;
    }

    /// A specialist of the servizi educativi, present in the back office, accepts the
    /// offered item and completes it with `outcome`.
    pub async fn work(&self, outcome: &str, result: &[(&str, &str)]) {
        let specialist = specialist(&self.routing, "e.conti").await;
        self.hand_over().await;
        let item: String =
            sqlx::query_scalar("select id::text from routing.work_items where state = 'offered'")
                .fetch_one(self.pool())
                .await
                .unwrap();
        let mut back_office = BackOfficeServiceClient::new(self.routing.channel().await);
        back_office
            .accept_offer(specialist.request(AcceptOfferRequest {
                item_id: item.clone(),
                operator_id: "e.conti".into(),
            }))
            .await
            .unwrap();
        let done = back_office
            .complete_work(
                specialist.request(CompleteWorkRequest {
                    item_id: item,
                    operator_id: "e.conti".into(),
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

    /// Offers the window's free places; the codes offered.
    pub async fn offer_places(&self, window: &Window) -> Vec<String> {
        self.enrolment()
            .await
            .offer_places(education_office().request(OfferPlacesRequest {
                window_id: window.id.clone(),
            }))
            .await
            .unwrap()
            .into_inner()
            .offered
            .into_iter()
            .map(|a| a.code)
            .collect()
    }

    /// The family's answer to `application`'s offer, at the counter; the codes the
    /// place passed to.
    pub async fn answer(
        &self,
        application: &Application,
        accept: bool,
    ) -> Result<Vec<String>, tonic::Status> {
        self.enrolment()
            .await
            .answer_offer(counter("enrolment.offer").request(AnswerOfferRequest {
                application_id: application.id.clone(),
                accept,
            }))
            .await
            .map(|r| r.into_inner().offered.into_iter().map(|a| a.code).collect())
    }

    pub fn set_today(&self, at: &str) {
        self.ctx.clock.set(at.parse().unwrap());
    }

    /// Registers a family in La Spezia: `parent` heads it, `child` is their child; their
    /// record ids.
    pub async fn resident_family(&self, parent: Who, child: Who) -> (String, String) {
        let mut residents = ResidentServiceClient::new(self.registry.channel().await);
        let context = counter("resident.register");
        let head = residents
            .register_resident(context.request(person(parent, "")))
            .await
            .unwrap()
            .into_inner()
            .resident
            .unwrap();
        let mut request = person(child, &head.family_id);
        request.relationship = Relationship::Child as i32;
        request.address = None;
        let child = residents
            .register_resident(context.request(request))
            .await
            .unwrap()
            .into_inner()
            .resident
            .unwrap();
        (head.id, child.id)
    }

    /// The registry records that the resident moved to Sarzana on `day`.
    pub async fn moves_away(&self, resident_id: &str, day: &str) {
        ResidentServiceClient::new(self.registry.channel().await)
            .change_resident_status(counter("resident.status").request(
                ChangeResidentStatusRequest {
                    resident_id: resident_id.into(),
                    status: ResidentStatus::MovedAway as i32,
                    effective_date: day.into(),
                    destination: "011027".into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
    }

    /// Moves the registry's events to education, and the work between education and
    /// routing, as their running workers would.
    pub async fn facts_flow(&self) {
        exchange(&[
            (&self.registry, "registry-work"),
            (&self.education, "education-registry"),
            (&self.routing, "work-education"),
            (&self.education, "education-work"),
        ])
        .await;
    }

    /// Opens `level`'s window for 2027/28, from 10 January to 10 February 2027, the
    /// service starting on 1 September, under [`criteria`], with three places, ten days
    /// for objections and seven to answer an offer.
    pub async fn open_window(&self, level: SchoolLevel) -> Window {
        self.open_window_checking(level, 0).await
    }

    /// [`Office::open_window`], checking `check_percent` of the applications' declarations
    /// (0: 5 %, which draws none of fewer than ten applications).
    pub async fn open_window_checking(&self, level: SchoolLevel, check_percent: u32) -> Window {
        self.enrolment()
            .await
            .open_window(education_office().request(OpenWindowRequest {
                municipality_istat_code: SPEZIA.into(),
                level: level as i32,
                school_year: 2027,
                opens_on: "2027-01-10".into(),
                closes_on: "2027-02-10".into(),
                starts_on: "2027-09-01".into(),
                criteria: Some(criteria()),
                idempotency_key: String::new(),
                objection_days: 0,
                places: 3,
                acceptance_days: 0,
                check_percent,
            }))
            .await
            .unwrap()
            .into_inner()
            .window
            .unwrap()
    }
}

/// A sample of published criteria: 10 for residence, 0/4/8 by working parents, 3 per
/// sibling (up to 2), 12 for a disability, income 6/4/2/0 up to €8,000, €15,000, €25,000
/// and above.
pub fn criteria() -> Criteria {
    Criteria {
        version: 1,
        resident_points: 10,
        working_parents_points: vec![0, 4, 8],
        sibling_points: 3,
        max_siblings: 2,
        disability_points: 12,
        income_bands: vec![
            IncomeBand {
                up_to_cents: Some(800_000),
                points: 6,
            },
            IncomeBand {
                up_to_cents: Some(1_500_000),
                points: 4,
            },
            IncomeBand {
                up_to_cents: Some(2_500_000),
                points: 2,
            },
            IncomeBand {
                up_to_cents: None,
                points: 0,
            },
        ],
    }
}

/// An application for `child` by `parent` at the counter, with no declarations.
pub fn application(window: &Window, parent: Who, child: Who) -> FileApplicationRequest {
    FileApplicationRequest {
        window_id: window.id.clone(),
        child_fiscal_code: code_of(child),
        applicant_fiscal_code: code_of(parent),
        applicant_name: format!("{} {}", parent.1, parent.0),
        channel: sportello_proto::common::v1::Channel::Counter as i32,
        ..Default::default()
    }
}

/// A registration of `who` at Via del Prione 12, resident since 1 January 2026 (a new
/// family unless one is given).
pub fn person(who: Who, family_id: &str) -> RegisterResidentRequest {
    let (surname, name, sex, birth, place) = who;
    RegisterResidentRequest {
        municipality_istat_code: SPEZIA.into(),
        fiscal_code: code_of(who),
        surname: surname.into(),
        given_names: name.into(),
        sex: sex as i32,
        birth_date: birth.into(),
        birthplace_code: place.into(),
        citizenship: "IT".into(),
        address: Some(NewAddress {
            street_code: "PRIONE".into(),
            house_number: "12".into(),
        }),
        family_id: family_id.into(),
        relationship: 0,
        effective_date: "2026-01-01".into(),
        idempotency_key: String::new(),
        ground: sportello_proto::registry::v1::RegistrationGround::DataLoad as i32,
    }
}

/// The fiscal code the rules give for `who`.
pub fn code_of(who: Who) -> String {
    let (surname, name, sex, birth, place) = who;
    let sex = match sex {
        Sex::Female => sportello_pa::Sex::Female,
        _ => sportello_pa::Sex::Male,
    };
    sportello_pa::fiscal_code::encode(&sportello_pa::fiscal_code::Person {
        surname,
        name,
        sex,
        birth_date: birth.parse().unwrap(),
        birthplace: place.parse().unwrap(),
    })
    .unwrap()
    .as_str()
    .to_owned()
}

/// An operator of La Spezia at a multi-purpose counter, through the gateway.
pub fn counter(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:op-7", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Polivalente])
}

/// The education office's specialist (windows, rankings).
pub fn education_office() -> CallContext {
    CallContext::new("gateway", "operator:ed-1", SPEZIA, "enrolment.manage")
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("education"))
}

/// Rows in a table (schema-qualified where it is another service's).
pub async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A back-office specialist of the servizi educativi in routing, present for work.
pub async fn specialist(routing: &TestService, id: &str) -> CallContext {
    let mut operators = OperatorServiceClient::new(routing.channel().await);
    let admin = CallContext::new("gateway", "operator:admin", SPEZIA, "operator.upsert")
        .unwrap()
        .with_roles(&[Role::Admin]);
    operators
        .upsert_operator(admin.request(UpsertOperatorRequest {
            operator: Some(Operator {
                id: id.into(),
                municipality_istat_code: SPEZIA.into(),
                display_name: format!("Specialista {id}"),
                tier: Tier::BackOffice as i32,
                department: "servizi_educativi".into(),
                skills: vec![Skill {
                    skill: "servizi_educativi".into(),
                    proficiency: 4,
                }],
                ..Default::default()
            }),
        }))
        .await
        // Already there from an earlier item: the same operator.
        .or_else(|status| {
            if status.code() == tonic::Code::Aborted {
                Ok(tonic::Response::new(Default::default()))
            } else {
                Err(status)
            }
        })
        .unwrap();
    let context = CallContext::new("gateway", &format!("operator:{id}"), SPEZIA, "work.serve")
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("servizi_educativi"));
    operators
        .set_presence(context.request(SetPresenceRequest {
            operator_id: id.into(),
            presence: Presence::BackOffice as i32,
        }))
        .await
        .unwrap();
    context
}
