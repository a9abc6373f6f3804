//! The registry's facts an application needs, asked over `registry.v1.FactService` on
//! behalf of the caller (the registry audits each answer with the caller's purpose):
//! public offices may not ask families for what the registry holds (DPR 445/2000
//! art. 43). Only what the criteria need is asked — whether the child is resident on the
//! day of filing — and nothing is copied.

use jiff::civil::Date;
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, PeerChannel, ServiceError};
use sportello_pa::fiscal_code::CodiceFiscale;
use sportello_proto::registry::v1::{
    IsResidentRequest, PersonKey, fact_service_client::FactServiceClient, person_key::Key,
};

/// The registry, as education asks it; without `REGISTRY_URL`, every question answers
/// UNAVAILABLE, saying what to set.
#[derive(Debug, Clone)]
pub struct RegistryFacts {
    channel: Option<PeerChannel>,
}

impl RegistryFacts {
    /// Asks the registry over `channel`, or nobody.
    pub fn new(channel: Option<PeerChannel>) -> Self {
        Self { channel }
    }

    /// Whether the person `field` names is resident in `municipality` on `on`. A person
    /// the register does not know is not resident (a family from elsewhere may apply, and
    /// scores no residence points).
    pub async fn is_resident(
        &self,
        context: &CallContext,
        field: &str,
        person: &CodiceFiscale,
        municipality: MunicipalityCode,
        on: Date,
    ) -> Result<bool, ServiceError> {
        let Some(channel) = &self.channel else {
            return Err(ServiceError::new(
                ErrorKind::Unavailable,
                "la residenza la dice l'anagrafe: REGISTRY_URL non è impostato / residence is \
                 the registry's fact: REGISTRY_URL is not set",
            ));
        };
        let request = IsResidentRequest {
            person: Some(PersonKey {
                key: Some(Key::FiscalCode(person.as_str().to_owned())),
            }),
            municipality_istat_code: municipality.to_string(),
            on_date: on.to_string(),
        };
        let reply = FactServiceClient::new(channel.clone())
            .is_resident(context.forwarded_by("education").request(request))
            .await;
        match reply {
            Ok(reply) => Ok(reply.into_inner().resident),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(false),
            Err(status) => {
                let error = ServiceError::from(status);
                // The registry names its own field: say which of ours it was.
                if error.kind() == ErrorKind::InvalidArgument {
                    Err(ServiceError::invalid_field(
                        field,
                        error.message().to_owned(),
                    ))
                } else {
                    Err(error)
                }
            }
        }
    }
}
