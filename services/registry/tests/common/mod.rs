//! The registry started in-process against the test PostgreSQL and NATS, with a manual
//! clock, stepped workers and clients that carry a call context.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code, unreachable_pub)]

use sportello_kit::PeerChannel as Channel;
use sportello_kit::{
    CallContext, MunicipalityCode, PseudonymKey, RequesterRef, Role,
    testing::{TestContext, TestService},
};
use sportello_proto::registry::v1::{
    NewAddress, RegisterResidentRequest, RegisterStreetRequest, Relationship, Resident, Sex,
    certificate_service_client::CertificateServiceClient, fact_service_client::FactServiceClient,
    privacy_service_client::PrivacyServiceClient,
    residence_change_service_client::ResidenceChangeServiceClient,
    resident_service_client::ResidentServiceClient, street_service_client::StreetServiceClient,
};
use sportello_registry::RegistryConfig;

/// The tests' pseudonymisation secret.
pub const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// La Spezia.
pub const SPEZIA: &str = "011015";

/// A registry under test.
pub struct Harness {
    pub ctx: TestContext,
    pub registry: TestService,
    pub config: RegistryConfig,
}

impl Harness {
    /// Starts the registry on a fresh database.
    pub async fn start() -> Self {
        let ctx = TestContext::new(&[&sportello_registry::SPEC]).await;
        let config = RegistryConfig::with_key(ctx.config.clone(), KEY).unwrap();
        Self::start_with(ctx, config).await
    }

    /// Starts routing (with La Spezia's catalogue) and the registry calling it, on one
    /// fresh database with one clock: nothing faked.
    pub async fn start_with_routing() -> (Self, TestService) {
        let ctx = TestContext::new(&[&sportello_registry::SPEC, &sportello_routing::SPEC]).await;
        let mut routing_config = sportello_routing::RoutingConfig::from(ctx.config.clone());
        routing_config.seed_municipalities = vec![SPEZIA.parse().unwrap()];
        let routing = TestService::start(
            &sportello_routing::SPEC,
            routing_config,
            sportello_routing::start,
        )
        .await;
        let mut config = RegistryConfig::with_key(ctx.config.clone(), KEY).unwrap();
        config.routing_url = Some(routing.grpc_url());
        (Self::start_with(ctx, config).await, routing)
    }

    /// Starts the registry with `config`.
    pub async fn start_with(ctx: TestContext, config: RegistryConfig) -> Self {
        // Boxed: a service start-up is a large future.
        let registry = Box::pin(TestService::start(
            &sportello_registry::SPEC,
            config.clone(),
            sportello_registry::start,
        ))
        .await;
        Self {
            ctx,
            registry,
            config,
        }
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.registry.running.db().pool()
    }

    pub async fn residents(&self) -> ResidentServiceClient<Channel> {
        ResidentServiceClient::new(self.registry.channel().await)
    }

    /// Facts, asked as the education service (the office the tests play).
    pub async fn facts(&self) -> FactServiceClient<Channel> {
        self.facts_as("svc/education").await
    }

    /// Facts, asked as `peer` (its certificate is the caller the audit records).
    pub async fn facts_as(&self, peer: &str) -> FactServiceClient<Channel> {
        FactServiceClient::new(self.registry.channel_as(peer).await)
    }

    pub async fn changes(&self) -> ResidenceChangeServiceClient<Channel> {
        ResidenceChangeServiceClient::new(self.registry.channel().await)
    }

    pub async fn certificates(&self) -> CertificateServiceClient<Channel> {
        CertificateServiceClient::new(self.registry.channel().await)
    }

    pub async fn privacy(&self) -> PrivacyServiceClient<Channel> {
        PrivacyServiceClient::new(self.registry.channel().await)
    }

    /// Adds a street to La Spezia's gazetteer.
    pub async fn street(&self, code: &str, qualifier: &str, name: &str) {
        StreetServiceClient::new(self.registry.channel().await)
            .register_street(operator("street.register").request(RegisterStreetRequest {
                municipality_istat_code: SPEZIA.into(),
                street_code: code.into(),
                qualifier: qualifier.into(),
                name: name.into(),
                postal_code: "19121".into(),
                idempotency_key: String::new(),
            }))
            .await
            .unwrap();
    }

    /// The requester_ref of a fiscal code in La Spezia.
    pub fn reference(&self, fiscal_code: &str) -> String {
        let key: PseudonymKey = KEY.parse().unwrap();
        let spezia: MunicipalityCode = SPEZIA.parse().unwrap();
        RequesterRef::derive(&key, spezia, fiscal_code).to_string()
    }

    /// Rows of the audit log.
    pub async fn audit_rows(&self) -> i64 {
        count(self.pool(), "audit_log").await
    }

    /// Registers the Rossi family of Via del Prione 12: Mario (head), Maria (spouse),
    /// Luca (child). Returns them in that order.
    pub async fn rossi_family(&self) -> Vec<Resident> {
        self.street("PRIONE", "Via", "del Prione").await;
        let mut client = self.residents().await;
        let context = operator("resident.register");
        let mario = client
            .register_resident(context.request(person(MARIO, "")))
            .await
            .unwrap()
            .into_inner()
            .resident
            .unwrap();
        let mut members = vec![mario.clone()];
        for (who, relationship) in [(MARIA, Relationship::Spouse), (LUCA, Relationship::Child)] {
            let mut request = person(who, &mario.family_id);
            request.relationship = relationship as i32;
            request.address = None;
            let member = client
                .register_resident(context.request(request))
                .await
                .unwrap()
                .into_inner()
                .resident
                .unwrap();
            members.push(member);
        }
        members
    }
}

/// A person's data: surname, name, sex, birth date, birthplace.
pub type Who = (&'static str, &'static str, Sex, &'static str, &'static str);

pub const MARIO: Who = ("Rossi", "Mario", Sex::Male, "1980-01-01", "E463");
pub const MARIA: Who = ("Bianchi", "Maria", Sex::Female, "1982-08-05", "D969");
pub const LUCA: Who = ("Rossi", "Luca", Sex::Male, "2012-11-10", "E463");
pub const ANNA: Who = ("Verdi", "Anna", Sex::Female, "1975-04-21", "G702");

/// A registration request for `who` (a new family at Via del Prione 12 unless a family
/// is given).
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
        effective_date: "2020-01-01".into(),
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

/// The call context of an operator of La Spezia at the counter, through the gateway.
pub fn operator(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:op-7", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Polivalente])
}

/// The call context of the registry office's back office (department `anagrafe`).
pub fn registry_office(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:bo-anagrafe", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some("anagrafe"))
}

/// The call context of the municipality's privacy/security officer.
pub fn privacy_officer(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:dpo", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Privacy])
}

/// The call context of La Spezia's administrator (sites and operators at routing).
pub fn administrator(purpose: &str) -> CallContext {
    CallContext::new("gateway", "operator:admin", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::Admin])
}

/// The call context of another office's service acting for one of its operators (the
/// caller the registry records is the certificate of the channel the call goes on).
pub fn office(caller: &str, purpose: &str) -> CallContext {
    CallContext::new(caller, "operator:ed-3", SPEZIA, purpose)
        .unwrap()
        .with_roles(&[Role::BackOffice])
        .with_department(Some(caller))
}

/// Rows in a table of the registry's schema.
pub async fn count(pool: &sqlx::PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}
