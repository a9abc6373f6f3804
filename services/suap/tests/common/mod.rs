//! The SUAP started in-process against the test PostgreSQL and NATS, with a manual clock
//! and stepped workers; places laid out in metres around Via del Prione, La Spezia.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code, unreachable_pub)]

use sportello_kit::{
    CallContext, PeerChannel as Channel, Role,
    payments::{Creditor, PaymentsConfig},
    testing::{TestContext, TestService, pagopa::SimPagoPa},
};
use sportello_proto::suap::v1::{
    LonLat, OccupationKind, RequestOccupationRequest, SetTariffsRequest, TariffRate,
    occupation_service_client::OccupationServiceClient,
};
use sportello_suap::occupations::geometry::metres_to_degrees;

/// La Spezia.
pub const SPEZIA: &str = "011015";
/// La Spezia's residents (ISTAT, 2023): the class over 30,000 up to 100,000 (c. 826-827).
pub const SPEZIA_POPULATION: i64 = 92_659;
/// Via del Prione, the origin of the places in metres.
pub const ORIGIN: (f64, f64) = (9.8240, 44.1070);
/// A pseudonymous requester (rr_ and 32 hex digits).
pub const REQUESTER: &str = "rr_0123456789abcdef0123456789abcdef";

/// The SUAP under test.
pub struct Harness {
    pub ctx: TestContext,
    pub suap: TestService,
    /// The local pagoPA, when the SUAP was started paying.
    pub pagopa: Option<SimPagoPa>,
}

impl Harness {
    /// Starts the SUAP on a fresh database.
    pub async fn start() -> Self {
        let ctx = TestContext::new(&[&sportello_suap::SPEC]).await;
        let suap = Box::pin(TestService::start(
            &sportello_suap::SPEC,
            ctx.config.clone(),
            sportello_suap::start,
        ))
        .await;
        Self {
            ctx,
            suap,
            pagopa: None,
        }
    }

    /// Starts the SUAP on a fresh database with the local pagoPA simulator as its GPD:
    /// canone notices are real positions there, and the tests pay them as a PSP would.
    pub async fn start_paying() -> Self {
        let ctx = TestContext::new(&[&sportello_suap::SPEC]).await;
        let sim = SimPagoPa::start(ctx.config.clock.clone()).await;
        let payments = PaymentsConfig::for_test(
            sim.url(),
            SPEZIA.parse().unwrap(),
            Creditor {
                fiscal_code: "00211160114".parse().unwrap(),
                iban: "IT60X0542811101000000123456".to_owned(),
                name: "Comune della Spezia".to_owned(),
            },
            sportello_suap::payments::SEGREGATION_CODE.parse().unwrap(),
        )
        .unwrap();
        let config = sportello_suap::SuapConfig {
            service: ctx.config.clone(),
            routing_url: None,
            documents: Default::default(),
            payments: Some(payments),
        };
        let suap = Box::pin(TestService::start(
            &sportello_suap::SPEC,
            config,
            sportello_suap::start,
        ))
        .await;
        Self {
            ctx,
            suap,
            pagopa: Some(sim),
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.suap.running.db().pool()
    }

    pub fn db(&self) -> &sportello_kit::Db {
        self.suap.running.db()
    }

    pub async fn occupations(&self) -> OccupationServiceClient<Channel> {
        OccupationServiceClient::new(self.suap.channel().await)
    }

    /// Publishes La Spezia's 2027 tariffs: every kind in zones 1-3, coefficients 1.5 /
    /// 1.0 / 0.8 (temporary and permanent alike), the weekly-market reduction of 35%.
    pub async fn spezia_tariffs_2027(&self) {
        let mut rates = Vec::new();
        for (zone, coefficient) in [(1, 1_500), (2, 1_000), (3, 800)] {
            for kind in [
                OccupationKind::Dehors,
                OccupationKind::Scaffolding,
                OccupationKind::Event,
                OccupationKind::MarketStall,
            ] {
                for permanent in [false, true] {
                    rates.push(TariffRate {
                        zone_category: zone,
                        kind: kind as i32,
                        permanent,
                        coefficient_milli: coefficient,
                        reduction_percent: if kind == OccupationKind::MarketStall {
                            35
                        } else {
                            0
                        },
                    });
                }
            }
        }
        self.occupations()
            .await
            .set_tariffs(administrator().request(SetTariffsRequest {
                municipality_istat_code: SPEZIA.into(),
                year: 2027,
                population: SPEZIA_POPULATION,
                rates,
                idempotency_key: String::new(),
            }))
            .await
            .unwrap();
    }
}

/// The SUAP desk's operator (arredo urbano / suolo pubblico).
pub fn operator() -> CallContext {
    CallContext::new("gateway", "operator:suap-2", SPEZIA, "suap.occupation")
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("suap"))
}

/// La Spezia's administrator (tariffs).
pub fn administrator() -> CallContext {
    CallContext::new("gateway", "operator:admin", SPEZIA, "suap.tariffs")
        .unwrap()
        .with_roles(&[Role::Admin])
}

/// A ring laid out in metres east and north of [`ORIGIN`].
pub fn ring(metres: &[(f64, f64)]) -> Vec<LonLat> {
    metres
        .iter()
        .map(|&(east, north)| {
            let (dlon, dlat) = metres_to_degrees(ORIGIN.1, east, north);
            LonLat {
                longitude: ORIGIN.0 + dlon,
                latitude: ORIGIN.1 + dlat,
            }
        })
        .collect()
}

/// An axis-aligned rectangle from (x0, y0) to (x1, y1) metres.
pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<LonLat> {
    ring(&[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
}

/// A summer dehors application on Via del Prione (zone 1) at `vertices`.
pub fn dehors(vertices: Vec<LonLat>, start: &str, end: &str) -> RequestOccupationRequest {
    RequestOccupationRequest {
        municipality_istat_code: SPEZIA.into(),
        kind: OccupationKind::Dehors as i32,
        vertices,
        street: "Via del Prione".into(),
        zone_category: 1,
        start_date: start.into(),
        end_date: end.into(),
        business_id: String::new(),
        requester_ref: REQUESTER.into(),
        idempotency_key: String::new(),
    }
}

/// Rows in a table.
pub async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The event types in the outbox, in order.
pub async fn event_types(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar("select event_type from outbox order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}
