//! URP started in-process with routing (the protocol register, the back office's work)
//! on one fresh database and one manual clock: nothing faked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code, unreachable_pub)]

use sportello_kit::{
    CallContext, PeerChannel, Role,
    testing::{TestContext, TestService, exchange},
};
use sportello_proto::urp::v1::{
    Category, DefineCategoryRequest, ReportKind, access_service_client::AccessServiceClient,
    report_service_client::ReportServiceClient,
};

/// La Spezia.
pub const SPEZIA: &str = "011015";
/// The deployment's pseudonymisation secret.
pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// The fiscal code that must never leave URP's own columns.
pub const CANARY: &str = "RSSMRA85T10A562S";

/// URP and routing.
pub struct Office {
    pub ctx: TestContext,
    pub urp: TestService,
    pub routing: TestService,
}

impl Office {
    /// Starts routing (La Spezia's catalogue) and URP on `today`.
    pub async fn start(today: &str) -> Self {
        let ctx = TestContext::new(&[&sportello_urp::SPEC, &sportello_routing::SPEC]).await;
        ctx.clock.set(today.parse().unwrap());
        let mut routing_config = sportello_routing::RoutingConfig::from(ctx.config.clone());
        routing_config.seed_municipalities = vec![SPEZIA.parse().unwrap()];
        let routing = Box::pin(TestService::start(
            &sportello_routing::SPEC,
            routing_config,
            sportello_routing::start,
        ))
        .await;
        let config = sportello_urp::UrpConfig {
            service: ctx.config.clone(),
            routing_url: Some(routing.grpc_url()),
            documents: Default::default(),
            pseudonym_key: KEY.parse().unwrap(),
            mailer: None,
            reply_days: 30,
            copy_cents_per_page: 25,
        };
        let urp = Box::pin(TestService::start(
            &sportello_urp::SPEC,
            config,
            sportello_urp::start,
        ))
        .await;
        Self { ctx, urp, routing }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.urp.running.db().pool()
    }

    pub async fn accesses(&self) -> AccessServiceClient<PeerChannel> {
        AccessServiceClient::new(self.urp.channel().await)
    }

    pub async fn reports(&self) -> ReportServiceClient<PeerChannel> {
        ReportServiceClient::new(self.urp.channel().await)
    }

    /// Publishes URP's outbox and moves the work between URP and routing.
    pub async fn work_flows(&self) {
        self.urp.running.workers.timers.run_once().await.unwrap();
        exchange(&[(&self.routing, "work-urp"), (&self.urp, "urp-work")]).await;
    }

    pub async fn define(&self, code: &str, kind: ReportKind, location_required: bool) {
        self.reports()
            .await
            .define_category(admin().request(DefineCategoryRequest {
                category: Some(Category {
                    municipality_istat_code: SPEZIA.into(),
                    code: code.into(),
                    name: format!("Categoria {code}"),
                    description: String::new(),
                    group: "Strade".into(),
                    kind: kind as i32,
                    location_required,
                    reply_days: 0,
                    keywords: vec![],
                    office: "Manutenzione strade".into(),
                    active: true,
                }),
            }))
            .await
            .unwrap();
    }
}

/// An administrator of La Spezia.
pub fn admin() -> CallContext {
    CallContext::new("gateway", "operator:admin", SPEZIA, "urp.categories")
        .unwrap()
        .with_roles(&[Role::Admin])
}

/// The public web, through the gateway.
pub fn web() -> CallContext {
    CallContext::new("gateway", "anonymous:web", SPEZIA, "urp.report").unwrap()
}

/// A specialist of the URP's back office.
pub fn urp_office(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:urp-1", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("urp"))
}

/// The transparency officer (a manager).
pub fn transparency_officer() -> CallContext {
    CallContext::new("gateway", "operator:rpct", SPEZIA, "urp.access.review")
        .unwrap()
        .with_roles(&[Role::Manager])
}
