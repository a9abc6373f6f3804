//! The registry's fact a resident's permit needs, asked over `registry.v1.FactService`
//! on behalf of the caller (the registry audits each answer with the caller's purpose):
//! whether the holder lives in the zone's streets on the first day — yes or no, never the
//! address (DPR 445/2000 art. 43) — with the household's and the person's references.

use jiff::civil::Date;
use sportello_kit::{CallContext, ErrorKind, MunicipalityCode, PeerChannel, ServiceError};
use sportello_pa::fiscal_code::CodiceFiscale;
use sportello_proto::{
    common::v1::StreetRange,
    registry::v1::{
        IsResidentRequest, PersonKey, ResidesInAreaRequest, fact_service_client::FactServiceClient,
        person_key::Key,
    },
};

/// The registry's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Residence {
    /// Resident in the municipality, in the area or not; the references of the person's
    /// record and family.
    Resident {
        /// Whether the address is in the area.
        in_area: bool,
        /// The registry's record id of the person.
        resident_ref: String,
        /// The registry's family record: the household.
        household_ref: String,
    },
    /// Not resident in the municipality that day (or not known to its register).
    NotResident,
}

/// The registry, as mobility asks it; without `REGISTRY_URL`, every question answers
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

    fn channel(&self) -> Result<&PeerChannel, ServiceError> {
        self.channel.as_ref().ok_or_else(|| {
            ServiceError::new(
                ErrorKind::Unavailable,
                "la residenza la dice l'anagrafe: REGISTRY_URL non è impostato / residence is \
                 the registry's fact: REGISTRY_URL is not set",
            )
        })
    }

    /// The registry's record id of the person `field` names, if resident in
    /// `municipality` on `on` (a badge is the municipality of residence's to issue).
    pub async fn resident_id(
        &self,
        context: &CallContext,
        field: &str,
        person: &CodiceFiscale,
        municipality: MunicipalityCode,
        on: Date,
    ) -> Result<Option<String>, ServiceError> {
        let request = IsResidentRequest {
            person: Some(PersonKey {
                key: Some(Key::FiscalCode(person.as_str().to_owned())),
            }),
            municipality_istat_code: municipality.to_string(),
            on_date: on.to_string(),
        };
        let reply = FactServiceClient::new(self.channel()?.clone())
            .is_resident(context.forwarded_by("mobility").request(request))
            .await;
        match reply {
            Ok(reply) => {
                let reply = reply.into_inner();
                Ok(reply.resident.then_some(reply.resident_id))
            }
            Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
            Err(status) => Err(named(field, status)),
        }
    }

    /// Where the person `field` names lives on `on`, as far as `area` is concerned.
    pub async fn residence(
        &self,
        context: &CallContext,
        field: &str,
        person: &CodiceFiscale,
        municipality: MunicipalityCode,
        on: Date,
        area: Vec<StreetRange>,
    ) -> Result<Residence, ServiceError> {
        let channel = self.channel()?;
        let request = ResidesInAreaRequest {
            person: Some(PersonKey {
                key: Some(Key::FiscalCode(person.as_str().to_owned())),
            }),
            municipality_istat_code: municipality.to_string(),
            on_date: on.to_string(),
            area,
        };
        let reply = FactServiceClient::new(channel.clone())
            .resides_in_area(context.forwarded_by("mobility").request(request))
            .await;
        match reply {
            Ok(reply) => {
                let reply = reply.into_inner();
                Ok(if reply.resident {
                    Residence::Resident {
                        in_area: reply.in_area,
                        resident_ref: reply.resident_id,
                        household_ref: reply.family_id,
                    }
                } else {
                    Residence::NotResident
                })
            }
            Err(status) if status.code() == tonic::Code::NotFound => Ok(Residence::NotResident),
            Err(status) => Err(named(field, status)),
        }
    }
}

/// The registry's error, naming our field where it named the person's key (any other
/// field is ours to have sent right: an internal error).
fn named(field: &str, status: tonic::Status) -> ServiceError {
    let error = ServiceError::from(status);
    let about_person = error
        .violations()
        .iter()
        .any(|v| v.field.starts_with("person"));
    if error.kind() == ErrorKind::InvalidArgument && about_person {
        ServiceError::invalid_field(field, error.message().to_owned())
    } else {
        error
    }
}
