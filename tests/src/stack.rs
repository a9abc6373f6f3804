//! All seven services, started in-process on port 0.

use sportello_gateway::config::{DEMO_MUNICIPALITY, GatewayConfig, PEERS, Peer, WebConfig};
use sportello_kit::{
    CallContext, ServiceSpec,
    testing::{TestContext, TestService},
};

/// Every service's spec, gateway last.
pub const SPECS: [&ServiceSpec; 7] = [
    &sportello_routing::SPEC,
    &sportello_registry::SPEC,
    &sportello_education::SPEC,
    &sportello_suap::SPEC,
    &sportello_mobility::SPEC,
    &sportello_urp::SPEC,
    &sportello_gateway::SPEC,
];

/// The registry's pseudonymisation secret in the stack (64 hex digits).
const REGISTRY_KEY: &str = "5370f1a1e5ce4e7d9b0c2a6f3e8d1b4c7a9e2f5d8c1b4a7e0d3c6f9b2e5a8d1c";

/// The running stack.
#[derive(Debug)]
pub struct Stack {
    /// The test context (database, NATS prefix, clock).
    pub ctx: TestContext,
    /// The six domain services, in [`PEERS`] order.
    pub services: Vec<(&'static str, TestService)>,
    /// The gateway.
    pub gateway: TestService,
}

impl Stack {
    /// Starts every service on one fresh database and one NATS prefix.
    pub async fn start() -> Self {
        // Boxed: the whole stack's start-up is a large future.
        Box::pin(Self::start_with(WebConfig::default())).await
    }

    /// [`Stack::start`] with the gateway's web settings given (caps, proxies).
    pub async fn start_with(web: WebConfig) -> Self {
        let ctx = TestContext::new(&SPECS).await;
        let config = ctx.config.clone();
        // Routing first: the registry reaches it (the protocol register, the intake of a
        // change of residence), as in `make run`.
        let routing = Box::pin(TestService::start(
            &sportello_routing::SPEC,
            // The shipped La Spezia catalogue, as make run has it.
            sportello_routing::config::RoutingConfig {
                seed_municipalities: vec![DEMO_MUNICIPALITY],
                ..config.clone().into()
            },
            sportello_routing::start,
        ))
        .await;
        let mut registry_config =
            sportello_registry::config::RegistryConfig::with_key(config.clone(), REGISTRY_KEY)
                .expect("a valid test key");
        registry_config.routing_url = Some(routing.grpc_url());
        // URP registers reports in routing's protocol register, as in `make run`.
        let urp_config = sportello_urp::UrpConfig {
            routing_url: Some(routing.grpc_url()),
            pseudonym_key: REGISTRY_KEY.parse().expect("a valid test key"),
            ..sportello_urp::IntoUrpConfig::into_urp_config(config.clone())
                .expect("the common configuration")
        };
        // Boxed: five service start-ups side by side make a large future.
        let (registry, education, suap, mobility, urp) = Box::pin(async {
            tokio::join!(
                TestService::start(
                    &sportello_registry::SPEC,
                    registry_config,
                    sportello_registry::start
                ),
                TestService::start(
                    &sportello_education::SPEC,
                    config.clone(),
                    sportello_education::start
                ),
                TestService::start(&sportello_suap::SPEC, config.clone(), sportello_suap::start),
                TestService::start(
                    &sportello_mobility::SPEC,
                    config.clone(),
                    sportello_mobility::start
                ),
                TestService::start(&sportello_urp::SPEC, urp_config, sportello_urp::start),
            )
        })
        .await;
        let services = vec![
            ("routing", routing),
            ("registry", registry),
            ("education", education),
            ("suap", suap),
            ("mobility", mobility),
            ("urp", urp),
        ];
        let peers = PEERS
            .iter()
            .map(|(name, _)| {
                let service = &services
                    .iter()
                    .find(|(n, _)| n == name)
                    .expect("every peer started")
                    .1;
                Peer {
                    name,
                    url: service.grpc_url(),
                }
            })
            .collect();
        let gateway = TestService::start(
            &sportello_gateway::SPEC,
            GatewayConfig {
                service: config,
                peers,
                web,
            },
            sportello_gateway::start,
        )
        .await;
        Self {
            ctx,
            services,
            gateway,
        }
    }

    /// Fails if NATS refused any service anything so far: every subject, consumer and
    /// subscription a service uses must come from its spec.
    pub fn assert_nats_refused_nothing(&self) {
        let refused = self.ctx.nats.violations();
        assert!(
            refused.is_empty(),
            "NATS refused the services: {refused:#?}"
        );
    }

    /// A service by name (the gateway included).
    pub fn service(&self, name: &str) -> &TestService {
        if name == "gateway" {
            return &self.gateway;
        }
        &self
            .services
            .iter()
            .find(|(n, _)| *n == name)
            .expect("known service")
            .1
    }

    /// Every service, gateway last.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &TestService)> {
        self.services
            .iter()
            .map(|(n, s)| (*n, s))
            .chain([("gateway", &self.gateway)])
    }
}

/// A call context for tests: an administrator of La Spezia, acting through a department
/// system or the gateway.
pub fn context(purpose: &str) -> CallContext {
    CallContext::new("e2e-tests", "operator:op-1", "011015", purpose)
        .expect("valid context")
        .with_roles(&[sportello_kit::Role::Admin])
}
