//! The whole stack: seven services healthy, each callable by a client that knows only
//! what reflection tells it, each call writing its database and emitting its event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use sportello_tests::{
    dynamic, http,
    stack::{Stack, context},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

#[tokio::test]
async fn all_seven_services_are_serving_and_the_gateway_says_so() {
    let stack = Stack::start().await;
    for (name, service) in stack.all() {
        let reply = HealthClient::new(service.channel().await)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap_or_else(|e| panic!("{name} health: {e}"));
        assert_eq!(
            reply.into_inner().status(),
            ServingStatus::Serving,
            "{name}"
        );
    }

    let http_addr = stack
        .gateway
        .running
        .http_addr
        .expect("the gateway serves HTTP");
    let (status, body) = http::get(http_addr, "/api/v1/status").await;
    assert_eq!(status, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["all_serving"], true, "{status:#}");
    // Which services, and where, only for operations staff (gateway_abuse.rs).
    assert!(status.get("services").is_none(), "{status:#}");

    let (status, page) = http::get(http_addr, "/stato").await;
    assert_eq!(status, 200);
    assert!(page.contains("Tutti i servizi sono in servizio"), "{page}");
}

/// Each service's one RPC, its request as JSON, and a field of the reply to check.
fn calls() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    serde_json::Value,
    &'static str,
    &'static str,
)> {
    let address =
        json!({"street_name": "Piazza Europa", "house_number": "1", "postal_code": "19124"});
    vec![
        (
            "routing",
            "sportello.routing.v1.SiteService",
            "CreateSite",
            json!({"municipality_istat_code": "011015", "code": "palazzo-civico", "name": "Palazzo Civico",
                "address": address, "counter_count": 8}),
            "/site/code",
            "palazzo-civico",
        ),
        (
            "registry",
            "sportello.registry.v1.StreetService",
            "RegisterStreet",
            json!({"municipality_istat_code": "011015", "street_code": "PRIONE", "qualifier": "Via",
                "name": "del Prione", "postal_code": "19121"}),
            "/street/streetCode",
            "PRIONE",
        ),
        (
            "education",
            "sportello.education.v1.SchoolService",
            "RegisterSchool",
            json!({"municipality_istat_code": "011015", "school_code": "SPIC81000X", "name": "IC 2 Centro",
                "level": "SCHOOL_LEVEL_PRIMARIA", "address": address, "capacity": 420}),
            "/school/level",
            "SCHOOL_LEVEL_PRIMARIA",
        ),
        (
            "suap",
            "sportello.suap.v1.BusinessService",
            "RegisterBusiness",
            json!({"municipality_istat_code": "011015", "vat_number": "00211160114",
                "legal_name": "Trattoria del Prione S.n.c.", "ateco_code": "56.10.11",
                "registered_office": address}),
            "/business/vatNumber",
            "00211160114",
        ),
        (
            "mobility",
            "sportello.mobility.v1.ZoneService",
            "DefineZone",
            json!({"municipality_istat_code": "011015", "zone_code": "ZTL-CENTRO", "name": "ZTL Centro storico",
                "kind": "ZONE_KIND_ZTL", "streets": [{"street_code": "PRIONE", "from_number": 1, "to_number": 99}],
                "fees": [{"kind": "PERMIT_KIND_RESIDENT", "amount_cents": 3000}]}),
            "/zone/zoneCode",
            "ZTL-CENTRO",
        ),
        (
            "urp",
            "sportello.urp.v1.FeedbackService",
            "SubmitFeedback",
            json!({"municipality_istat_code": "011015", "service_code": "registry.residence_certificate",
                "channel": "CHANNEL_COUNTER", "rating": 5}),
            "/feedback/rating",
            "5",
        ),
        (
            "gateway",
            "sportello.gateway.v1.SessionService",
            "RevokeUserSessions",
            json!({"user_id": "m.rossi", "reason": "left the municipality"}),
            // The manual clock of the tests stands at TEST_START.
            "/revokeTime",
            "2026-11-26T08:30:00Z",
        ),
    ]
}

#[tokio::test]
async fn a_client_that_never_saw_the_protos_lists_and_calls_every_service() {
    let stack = Stack::start().await;
    // What the services emitted while starting (routing's catalogue seed) goes first, so
    // each call below is seen to emit its own event.
    for (_, service) in stack.all() {
        service.running.workers.relay.run_once().await.unwrap();
    }
    for (name, service_name, method, request, pointer, expected) in calls() {
        let service = stack.service(name);
        // Routing's sites are administered through the gateway; everything else is
        // open to a department system acting for its user.
        let peer = if name == "routing" {
            "svc/gateway"
        } else {
            "system/e2e-tests"
        };
        let channel = service.channel_as(peer).await;
        let reflected = dynamic::reflect(&channel).await;
        for advertised in [
            service_name,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
        ] {
            assert!(
                reflected.services.iter().any(|s| s == advertised),
                "{name} lists {advertised}: {:?}",
                reflected.services
            );
        }
        let method = reflected.method(service_name, method);
        let reply = dynamic::call(&channel, &method, request, &context("e2e.check"))
            .await
            .unwrap_or_else(|status| panic!("{name}: {status:?}"));
        let got = reply
            .pointer(pointer)
            .map(|v| v.to_string().trim_matches('"').to_owned())
            .unwrap_or_default();
        assert_eq!(got, expected, "{name} replied {reply:#}");

        // The call wrote its database and its event through the outbox.
        let pass = service.running.workers.relay.run_once().await.unwrap();
        assert_eq!(pass.published, 1, "{name} emitted one event");
    }

    // Prometheus scrapes every service; the relay counted what it published.
    for (name, service) in stack.all() {
        let (status, metrics) = http::get(service.running.metrics_addr, "/metrics").await;
        assert_eq!(status, 200, "{name}");
        assert!(
            metrics.contains("sportello_outbox_published_total"),
            "{name}: {metrics}"
        );
    }
}

#[tokio::test]
async fn bad_input_and_a_missing_context_get_precise_errors() {
    let stack = Stack::start().await;
    let channel = stack.service("registry").channel().await;
    let reflected = dynamic::reflect(&channel).await;
    let method = reflected.method("sportello.registry.v1.StreetService", "RegisterStreet");

    let bad = json!({"municipality_istat_code": "011015", "street_code": "PRIONE", "qualifier": "Via",
                     "name": "del Prione", "postal_code": "1912"});
    let status = dynamic::call(&channel, &method, bad, &context("e2e.check"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "postal_code: must be five digits");

    let other = json!({"municipality_istat_code": "010025", "street_code": "X", "qualifier": "Via",
                       "name": "Roma", "postal_code": "16121"});
    let status = dynamic::call(&channel, &method, other, &context("e2e.check"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    let written: i64 = sqlx::query_scalar("select count(*) from registry.streets")
        .fetch_one(stack.service("registry").running.db().pool())
        .await
        .unwrap();
    assert_eq!(written, 0, "nothing written");

    let mut client =
        sportello_proto::registry::v1::street_service_client::StreetServiceClient::new(channel);
    let status = client
        .register_street(sportello_proto::registry::v1::RegisterStreetRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
}
