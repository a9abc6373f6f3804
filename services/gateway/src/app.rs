//! What every HTTP handler shares: the database (sessions, accounts), the clients of
//! the services behind the gateway, the web settings, the sign-in limiter and the
//! calling boards' shared state.

use std::sync::Arc;

use sportello_kit::PeerChannel as Channel;
use sportello_kit::{CallContext, Db, ErrorKind, ServiceError};
use sportello_proto::{
    education::v1::enrolment_service_client::EnrolmentServiceClient,
    registry::v1::{
        certificate_service_client::CertificateServiceClient,
        residence_change_service_client::ResidenceChangeServiceClient,
        resident_service_client::ResidentServiceClient,
    },
    routing::v1::{
        appointment_service_client::AppointmentServiceClient,
        back_office_service_client::BackOfficeServiceClient,
        case_service_client::CaseServiceClient, catalogue_service_client::CatalogueServiceClient,
        operator_service_client::OperatorServiceClient, site_service_client::SiteServiceClient,
        surge_service_client::SurgeServiceClient,
    },
    suap::v1::{
        application_service_client::ApplicationServiceClient,
        business_service_client::BusinessServiceClient,
        occupation_service_client::OccupationServiceClient,
    },
};

use crate::{
    api::board_hub::BoardHub, auth::limiter::LoginLimiter, config::WebConfig, peers::Peers,
};

/// The handlers' state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The gateway's own database.
    pub db: Db,
    /// The services behind it.
    pub peers: Peers,
    /// Web settings.
    pub settings: Arc<WebConfig>,
    /// Sign-in rate limit.
    pub limiter: Arc<LoginLimiter>,
    /// The calling boards: one shared board per site, fed by the calls as they happen.
    pub boards: BoardHub,
}

impl AppState {
    /// The call context of an anonymous visitor of the public pages (board, kiosk
    /// listing, verification), in the public municipality.
    pub fn public_context(&self, purpose: &str) -> Result<CallContext, ServiceError> {
        crate::auth::context_for("anonymous:web", self.settings.public_municipality, purpose)
    }

    fn channel(&self, name: &str) -> Result<Channel, ServiceError> {
        self.peers.channel(name).ok_or_else(|| {
            ServiceError::new(
                ErrorKind::Unavailable,
                format!("no {name} service configured"),
            )
        })
    }

    /// Routing's cases and tickets.
    pub fn cases(&self) -> Result<CaseServiceClient<Channel>, ServiceError> {
        Ok(CaseServiceClient::new(self.channel("routing")?))
    }

    /// Routing's back office (tier 4).
    pub fn back_office(&self) -> Result<BackOfficeServiceClient<Channel>, ServiceError> {
        Ok(BackOfficeServiceClient::new(self.channel("routing")?))
    }

    /// Routing's appointments.
    pub fn appointments(&self) -> Result<AppointmentServiceClient<Channel>, ServiceError> {
        Ok(AppointmentServiceClient::new(self.channel("routing")?))
    }

    /// Routing's operators.
    pub fn operators(&self) -> Result<OperatorServiceClient<Channel>, ServiceError> {
        Ok(OperatorServiceClient::new(self.channel("routing")?))
    }

    /// Routing's surges (the peak at the counter).
    pub fn surges(&self) -> Result<SurgeServiceClient<Channel>, ServiceError> {
        Ok(SurgeServiceClient::new(self.channel("routing")?))
    }

    /// Routing's sites.
    pub fn sites(&self) -> Result<SiteServiceClient<Channel>, ServiceError> {
        Ok(SiteServiceClient::new(self.channel("routing")?))
    }

    /// Routing's catalogue.
    pub fn catalogue(&self) -> Result<CatalogueServiceClient<Channel>, ServiceError> {
        Ok(CatalogueServiceClient::new(self.channel("routing")?))
    }

    /// The registry's certificates.
    pub fn certificates(&self) -> Result<CertificateServiceClient<Channel>, ServiceError> {
        Ok(CertificateServiceClient::new(self.channel("registry")?))
    }

    /// The registry's changes of residence.
    pub fn residence_changes(&self) -> Result<ResidenceChangeServiceClient<Channel>, ServiceError> {
        Ok(ResidenceChangeServiceClient::new(self.channel("registry")?))
    }

    /// The registry's residents.
    pub fn residents(&self) -> Result<ResidentServiceClient<Channel>, ServiceError> {
        Ok(ResidentServiceClient::new(self.channel("registry")?))
    }

    /// Education's enrolment: windows and applications.
    pub fn enrolment(&self) -> Result<EnrolmentServiceClient<Channel>, ServiceError> {
        Ok(EnrolmentServiceClient::new(self.channel("education")?))
    }

    /// The SUAP's businesses.
    pub fn suap_businesses(&self) -> Result<BusinessServiceClient<Channel>, ServiceError> {
        Ok(BusinessServiceClient::new(self.channel("suap")?))
    }

    /// The SUAP's applications, and its procedures' guidance.
    pub fn suap_applications(&self) -> Result<ApplicationServiceClient<Channel>, ServiceError> {
        Ok(ApplicationServiceClient::new(self.channel("suap")?))
    }

    /// The SUAP's occupations of public land.
    pub fn suap_occupations(&self) -> Result<OccupationServiceClient<Channel>, ServiceError> {
        Ok(OccupationServiceClient::new(self.channel("suap")?))
    }
}
