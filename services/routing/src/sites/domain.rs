//! A site to open, parsed from its request once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::routing::v1::{CreateSiteRequest, SiteSettings as SettingsMessage};

/// How a site calls tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSettings {
    /// Minutes after which an ordinary ticket may not be passed by a later priority one.
    pub priority_bound_minutes: i16,
    /// Calls before a ticket may be marked a no-show.
    pub no_show_after_calls: i16,
    /// Service groups served; empty means all.
    pub service_groups: Vec<String>,
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self {
            priority_bound_minutes: 20,
            no_show_after_calls: 2,
            service_groups: Vec::new(),
        }
    }
}

/// A service group code: 1-32 lowercase letters, digits or '_'.
pub fn is_group_code(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl SiteSettings {
    /// Parses settings; fields left at 0 take the defaults. `prefix` is the field path.
    pub fn parse(message: Option<&SettingsMessage>, prefix: &str) -> Result<Self, ServiceError> {
        let defaults = Self::default();
        let Some(message) = message else {
            return Ok(defaults);
        };
        let bound = match message.priority_bound_minutes {
            0 => defaults.priority_bound_minutes,
            n @ 1..=240 => n as i16,
            _ => {
                return Err(ServiceError::invalid_field(
                    format!("{prefix}.priority_bound_minutes"),
                    "must be 1 to 240",
                ));
            }
        };
        let calls = match message.no_show_after_calls {
            0 => defaults.no_show_after_calls,
            n @ 1..=9 => n as i16,
            _ => {
                return Err(ServiceError::invalid_field(
                    format!("{prefix}.no_show_after_calls"),
                    "must be 1 to 9",
                ));
            }
        };
        if let Some(bad) = message.service_groups.iter().find(|g| !is_group_code(g)) {
            return Err(ServiceError::invalid_field(
                format!("{prefix}.service_groups"),
                format!("{bad:?} is not a service group code"),
            ));
        }
        let mut groups = message.service_groups.clone();
        groups.sort();
        groups.dedup();
        Ok(Self {
            priority_bound_minutes: bound,
            no_show_after_calls: calls,
            service_groups: groups,
        })
    }

    /// As a message.
    pub fn to_message(&self) -> SettingsMessage {
        SettingsMessage {
            priority_bound_minutes: u32::try_from(self.priority_bound_minutes).unwrap_or_default(),
            no_show_after_calls: u32::try_from(self.no_show_after_calls).unwrap_or_default(),
            service_groups: self.service_groups.clone(),
        }
    }
}

/// A site as routing records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSite {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Short code: 1-32 lowercase letters, digits or '-'.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Street as written.
    pub street_name: String,
    /// House number.
    pub house_number: String,
    /// CAP.
    pub postal_code: String,
    /// Counters, numbered 1..=counter_count.
    pub counter_count: i16,
    /// How it calls tickets.
    pub settings: SiteSettings,
}

impl TryFrom<&CreateSiteRequest> for NewSite {
    type Error = ServiceError;

    fn try_from(request: &CreateSiteRequest) -> Result<Self, Self::Error> {
        let code = request.code.trim();
        let code_ok = (1..=32).contains(&code.len())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !code_ok {
            return Err(ServiceError::invalid_field(
                "code",
                "must be 1-32 lowercase letters, digits or '-', e.g. palazzo-civico",
            ));
        }
        let counter_count = i16::try_from(request.counter_count)
            .ok()
            .filter(|n| (1..=999).contains(n))
            .ok_or_else(|| ServiceError::invalid_field("counter_count", "must be 1 to 999"))?;
        let address = request.address.clone().unwrap_or_default();
        let postal_code = address.postal_code.trim();
        if postal_code.len() != 5 || !postal_code.chars().all(|c| c.is_ascii_digit()) {
            return Err(ServiceError::invalid_field(
                "address.postal_code",
                "must be five digits",
            ));
        }
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            code: code.to_owned(),
            name: domain::required_text("name", &request.name, 120)?,
            street_name: domain::required_text("address.street_name", &address.street_name, 120)?,
            house_number: domain::required_text("address.house_number", &address.house_number, 12)?,
            postal_code: postal_code.to_owned(),
            counter_count,
            settings: SiteSettings::parse(request.settings.as_ref(), "settings")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use sportello_proto::common::v1::Address;

    use super::*;

    fn request() -> CreateSiteRequest {
        CreateSiteRequest {
            municipality_istat_code: "011015".into(),
            code: "palazzo-civico".into(),
            name: "Palazzo Civico".into(),
            address: Some(Address {
                street_name: "Piazza Europa".into(),
                house_number: "1".into(),
                postal_code: "19124".into(),
                ..Default::default()
            }),
            counter_count: 8,
            idempotency_key: String::new(),
            settings: None,
        }
    }

    #[test]
    fn a_valid_request_parses() {
        assert_eq!(NewSite::try_from(&request()).unwrap().counter_count, 8);
    }

    #[test]
    fn each_bad_field_is_named() {
        sportello_kit::testing::assert_each_bad_field_is_named(
            &request(),
            |r| NewSite::try_from(r),
            &[
                ("code", |r| r.code = "Palazzo Civico".into()),
                ("counter_count", |r| r.counter_count = 0),
                ("counter_count", |r| r.counter_count = 1000),
                ("address.postal_code", |r| r.address = None),
                ("name", |r| r.name.clear()),
                ("settings.priority_bound_minutes", |r| {
                    r.settings = Some(SettingsMessage {
                        priority_bound_minutes: 241,
                        ..Default::default()
                    })
                }),
                ("settings.no_show_after_calls", |r| {
                    r.settings = Some(SettingsMessage {
                        no_show_after_calls: 10,
                        ..Default::default()
                    })
                }),
                ("settings.service_groups", |r| {
                    r.settings = Some(SettingsMessage {
                        service_groups: vec!["A".into()],
                        ..Default::default()
                    })
                }),
            ],
        );
    }
}
