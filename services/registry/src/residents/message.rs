//! Records as the wire shows them.

use sportello_kit::events::to_proto_timestamp;
use sportello_pa::{BelfioreCode, birthplace};
use sportello_proto::{common::v1::Address as AddressMessage, registry::v1 as pb};

use crate::{
    domain::{Day, sex_to_proto},
    records::{Address, Family, Person},
};

/// A place of birth in words: "La Spezia (SP)" for a municipality, "Romania" for a country.
pub fn birthplace_name(code: BelfioreCode, birth_date: Day) -> String {
    match birthplace::at(code, birth_date) {
        Some(place) if place.is_foreign() => place.name.to_owned(),
        Some(place) => format!("{} ({})", place.name, place.province),
        None => code.as_str().to_owned(),
    }
}

/// An address on the wire.
pub fn address_message(address: &Address, municipality: &str) -> AddressMessage {
    AddressMessage {
        street_code: address.street_code.clone(),
        street_name: format!("{} {}", address.qualifier, address.street_name),
        house_number: address.house_number.as_str().to_owned(),
        postal_code: address.postal_code.clone(),
        municipality_istat_code: municipality.to_owned(),
        locality: String::new(),
    }
}

/// A person on the wire, with the state the record carries (if any).
pub fn resident_message(person: &Person) -> pb::Resident {
    let mut message = pb::Resident {
        id: person.id.to_string(),
        municipality_istat_code: person.municipality.to_string(),
        fiscal_code: person.fiscal_code.as_str().to_owned(),
        requester_ref: person.requester_ref.to_string(),
        version: u64::try_from(person.version).unwrap_or_default(),
        ..Default::default()
    };
    let Some(state) = &person.state else {
        return message;
    };
    message.surname = state.data.surname.clone();
    message.given_names = state.data.given_names.clone();
    message.sex = sex_to_proto(state.data.sex) as i32;
    message.birth_date = state.data.birth_date.to_string();
    message.birthplace_code = state.data.birthplace.as_str().to_owned();
    message.birthplace_name = birthplace_name(state.data.birthplace, state.data.birth_date);
    message.citizenship = state.data.citizenship.iso().to_owned();
    message.status = state.status.to_proto() as i32;
    if let Some(home) = &state.home {
        message.family_id = home.family_id.to_string();
        message.relationship = home.relationship.to_proto() as i32;
        message.address = Some(address_message(&home.address, person.municipality.as_str()));
    }
    message.destination = state.destination.clone().unwrap_or_default();
    message.valid_from = state.valid_from.to_string();
    message.valid_to = state.valid_to.map(|d| d.to_string()).unwrap_or_default();
    message.cause = state.cause.to_proto() as i32;
    message.record_time = Some(to_proto_timestamp(state.recorded_at));
    message.fiscal_code_warnings = state.fiscal_code_warnings.clone();
    message.residence_change_id = state
        .residence_change_id
        .map(|c| c.to_string())
        .unwrap_or_default();
    message
}

/// A family on the wire.
pub fn family_message(family: &Family) -> pb::Family {
    pb::Family {
        id: family.id.to_string(),
        municipality_istat_code: family.municipality.to_string(),
        address: family
            .address()
            .map(|a| address_message(a, family.municipality.as_str())),
        members: family.members.iter().map(resident_message).collect(),
        as_of: family.as_of.to_string(),
    }
}
