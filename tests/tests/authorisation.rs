//! Every service authorises for itself: an operator of Sarzana, signed by the gateway as
//! what they are, calling routing and the registry directly (no gateway check in
//! between), cannot act on La Spezia's catalogue, sites, operators or residents; nor can
//! a La Spezia operator without the role for it. The gateway's own checks are for the
//! user's convenience; these are the boundary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sportello_kit::{CallContext, Role, testing::TestService};
use sportello_proto::{
    common::v1::Address,
    registry::v1::{
        GetResidentByFiscalCodeRequest, resident_service_client::ResidentServiceClient,
    },
    routing::v1::{
        CreateSiteRequest, GetServiceTypeRequest, GetSiteRequest, Operator,
        UpdateSiteSettingsRequest, UpsertOperatorRequest, UpsertServiceTypeRequest,
        catalogue_service_client::CatalogueServiceClient,
        operator_service_client::OperatorServiceClient, site_service_client::SiteServiceClient,
    },
};
use sportello_tests::stack::Stack;
use tonic::Code;

const LA_SPEZIA: &str = "011015";
const SARZANA: &str = "011027";

fn person(municipality: &str, id: &str, roles: &[Role]) -> CallContext {
    CallContext::new(
        "gateway",
        &format!("operator:{id}"),
        municipality,
        "admin.check",
    )
    .unwrap()
    .with_roles(roles)
}

fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, codes: &[Code], what: &str) {
    match result {
        Ok(reply) => panic!("{what}: accepted ({reply:?})"),
        Err(status) => assert!(
            codes.contains(&status.code()),
            "{what}: {status:?}, expected one of {codes:?}"
        ),
    }
}

fn site_request(municipality: &str, code: &str) -> CreateSiteRequest {
    CreateSiteRequest {
        municipality_istat_code: municipality.into(),
        code: code.into(),
        name: "Sede".into(),
        address: Some(Address {
            street_name: "Piazza Europa".into(),
            house_number: "1".into(),
            postal_code: "19124".into(),
            ..Default::default()
        }),
        counter_count: 2,
        idempotency_key: String::new(),
        settings: None,
    }
}

async fn channel(service: &TestService) -> sportello_kit::PeerChannel {
    service.channel().await
}

#[tokio::test]
async fn an_operator_of_sarzana_cannot_act_on_la_spezias_records_through_any_service() {
    let stack = Stack::start().await;
    let routing = channel(stack.service("routing")).await;
    let spezia_admin = person(LA_SPEZIA, "admin.spezia", &[Role::Admin]);
    let sarzana_admin = person(SARZANA, "admin.sarzana", &[Role::Admin]);
    let spezia_clerk = person(LA_SPEZIA, "poli.spezia", &[Role::Polivalente]);

    // Sites: La Spezia's administrator creates one; Sarzana's may neither create one in
    // La Spezia nor change it; a La Spezia clerk may not create one either.
    let mut sites = SiteServiceClient::new(routing.clone());
    let site = sites
        .create_site(spezia_admin.request(site_request(LA_SPEZIA, "civico")))
        .await
        .unwrap()
        .into_inner()
        .site
        .unwrap();
    refused(
        sites
            .create_site(sarzana_admin.request(site_request(LA_SPEZIA, "intrusa")))
            .await,
        &[Code::PermissionDenied],
        "Sarzana creates a site in La Spezia",
    );
    refused(
        sites
            .create_site(spezia_clerk.request(site_request(LA_SPEZIA, "sportello")))
            .await,
        &[Code::PermissionDenied],
        "a clerk creates a site",
    );
    refused(
        sites
            .update_site_settings(sarzana_admin.request(UpdateSiteSettingsRequest {
                site_id: site.id.clone(),
                settings: site.settings.clone(),
                version: site.version,
            }))
            .await,
        &[Code::PermissionDenied, Code::NotFound],
        "Sarzana changes La Spezia's site",
    );
    refused(
        sites
            .get_site(sarzana_admin.request(GetSiteRequest {
                site_id: site.id.clone(),
            }))
            .await,
        &[Code::NotFound],
        "Sarzana reads La Spezia's site",
    );

    // The catalogue: La Spezia's shipped service types stay La Spezia's.
    let mut catalogue = CatalogueServiceClient::new(routing.clone());
    let mut service_type = catalogue
        .get_service_type(spezia_admin.request(GetServiceTypeRequest {
            municipality_istat_code: LA_SPEZIA.into(),
            code: "registry.residence_certificate".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .service_type
        .unwrap();
    service_type.name = "Rinominato da Sarzana".into();
    refused(
        catalogue
            .upsert_service_type(sarzana_admin.request(UpsertServiceTypeRequest {
                service_type: Some(service_type.clone()),
            }))
            .await,
        &[Code::PermissionDenied],
        "Sarzana renames La Spezia's service",
    );
    refused(
        catalogue
            .upsert_service_type(spezia_clerk.request(UpsertServiceTypeRequest {
                service_type: Some(service_type),
            }))
            .await,
        &[Code::PermissionDenied],
        "a clerk renames a service",
    );

    // Operators: La Spezia's operator never moves to Sarzana, whoever asks.
    let mut operators = OperatorServiceClient::new(routing);
    let operator = Operator {
        id: "m.rossi".into(),
        municipality_istat_code: LA_SPEZIA.into(),
        display_name: "Mario Rossi".into(),
        tier: sportello_proto::routing::v1::Tier::Polivalente as i32,
        department: "anagrafe".into(),
        ..Default::default()
    };
    operators
        .upsert_operator(spezia_admin.request(UpsertOperatorRequest {
            operator: Some(operator.clone()),
        }))
        .await
        .unwrap();
    let taken_over = Operator {
        municipality_istat_code: SARZANA.into(),
        version: 1,
        ..operator
    };
    refused(
        operators
            .upsert_operator(sarzana_admin.request(UpsertOperatorRequest {
                operator: Some(taken_over),
            }))
            .await,
        &[Code::PermissionDenied],
        "Sarzana takes La Spezia's operator over",
    );

    // Residents: the registry discloses La Spezia's residents to La Spezia's clerks only.
    let registry = stack.service("registry");
    let options = sportello_registry::synth::Options {
        residents: 30,
        ..sportello_registry::synth::Options::for_municipality(LA_SPEZIA.parse().unwrap())
    };
    sportello_registry::synth::ensure_loaded(
        registry.running.db().pool(),
        &options,
        &"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            .parse()
            .unwrap(),
        jiff::Timestamp::now(),
    )
    .await
    .unwrap();
    let fiscal_code: String = sqlx::query_scalar(
        "select fiscal_code from registry.residents order by fiscal_code limit 1",
    )
    .fetch_one(registry.running.db().pool())
    .await
    .unwrap();
    let mut residents = ResidentServiceClient::new(channel(registry).await);
    let read = |context: &CallContext| {
        context.request(GetResidentByFiscalCodeRequest {
            fiscal_code: fiscal_code.clone(),
            municipality_istat_code: LA_SPEZIA.into(),
        })
    };
    residents
        .get_resident_by_fiscal_code(read(&spezia_clerk))
        .await
        .unwrap();
    let sarzana_clerk = person(SARZANA, "poli.sarzana", &[Role::Polivalente]);
    refused(
        residents
            .get_resident_by_fiscal_code(read(&sarzana_clerk))
            .await,
        &[Code::PermissionDenied, Code::NotFound],
        "a Sarzana clerk reads a La Spezia resident",
    );
    refused(
        residents
            .get_resident_by_fiscal_code(read(&person(LA_SPEZIA, "kiosk", &[Role::Kiosk])))
            .await,
        &[Code::PermissionDenied],
        "a kiosk reads a resident",
    );
}
