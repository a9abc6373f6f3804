//! Routing started in-process for its tests, with La Spezia's catalogue, a site, and
//! helpers that read like the counter's story.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod replica;
pub mod work;

use sportello_kit::PeerChannel as Channel;
use sportello_kit::{
    CallContext,
    testing::{TestContext, TestService},
};
use sportello_proto::{
    common::v1::Address,
    routing::v1::{
        Call, CallNextRequest, CompleteRequest, CreateSiteRequest, IssueTicketRequest,
        IssueTicketResponse, Operator, Presence, PriorityCategory, SetPresenceRequest,
        SitAtCounterRequest, SiteSettings, Skill, Tier, UpsertOperatorRequest,
        case_service_client::CaseServiceClient, operator_service_client::OperatorServiceClient,
        site_service_client::SiteServiceClient,
    },
};

pub const LA_SPEZIA: &str = "011015";

pub async fn context() -> TestContext {
    TestContext::new(&[&sportello_routing::SPEC]).await
}

/// Routing with La Spezia's catalogue seeded.
pub async fn start(ctx: &TestContext) -> TestService {
    start_with_heartbeat(ctx, std::time::Duration::from_secs(90)).await
}

/// Routing with La Spezia's catalogue seeded and the given heartbeat timeout.
pub async fn start_with_heartbeat(
    ctx: &TestContext,
    heartbeat: std::time::Duration,
) -> TestService {
    let mut config = sportello_routing::RoutingConfig::from(ctx.config.clone());
    config.heartbeat_timeout = heartbeat;
    config.seed_municipalities = vec![LA_SPEZIA.parse().unwrap()];
    TestService::start(&sportello_routing::SPEC, config, sportello_routing::start).await
}

/// A department system acting for an operator of La Spezia.
pub fn call(purpose: &str) -> CallContext {
    CallContext::new("tests", "operator:op-1", LA_SPEZIA, purpose)
        .unwrap()
        .with_roles(&[sportello_kit::Role::Admin])
}

pub fn request<T>(message: T) -> tonic::Request<T> {
    call("tests").request(message)
}

/// A request made by operator `id` themselves.
pub fn as_operator<T>(id: &str, message: T) -> tonic::Request<T> {
    CallContext::new(
        "gateway",
        &format!("operator:{id}"),
        LA_SPEZIA,
        "counter.serve",
    )
    .unwrap()
    .with_roles(&[sportello_kit::Role::Polivalente])
    .request(message)
}

/// A request of a service acting as itself (a department's intake opening a case).
pub fn as_service<T>(message: T) -> tonic::Request<T> {
    CallContext::new("tests", "system:intake", LA_SPEZIA, "case.open")
        .unwrap()
        .request(message)
}

/// The kiosk's requests.
pub fn as_kiosk<T>(message: T) -> tonic::Request<T> {
    CallContext::new("gateway", "system:kiosk-1", LA_SPEZIA, "ticket.issue")
        .unwrap()
        .with_roles(&[sportello_kit::Role::Kiosk])
        .request(message)
}

/// A front desk: routing, one site, clients.
pub struct Desk {
    pub ctx: TestContext,
    pub routing: TestService,
    pub site_id: String,
    pub cases: CaseServiceClient<Channel>,
    pub operators: OperatorServiceClient<Channel>,
}

impl Desk {
    /// Routing with a site of `counters` counters and the given settings.
    pub async fn open(counters: u32, settings: SiteSettings) -> Self {
        let ctx = context().await;
        Self::open_with(ctx, counters, settings).await
    }

    pub async fn open_with(ctx: TestContext, counters: u32, settings: SiteSettings) -> Self {
        let routing = start(&ctx).await;
        Self::open_on(ctx, routing, counters, settings).await
    }

    /// A desk on a routing already started.
    pub async fn open_on(
        ctx: TestContext,
        routing: TestService,
        counters: u32,
        settings: SiteSettings,
    ) -> Self {
        let channel = routing.channel().await;
        let site = SiteServiceClient::new(channel.clone())
            .create_site(request(CreateSiteRequest {
                municipality_istat_code: LA_SPEZIA.into(),
                code: "palazzo-civico".into(),
                name: "Palazzo Civico".into(),
                address: Some(Address {
                    street_name: "Piazza Europa".into(),
                    house_number: "1".into(),
                    postal_code: "19124".into(),
                    ..Default::default()
                }),
                counter_count: counters,
                idempotency_key: String::new(),
                settings: Some(settings),
            }))
            .await
            .unwrap()
            .into_inner()
            .site
            .unwrap();
        Self {
            ctx,
            site_id: site.id,
            cases: CaseServiceClient::new(channel.clone()),
            operators: OperatorServiceClient::new(channel),
            routing,
        }
    }

    /// An operator with `skills`, seated at `counter` and available.
    pub async fn operator(
        &mut self,
        id: &str,
        tier: Tier,
        skills: &[(&str, u32)],
        counter: u32,
    ) -> Operator {
        self.operators
            .upsert_operator(request(UpsertOperatorRequest {
                operator: Some(Operator {
                    id: id.into(),
                    municipality_istat_code: LA_SPEZIA.into(),
                    display_name: format!("Operatore {id}"),
                    tier: tier as i32,
                    department: "anagrafe".into(),
                    skills: skills
                        .iter()
                        .map(|(s, p)| Skill {
                            skill: (*s).into(),
                            proficiency: *p,
                        })
                        .collect(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        self.operators
            .sit_at_counter(as_operator(
                id,
                SitAtCounterRequest {
                    operator_id: id.into(),
                    site_id: self.site_id.clone(),
                    counter_number: counter,
                },
            ))
            .await
            .unwrap();
        self.available(id).await
    }

    pub async fn available(&mut self, id: &str) -> Operator {
        self.presence(id, Presence::Available).await.unwrap()
    }

    pub async fn presence(
        &mut self,
        id: &str,
        presence: Presence,
    ) -> Result<Operator, tonic::Status> {
        Ok(self
            .operators
            .set_presence(as_operator(
                id,
                SetPresenceRequest {
                    operator_id: id.into(),
                    presence: presence as i32,
                },
            ))
            .await?
            .into_inner()
            .operator
            .unwrap())
    }

    /// A kiosk ticket.
    pub async fn ticket(
        &mut self,
        services: &[&str],
        priority: PriorityCategory,
    ) -> IssueTicketResponse {
        self.cases
            .issue_ticket(as_kiosk(IssueTicketRequest {
                site_id: self.site_id.clone(),
                service_codes: services.iter().map(|s| (*s).to_owned()).collect(),
                priority_category: priority as i32,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
    }

    /// The operator presses "Chiama il prossimo".
    pub async fn call_next(&mut self, id: &str) -> Option<Call> {
        self.cases
            .call_next(as_operator(
                id,
                CallNextRequest {
                    operator_id: id.into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .call
    }

    pub async fn complete(
        &mut self,
        id: &str,
        case_id: &str,
        outcome: &str,
    ) -> Result<sportello_proto::routing::v1::CompleteResponse, tonic::Status> {
        Ok(self
            .cases
            .complete(as_operator(
                id,
                CompleteRequest {
                    operator_id: id.into(),
                    case_id: case_id.into(),
                    outcome_code: outcome.into(),
                    appointment: None,
                },
            ))
            .await?
            .into_inner())
    }

    /// Moves the clock by `minutes`.
    pub fn wait(&self, minutes: i64) {
        self.ctx
            .clock
            .advance(jiff::SignedDuration::from_mins(minutes));
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.routing.running.db().pool()
    }
}

pub const RESIDENCE: &str = "registry.residence_certificate";
pub const FAMILY: &str = "registry.family_status_certificate";
pub const INFO: &str = "urp.information";
pub const SCHOOL: &str = "education.school_enrolment";

pub fn settings(bound: u32, calls: u32) -> SiteSettings {
    SiteSettings {
        priority_bound_minutes: bound,
        no_show_after_calls: calls,
        service_groups: vec![],
    }
}
