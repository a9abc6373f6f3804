//! Mobility (mobilità): permits tied to people and vehicles — limited-traffic-zone (ZTL)
//! and resident parking permits, disabled parking badges (CUDE), the zones they are
//! valid in, and the whitelist the zone's cameras ask.
//!
//! Layout: [`zones`] (streets, hours, fees, quota), [`permits`] (issuing, pagoPA, reviews
//! when the registry's facts change, the calendar's end), [`badges`] (the CUDE desk, its
//! certification sealed), [`whitelist`] (the cameras' check from memory and history, the
//! day's CSV); [`facts`] asks the registry; [`error`] is the service's one error table;
//! [`access`] says who may call what.

pub mod access;
pub mod badges;
pub mod config;
pub mod error;
pub mod facts;
pub mod permits;
pub mod retention;
pub mod whitelist;
pub mod zones;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
    Subscription,
    payments::{Ledger, PaidHandlers},
    require_call_context,
};
use sportello_proto::mobility::v1::{
    badge_service_server::BadgeServiceServer, permit_service_server::PermitServiceServer,
    whitelist_service_server::WhitelistServiceServer, zone_service_server::ZoneServiceServer,
};
use tokio_util::sync::CancellationToken;

pub use config::{IntoMobilityConfig, MobilityConfig};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The mobility service's name, ports, migrations and stream.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "mobility",
    ports: DefaultPorts {
        grpc: 50055,
        metrics: 9105,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "mobility",
        subjects: &["mobility.>"],
    }],
    // The registry's events about residents, routing's about mobility's work: the
    // consumers' NATS permissions come from here.
    consumers: mobility_consumers,
    // Each replica's whitelist follows the permit and badge events (whitelist::follow).
    subscriptions: &[Subscription::Ordered {
        stream_part: "mobility",
        subjects: whitelist::follow::SUBJECTS,
    }],
    serves_http: false,
    policy: &access::POLICY,
};

fn mobility_consumers() -> Vec<sportello_kit::ConsumerSpec> {
    vec![
        permits::reviews::consumer_spec(),
        permits::work::consumer_spec(),
    ]
}

/// Starts the mobility service on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: impl IntoMobilityConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let config = config.into_mobility_config()?;
    let mut service = Service::start(&SPEC, config.service.clone()).await?;
    service.retain(retention::RULES);
    service.consume(
        permits::reviews::consumer_spec(),
        permits::reviews::RegistryEvents,
    );
    service.consume(permits::work::consumer_spec(), permits::work::WorkEvents);
    service.on_timer(permits::lifecycle::EXPIRY_TIMER, permits::lifecycle::Expiry);
    service.on_timer(permits::lifecycle::GRACE_TIMER, permits::lifecycle::Grace);
    service.on_timer(permits::lifecycle::UNPAID_TIMER, permits::lifecycle::Unpaid);
    service.on_timer(badges::lifecycle::RENEWAL_TIMER, badges::lifecycle::Renewal);
    service.on_timer(badges::lifecycle::EXPIRY_TIMER, badges::lifecycle::Expiry);
    if config.health_keys.is_none() {
        tracing::warn!("HEALTH_DATA_KEYS is not set: the disabled badges' desk is unavailable");
    }
    // The permits' debt positions; the receipt poller activates them.
    let ledger = Ledger::install(
        &mut service,
        permits::DOMAIN,
        config.payments.clone(),
        PaidHandlers::new().on(permits::CHARGE, permits::notices::paid),
    )
    .await?;
    let registry = match &config.registry_url {
        Some(url) => Some(
            service
                .channel_to("registry", url)
                .map_err(|e| StartError::Other(format!("REGISTRY_URL: {e}")))?,
        ),
        None => {
            tracing::warn!("REGISTRY_URL is not set: resident and guest permits are unavailable");
            None
        }
    };
    let db = service.db().clone();
    let whitelist = whitelist::memory::Whitelist::default();
    whitelist
        .reload(&db)
        .await
        .map_err(|e| StartError::Other(format!("whitelist: {e}")))?;
    tokio::spawn(whitelist::follow::follow(
        whitelist.clone(),
        db.clone(),
        service.nats().clone(),
        config.service.subject_prefix.clone(),
        shutdown.clone(),
    ));
    let facts = facts::RegistryFacts::new(registry);
    let badge_office = badges::BadgeOffice {
        db: db.clone(),
        facts: facts.clone(),
        key: config.pseudonym_key.clone(),
        health_keys: config.health_keys.clone(),
    };
    let desk = permits::Desk {
        db: db.clone(),
        facts,
        key: config.pseudonym_key.clone(),
        ledger,
    };
    let api = Api::new()
        .grpc(ZoneServiceServer::with_interceptor(
            zones::grpc::Zones::new(db.clone()),
            require_call_context,
        ))
        .grpc(PermitServiceServer::with_interceptor(
            permits::grpc::Permits::new(desk),
            require_call_context,
        ))
        .grpc(BadgeServiceServer::with_interceptor(
            badges::grpc::Badges::new(badge_office),
            require_call_context,
        ))
        .grpc(WhitelistServiceServer::with_interceptor(
            whitelist::grpc::Cameras::new(db, whitelist),
            require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}
