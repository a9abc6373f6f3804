//! Mobility started in-process with the registry (residence in a zone) and routing (the
//! back office's reviews) on one fresh database, one manual clock and the local pagoPA:
//! nothing faked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use sportello_kit::{
    CallContext, PeerChannel, Role,
    payments::{Creditor, PaymentsConfig},
    testing::{TestContext, TestService, exchange, pagopa::SimPagoPa},
};
use sportello_proto::{
    common::v1::{Channel, Parity, StreetRange},
    mobility::v1::{
        ActiveHours, CheckTransitRequest, CheckTransitResponse, DefineZoneRequest,
        IssuePermitRequest, PermitFee, PermitKind, PlateInput, ZoneKind,
        permit_service_client::PermitServiceClient,
        whitelist_service_client::WhitelistServiceClient, zone_service_client::ZoneServiceClient,
    },
    registry::v1::{
        ChangeResidentStatusRequest, NewAddress, RegisterResidentRequest, RegisterStreetRequest,
        ResidentStatus, Sex, resident_service_client::ResidentServiceClient,
        street_service_client::StreetServiceClient,
    },
};

/// The deployment's pseudonymisation secret, shared by the registry and mobility.
pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// The keys sealing the badges' certifications.
pub const HEALTH_KEYS: &str = "h1:0303030303030303030303030303030303030303030303030303030303030303";

/// La Spezia.
pub const SPEZIA: &str = "011015";

/// A person: surname, name, sex, birth date, birthplace.
pub type Who = (&'static str, &'static str, Sex, &'static str, &'static str);

/// The three services and the local pagoPA.
pub struct Office {
    pub ctx: TestContext,
    pub mobility: TestService,
    pub registry: TestService,
    pub routing: TestService,
    pub pagopa: SimPagoPa,
}

impl Office {
    /// Starts routing (La Spezia's catalogue), the registry, the local pagoPA and
    /// mobility, on `today`, with the gazetteer's Via del Prione and Via Chiodo.
    pub async fn start(today: &str) -> Self {
        let ctx = TestContext::new(&[
            &sportello_mobility::SPEC,
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
        let pagopa = SimPagoPa::start(ctx.config.clock.clone()).await;
        let payments = PaymentsConfig::for_test(
            pagopa.url(),
            SPEZIA.parse().unwrap(),
            Creditor {
                fiscal_code: "00211160114".parse().unwrap(),
                iban: "IT60X0542811101000000123456".to_owned(),
                name: "Comune della Spezia".to_owned(),
            },
            sportello_mobility::permits::SEGREGATION_CODE
                .parse()
                .unwrap(),
        )
        .unwrap();
        let config = sportello_mobility::MobilityConfig {
            service: ctx.config.clone(),
            registry_url: Some(registry.grpc_url()),
            pseudonym_key: KEY.parse().unwrap(),
            payments: Some(payments),
            health_keys: Some(std::sync::Arc::new(
                sportello_kit::sealed::Keyring::parse(HEALTH_KEYS).unwrap(),
            )),
        };
        let mobility = Box::pin(TestService::start(
            &sportello_mobility::SPEC,
            config,
            sportello_mobility::start,
        ))
        .await;
        let mut streets = StreetServiceClient::new(registry.channel().await);
        for (code, name) in [("PRIONE", "del Prione"), ("CHIODO", "Domenico Chiodo")] {
            streets
                .register_street(counter("street.register").request(RegisterStreetRequest {
                    municipality_istat_code: SPEZIA.into(),
                    street_code: code.into(),
                    qualifier: "Via".into(),
                    name: name.into(),
                    postal_code: "19121".into(),
                    idempotency_key: String::new(),
                }))
                .await
                .unwrap();
        }
        Self {
            ctx,
            mobility,
            registry,
            routing,
            pagopa,
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.mobility.running.db().pool()
    }

    pub async fn zones(&self) -> ZoneServiceClient<PeerChannel> {
        ZoneServiceClient::new(self.mobility.channel().await)
    }

    pub async fn permits(&self) -> PermitServiceClient<PeerChannel> {
        PermitServiceClient::new(self.mobility.channel().await)
    }

    /// The whitelist, as the ZTL cameras' system (its own certificate).
    pub async fn cameras(&self) -> WhitelistServiceClient<PeerChannel> {
        WhitelistServiceClient::new(self.mobility.channel_as("system/ztl-cameras").await)
    }

    /// Defines the centre's ZTL: Via del Prione 1-99 (both sides), weekdays 7:30-20:00,
    /// a resident's permit for `resident_fee` cents, guests €2 a day, `quota` permits.
    pub async fn define_ztl(&self, resident_fee: u64, quota: u32) {
        self.zones()
            .await
            .define_zone(office().request(DefineZoneRequest {
                municipality_istat_code: SPEZIA.into(),
                zone_code: "ZTL-CENTRO".into(),
                name: "ZTL Centro storico".into(),
                kind: ZoneKind::Ztl as i32,
                permit_quota: quota,
                idempotency_key: String::new(),
                streets: vec![StreetRange {
                    street_code: "PRIONE".into(),
                    from_number: 1,
                    to_number: 99,
                    parity: Parity::Unspecified as i32,
                }],
                hours: vec![ActiveHours {
                    weekdays: vec![1, 2, 3, 4, 5],
                    from: "07:30".into(),
                    until: "20:00".into(),
                }],
                plates_per_household: 2,
                fees: vec![
                    PermitFee {
                        kind: PermitKind::Resident as i32,
                        amount_cents: resident_fee,
                    },
                    PermitFee {
                        kind: PermitKind::Guest as i32,
                        amount_cents: 200,
                    },
                ],
            }))
            .await
            .unwrap();
    }

    /// Registers `who` in La Spezia at `street` `number`; the record id.
    pub async fn resident(&self, who: Who, street: &str, number: &str) -> String {
        ResidentServiceClient::new(self.registry.channel().await)
            .register_resident(
                counter("resident.register").request(RegisterResidentRequest {
                    municipality_istat_code: SPEZIA.into(),
                    fiscal_code: code_of(who),
                    surname: who.0.into(),
                    given_names: who.1.into(),
                    sex: who.2 as i32,
                    birth_date: who.3.into(),
                    birthplace_code: who.4.into(),
                    citizenship: "IT".into(),
                    address: Some(NewAddress {
                        street_code: street.into(),
                        house_number: number.into(),
                    }),
                    family_id: String::new(),
                    relationship: 0,
                    effective_date: "2026-01-01".into(),
                    idempotency_key: String::new(),
                    ground: sportello_proto::registry::v1::RegistrationGround::DataLoad as i32,
                }),
            )
            .await
            .unwrap()
            .into_inner()
            .resident
            .unwrap()
            .id
    }

    /// The registry records that the resident died on `day`.
    pub async fn dies(&self, resident_id: &str, day: &str) {
        ResidentServiceClient::new(self.registry.channel().await)
            .change_resident_status(counter("resident.status").request(
                ChangeResidentStatusRequest {
                    resident_id: resident_id.into(),
                    status: ResidentStatus::Deceased as i32,
                    effective_date: day.into(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
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

    /// Moves the registry's events to mobility, and the work between mobility and
    /// routing, as their running workers would.
    pub async fn facts_flow(&self) {
        exchange(&[
            (&self.registry, "registry-work"),
            (&self.mobility, "mobility-registry"),
            (&self.routing, "work-mobility"),
            (&self.mobility, "mobility-work"),
        ])
        .await;
    }

    /// Fires mobility's due timers and publishes its outbox.
    pub async fn tick(&self) {
        let workers = &self.mobility.running.workers;
        workers.timers.run_once().await.unwrap();
        workers.relay.run_once().await.unwrap();
    }

    /// Asks the cameras' question for a transit at `at` (None: now).
    pub async fn transit(&self, plate: &str, at: Option<&str>) -> CheckTransitResponse {
        self.cameras()
            .await
            .check_transit(camera().request(CheckTransitRequest {
                municipality_istat_code: SPEZIA.into(),
                zone_code: "ZTL-CENTRO".into(),
                plate: plate.into(),
                transit_time: at.map(|t| {
                    let t: jiff::Timestamp = t.parse().unwrap();
                    prost_types::Timestamp {
                        seconds: t.as_second(),
                        nanos: t.subsec_nanosecond(),
                    }
                }),
            }))
            .await
            .unwrap()
            .into_inner()
    }

    /// Waits until the cameras see `plate` as `authorised` now (the whitelist follows the
    /// events the relay published).
    pub async fn until_transit(&self, plate: &str, authorised: bool) -> CheckTransitResponse {
        self.until_answer(plate, |answer| answer.authorised == authorised)
            .await
    }

    /// Waits until the cameras' answer about `plate` now satisfies `wanted`.
    pub async fn until_answer(
        &self,
        plate: &str,
        wanted: impl Fn(&CheckTransitResponse) -> bool,
    ) -> CheckTransitResponse {
        let mut answer = self.transit(plate, None).await;
        for _ in 0..100 {
            if wanted(&answer) {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            answer = self.transit(plate, None).await;
        }
        panic!("the cameras' answer about {plate} never came: {answer:?}");
    }
}

/// A resident's permit for `who` in the centre's ZTL with `plates`, at the counter.
pub fn resident_permit(who: Who, plates: &[&str]) -> IssuePermitRequest {
    IssuePermitRequest {
        municipality_istat_code: SPEZIA.into(),
        zone_code: "ZTL-CENTRO".into(),
        kind: PermitKind::Resident as i32,
        holder_fiscal_code: code_of(who),
        holder_name: format!("{} {}", who.1, who.0),
        plates: plates
            .iter()
            .map(|p| PlateInput {
                plate: (*p).into(),
                kind: String::new(),
            })
            .collect(),
        valid_from: String::new(),
        days: 0,
        channel: Channel::Counter as i32,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
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

/// The mobility office's specialist (zones).
pub fn office() -> CallContext {
    CallContext::new("gateway", "operator:mob-1", SPEZIA, "mobility.manage")
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("mobilita"))
}

/// A person of the mobility office at its desk (reads certifications).
pub fn mobility_desk(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:mob-2", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Polivalente])
        .with_department(Some("mobilita"))
}

/// The ZTL cameras' system, with its own certificate.
pub fn camera() -> CallContext {
    CallContext::new("ztl-cameras", "system:ztl-cameras", SPEZIA, "ztl.transit").unwrap()
}

/// Rows in a table.
pub async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}
