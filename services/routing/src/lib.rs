//! Routing: the service catalogue, sites and counters, queues and tickets, operators and
//! their presence, cases from every channel, and the decision of who serves whom next;
//! also the protocol register, since every case passes through here.
//!
//! Layout: each area is a module with its `domain` (request parsing), `store` (SQL) and
//! `grpc` (the tonic service); [`dispatch`] decides in memory who is called next and
//! claims in PostgreSQL; [`error`] is routing's one error table.

pub mod access;
pub mod appointments;
pub mod cases;
pub mod catalogue;
pub mod config;
pub mod dispatch;
pub mod domain;
pub mod error;
pub mod operators;
pub mod protocol;
pub mod retention;
pub mod sites;
pub mod surges;
pub mod work;

use sportello_kit::{
    Api, DefaultPorts, Listeners, Running, Service, ServiceSpec, StartError, StreamSpec,
    Subscription, require_call_context,
};
use sportello_proto::routing::v1::{
    appointment_service_server::AppointmentServiceServer,
    back_office_service_server::BackOfficeServiceServer, case_service_server::CaseServiceServer,
    catalogue_service_server::CatalogueServiceServer,
    operator_service_server::OperatorServiceServer, protocol_service_server::ProtocolServiceServer,
    site_service_server::SiteServiceServer, surge_service_server::SurgeServiceServer,
};
use tokio_util::sync::CancellationToken;

pub use crate::config::RoutingConfig;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Routing's name, ports, migrations and stream. The counter flow publishes on
/// `case.*`, `ticket.*`, `operator.*` and `protocol.*` besides `routing.*`; the back
/// office tells each department what became of its work on `work.<department>.*`.
pub static SPEC: ServiceSpec = ServiceSpec {
    name: "routing",
    ports: DefaultPorts {
        grpc: 50051,
        metrics: 9101,
        http: 0,
    },
    migrator: &MIGRATOR,
    streams: &[StreamSpec {
        part: "routing",
        subjects: &[
            "routing.>",
            "case.>",
            "ticket.>",
            "operator.>",
            "protocol.>",
            "work.>",
        ],
    }],
    consumers,
    // Each replica's ordered view of the waiting cases (dispatch::sync).
    subscriptions: &[Subscription::Ordered {
        stream_part: "routing",
        subjects: dispatch::sync::SUBJECTS,
    }],
    serves_http: false,
    policy: &access::POLICY,
};

/// The durable consumers routing runs: each department's work, on its stream, and
/// education's windows and applications (the surges).
fn consumers() -> Vec<sportello_kit::ConsumerSpec> {
    work::consumer::DEPARTMENT_SUBJECTS
        .into_iter()
        .map(|(department, subjects)| work::consumer::spec(department, subjects))
        .chain([surges::consumer::spec()])
        .collect()
}

/// Starts routing on `listeners` until `shutdown` is cancelled.
pub async fn start(
    config: impl Into<RoutingConfig>,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    // Boxed: the start-up holds every part of routing at once, too much for the stack of
    // whoever awaits it.
    Box::pin(start_boxed(config.into(), listeners, shutdown)).await
}

async fn start_boxed(
    config: RoutingConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<Running, StartError> {
    let mut service = Service::start(&SPEC, config.service.clone()).await?;
    service.retain(retention::RULES);
    let db = service.db().clone();
    let other = |e: &dyn std::fmt::Display| StartError::Other(e.to_string());
    for municipality in &config.seed_municipalities {
        catalogue::seed::apply(&db, *municipality)
            .await
            .map_err(|e| other(&e))?;
    }
    let cache = catalogue::cache::CatalogueCache::new(db.clone());
    let site_cache = sites::cache::SiteCache::new(db.clone());

    // Decide in memory: this replica's view of the waiting cases, loaded now and kept
    // current from the routing stream.
    let dispatcher = dispatch::Dispatcher::default();
    dispatcher.reload(&db).await.map_err(|e| other(&e))?;
    service.on_timer(
        operators::presence::HEARTBEAT_TIMER,
        operators::presence::HeartbeatCheck {
            timeout: config.heartbeat_timeout,
        },
    );

    // The back office: the departments' work through their streams, offers, the clock.
    let work = work::flow::WorkFlow {
        db: db.clone(),
        catalogue: cache.clone(),
        settings: config.offers,
        index: work::index::WorkIndex::default(),
    };
    work.reload_index().await.map_err(|e| other(&e))?;
    tokio::spawn(dispatch::sync::follow(
        dispatcher.clone(),
        work.clone(),
        cache.clone(),
        site_cache.clone(),
        db.clone(),
        service.nats().clone(),
        config.service.subject_prefix.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(work::gauges::run(
        db.clone(),
        config.gauges_every,
        shutdown.clone(),
    ));
    for (department, subjects) in work::consumer::DEPARTMENT_SUBJECTS {
        service.consume(
            work::consumer::spec(department, subjects),
            work::consumer::WorkHandler {
                department,
                flow: work.clone(),
            },
        );
    }
    service.on_timer(
        work::flow::OFFER_TIMER,
        work::timers::OfferLapse(work.clone()),
    );
    service.on_timer(
        work::flow::WIDEN_TIMER,
        work::timers::Widening(work.clone()),
    );
    service.on_timer(
        work::flow::ESCALATION_TIMER,
        work::timers::Escalation(work.clone()),
    );

    // The peak at the counter: education's windows re-skill the surge rosters.
    let surges = surges::flow::SurgeFlow {
        db: db.clone(),
        catalogue: cache.clone(),
    };
    service.consume(
        surges::consumer::spec(),
        surges::consumer::SurgeHandler(surges.clone()),
    );
    for kind in [surges::START_TIMER, surges::END_TIMER] {
        service.on_timer(kind, surges::timers::SurgeTimers(surges.clone()));
    }

    let appointments = appointments::Appointments {
        db: db.clone(),
        catalogue: cache.clone(),
        sites: site_cache.clone(),
        dispatcher: dispatcher.clone(),
        key: config.pseudonym_key.clone(),
        mailer: config.mailer.clone(),
        calendars: appointments::slots::CalendarCache::default(),
        claims: appointments::claims::Claims::default(),
    };
    for kind in [
        appointments::CONFIRM_TIMER,
        appointments::NO_SHOW_TIMER,
        appointments::REMINDER_TIMER,
        appointments::OFFER_TIMER,
    ] {
        service.on_timer(
            kind,
            appointments::arrival::BookingTimers(appointments.clone()),
        );
    }

    let flow = cases::Flow {
        db: db.clone(),
        dispatcher,
        catalogue: cache.clone(),
        sites: site_cache.clone(),
    };
    let api = Api::new()
        .grpc(CaseServiceServer::with_interceptor(
            cases::grpc::Cases::new(flow),
            require_call_context,
        ))
        .grpc(OperatorServiceServer::with_interceptor(
            operators::grpc::Operators::new(db.clone(), config.heartbeat_timeout)
                .with_back_office(work.clone()),
            require_call_context,
        ))
        .grpc(SiteServiceServer::with_interceptor(
            sites::grpc::Sites::new(db.clone(), site_cache),
            require_call_context,
        ))
        .grpc(CatalogueServiceServer::with_interceptor(
            catalogue::grpc::CatalogueApi::new(db.clone(), cache),
            require_call_context,
        ))
        .grpc(ProtocolServiceServer::with_interceptor(
            protocol::grpc::Register::new(db, config.protocol_name_keys.clone()),
            require_call_context,
        ))
        .grpc(BackOfficeServiceServer::with_interceptor(
            work::grpc::BackOffice::new(work),
            require_call_context,
        ))
        .grpc(SurgeServiceServer::with_interceptor(
            surges::grpc::SurgeApi(surges),
            require_call_context,
        ))
        .grpc(AppointmentServiceServer::with_interceptor(
            appointments::grpc::AppointmentApi(appointments),
            require_call_context,
        ));
    service.serve(api, listeners, shutdown).await
}
