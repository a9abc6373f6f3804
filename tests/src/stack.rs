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
        Box::pin(Self::start_tuned(web, |_| {})).await
    }

    /// [`Stack::start_with`], with the gateway's configuration changed by `tune` just
    /// before it starts (a peer's URL pointed at a fault proxy, a deadline).
    pub async fn start_tuned(web: WebConfig, tune: impl FnOnce(&mut GatewayConfig)) -> Self {
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
        // The registry next: education and mobility reach it.
        let registry = Box::pin(TestService::start(
            &sportello_registry::SPEC,
            registry_config,
            sportello_registry::start,
        ))
        .await;
        let registry_url = registry.grpc_url();
        // Education and mobility ask the registry for residence facts, and education
        // registers applications in routing's protocol register, as in `make run`.
        let education_config = sportello_education::EducationConfig {
            routing_url: Some(routing.grpc_url()),
            registry_url: Some(registry_url.clone()),
            pseudonym_key: REGISTRY_KEY.parse().expect("a valid test key"),
            ..sportello_education::IntoEducationConfig::into_education_config(config.clone())
                .expect("the common configuration")
        };
        let mobility_config = sportello_mobility::MobilityConfig {
            registry_url: Some(registry_url),
            pseudonym_key: REGISTRY_KEY.parse().expect("a valid test key"),
            ..sportello_mobility::IntoMobilityConfig::into_mobility_config(config.clone())
                .expect("the common configuration")
        };
        let suap_config = config.clone();
        // Boxed, and owning their configurations: four service start-ups side by side
        // make a large future.
        let (education, suap, mobility, urp) = Box::pin(async move {
            tokio::join!(
                TestService::start(
                    &sportello_education::SPEC,
                    education_config,
                    sportello_education::start
                ),
                TestService::start(&sportello_suap::SPEC, suap_config, sportello_suap::start),
                TestService::start(
                    &sportello_mobility::SPEC,
                    mobility_config,
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
        let mut gateway_config = GatewayConfig {
            service: config,
            peers,
            web,
        };
        tune(&mut gateway_config);
        let gateway = TestService::start(
            &sportello_gateway::SPEC,
            gateway_config,
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

    /// Runs every service's workers as the running ones would — due timers, outbox
    /// relays and every consumer — until nothing moves for three rounds in a row.
    pub async fn settle(&self) {
        let mut quiet = 0;
        for _ in 0..200 {
            let mut moved = 0;
            for (_, service) in self.all() {
                let workers = &service.running.workers;
                moved += workers.timers.run_once().await.expect("fire the timers");
                moved += workers
                    .relay
                    .run_once()
                    .await
                    .expect("relay the outbox")
                    .published;
            }
            for (_, service) in self.all() {
                for consumer in &service.running.workers.consumers {
                    moved += consumer
                        .run_once(50)
                        .await
                        .expect("step the consumer")
                        .iter()
                        .filter(|o| **o != sportello_kit::inbox::Outcome::WillRetry)
                        .count();
                }
            }
            if moved > 0 {
                quiet = 0;
                continue;
            }
            quiet += 1;
            if quiet == 3 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the services' workers kept moving after 200 rounds");
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
