//! Permits' kinds and states, the plates as the PA library reads them, and a request to
//! issue one, parsed once at the edge.

use jiff::civil::Date;
use sportello_kit::{IdempotencyKey, MunicipalityCode, ServiceError, domain, payments::Debtor};
use sportello_pa::{
    fiscal_code::CodiceFiscale,
    plate::{self, PlateError, PlateKind},
    vat::PartitaIva,
};
use sportello_proto::{
    common::v1::Channel,
    mobility::v1::{IssuePermitRequest, PermitKind, PermitState, PlateInput},
};

/// The kinds a zone issues (badges have their own desk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A resident's permit.
    Resident,
    /// A resident's guest.
    Guest,
    /// Works in the zone.
    Works,
    /// Deliveries.
    Delivery,
}

impl Kind {
    /// The kinds zones issue; `None` for the others.
    pub fn issued_by_zones(kind: PermitKind) -> Option<Self> {
        match kind {
            PermitKind::Resident => Some(Self::Resident),
            PermitKind::Guest => Some(Self::Guest),
            PermitKind::Works => Some(Self::Works),
            PermitKind::Delivery => Some(Self::Delivery),
            PermitKind::Unspecified | PermitKind::DisabledBadge => None,
        }
    }

    /// Its name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Guest => "guest",
            Self::Works => "works",
            Self::Delivery => "delivery",
        }
    }

    /// In Italian, for notices and messages.
    pub fn italian(self) -> &'static str {
        match self {
            Self::Resident => "permesso residenti",
            Self::Guest => "permesso ospiti",
            Self::Works => "permesso cantieri",
            Self::Delivery => "permesso carico e scarico",
        }
    }

    /// From its name in the database.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Resident, Self::Guest, Self::Works, Self::Delivery]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// On the wire.
    pub fn to_proto(self) -> PermitKind {
        match self {
            Self::Resident => PermitKind::Resident,
            Self::Guest => PermitKind::Guest,
            Self::Works => PermitKind::Works,
            Self::Delivery => PermitKind::Delivery,
        }
    }
}

/// Where a permit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for its notice to be paid.
    AwaitingPayment,
    /// Valid in its days.
    Active,
    /// Valid until its grace ends, unless kept.
    UnderReview,
    /// Over.
    Ended,
}

impl State {
    /// Its name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Self::AwaitingPayment => "awaiting_payment",
            Self::Active => "active",
            Self::UnderReview => "under_review",
            Self::Ended => "ended",
        }
    }

    /// From its name in the database.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::AwaitingPayment,
            Self::Active,
            Self::UnderReview,
            Self::Ended,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// On the wire.
    pub fn to_proto(self) -> PermitState {
        match self {
            Self::AwaitingPayment => PermitState::AwaitingPayment,
            Self::Active => PermitState::Active,
            Self::UnderReview => PermitState::UnderReview,
            Self::Ended => PermitState::Ended,
        }
    }
}

/// A plate on a permit: the PA library's compact text and the kind's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehiclePlate {
    /// As on the whitelist: "AB123CD", foreign "CH:ZH12345".
    pub plate: String,
    /// "car", "motorcycle", …
    pub kind: String,
}

/// The code of a plate kind ("car", "old_provincial", …), as PlateInput.kind names it.
pub fn plate_kind_code(kind: &PlateKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Reads one plate as typed, with the kind the operator chose when it fits several.
pub fn parse_plate(field: &str, input: &PlateInput) -> Result<VehiclePlate, ServiceError> {
    let recognised = plate::recognise(&input.plate)
        .map_err(|e| ServiceError::invalid_field(field, plate_message(&e)))?;
    let chosen = input.kind.trim();
    let plate = if chosen.is_empty() {
        recognised
            .only()
            .map_err(|e| ServiceError::invalid_field(field, plate_message(&e)))?
    } else {
        let candidates: Vec<String> = recognised.candidates.iter().map(plate_kind_code).collect();
        recognised
            .choose(|k| plate_kind_code(k) == chosen)
            .ok_or_else(|| {
                ServiceError::invalid_field(
                    format!("{field}.kind"),
                    format!(
                        "la targa non è del tipo {chosen} ma {} / the plate is not a {chosen}, it fits {}",
                        candidates.join(", "),
                        candidates.join(", ")
                    ),
                )
            })?
    };
    Ok(VehiclePlate {
        plate: plate.to_string(),
        kind: plate_kind_code(&plate.kind),
    })
}

/// The library's reason, Italian first.
pub fn plate_message(error: &PlateError) -> String {
    let italiano = match error {
        PlateError::Empty => "la targa è vuota",
        PlateError::Ambiguous { .. } => "la targa corrisponde a più formati: indicare quale",
        PlateError::Unrecognised(_) | PlateError::ExcludedLetter(_) | PlateError::BadChar(_) => {
            "la targa non corrisponde a nessun formato italiano (le estere come PAESE:TARGA)"
        }
        PlateError::Country(_) | PlateError::ForeignShape(_) => "targa estera non valida",
    };
    format!("{italiano} / {error}")
}

/// Who holds a permit: a person, or a business for works and deliveries.
#[derive(Debug, Clone)]
pub enum Holder {
    /// By fiscal code.
    Person(CodiceFiscale),
    /// By its eleven-digit fiscal code (partita IVA).
    Business(PartitaIva),
}

impl Holder {
    /// The code, for the pseudonymous reference and pagoPA.
    pub fn code(&self) -> &str {
        match self {
            Self::Person(code) => code.as_str(),
            Self::Business(code) => code.as_str(),
        }
    }
}

/// A channel as the tables name it: `counter`, `web`, `pec`, …
pub fn channel_name(channel: Channel) -> String {
    channel
        .as_str_name()
        .to_ascii_lowercase()
        .trim_start_matches("channel_")
        .to_owned()
}

/// A permit to issue, as parsed.
#[derive(Debug, Clone)]
pub struct Application {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The zone's code.
    pub zone_code: String,
    /// The kind.
    pub kind: Kind,
    /// The holder (the host), for the registry and pagoPA; never stored.
    pub holder: Holder,
    /// The holder as pagoPA's debtor.
    pub debtor: Debtor,
    /// The plates, distinct.
    pub plates: Vec<VehiclePlate>,
    /// First day; `None` for today.
    pub valid_from: Option<Date>,
    /// A temporary permit's days.
    pub days: u32,
    /// Where it was asked.
    pub channel: Channel,
    /// Retry key.
    pub key: Option<IdempotencyKey>,
}

impl TryFrom<&IssuePermitRequest> for Application {
    type Error = ServiceError;

    fn try_from(request: &IssuePermitRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let zone_code =
            domain::required_text("zone_code", &request.zone_code, 16)?.to_ascii_uppercase();
        let kind = PermitKind::try_from(request.kind)
            .ok()
            .and_then(Kind::issued_by_zones)
            .ok_or_else(|| {
                ServiceError::invalid_field(
                    "kind",
                    "deve essere resident, guest, works o delivery (i contrassegni hanno il loro sportello) / must be resident, guest, works or delivery (badges have their own desk)",
                )
            })?;
        let raw = request.holder_fiscal_code.trim().to_ascii_uppercase();
        let needs_person = super::rules::of(kind).needs_residence;
        let holder = if raw.len() == 11 && raw.chars().all(|c| c.is_ascii_digit()) {
            if needs_person {
                return Err(ServiceError::invalid_field(
                    "holder_fiscal_code",
                    format!(
                        "un {} è di una persona: serve il codice fiscale di 16 caratteri / a {} permit is a person's: a 16-character fiscal code is required",
                        kind.italian(),
                        kind.name()
                    ),
                ));
            }
            Holder::Business(raw.parse().map_err(|e| {
                ServiceError::invalid_field(
                    "holder_fiscal_code",
                    format!("partita IVA non valida / not a valid VAT number: {e}"),
                )
            })?)
        } else {
            Holder::Person(raw.parse().map_err(|e| {
                ServiceError::invalid_field(
                    "holder_fiscal_code",
                    format!("codice fiscale non valido / not a valid fiscal code: {e}"),
                )
            })?)
        };
        let name = domain::required_text("holder_name", &request.holder_name, 140)?;
        let debtor_kind = match holder {
            Holder::Person(_) => sportello_kit::payments::DebtorKind::Person,
            Holder::Business(_) => sportello_kit::payments::DebtorKind::Legal,
        };
        let debtor = Debtor::new(debtor_kind, holder.code(), &name)
            .map_err(|e| ServiceError::invalid_field("holder_name", e.to_string()))?;
        if request.plates.is_empty() {
            return Err(ServiceError::invalid_field(
                "plates",
                "serve almeno una targa / at least one plate is required",
            ));
        }
        let mut plates: Vec<VehiclePlate> = Vec::new();
        for (i, input) in request.plates.iter().enumerate() {
            let plate = parse_plate(&format!("plates[{i}]"), input)?;
            if plates.iter().any(|p| p.plate == plate.plate) {
                return Err(ServiceError::invalid_field(
                    format!("plates[{i}]"),
                    format!(
                        "la targa {} è ripetuta / plate {} is listed twice",
                        plate.plate, plate.plate
                    ),
                ));
            }
            plates.push(plate);
        }
        let most = super::rules::of(kind).most_plates;
        if plates.len() > most {
            return Err(ServiceError::invalid_field(
                "plates",
                format!(
                    "un {} porta al massimo {most} targhe / a {} permit carries at most {most} plates",
                    kind.italian(),
                    kind.name()
                ),
            ));
        }
        let valid_from = match request.valid_from.trim() {
            "" => None,
            raw => Some(domain::parse_date("valid_from", raw)?),
        };
        let channel = match Channel::try_from(request.channel) {
            Ok(Channel::Unspecified) | Err(_) => {
                return Err(ServiceError::invalid_field(
                    "channel",
                    "è obbligatorio / is required",
                ));
            }
            Ok(channel) => channel,
        };
        Ok(Self {
            municipality,
            zone_code,
            kind,
            holder,
            debtor,
            plates,
            valid_from,
            days: request.days,
            channel,
            key: IdempotencyKey::parse_optional(&request.idempotency_key)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(plate: &str, kind: &str) -> PlateInput {
        PlateInput {
            plate: plate.into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn a_car_plate_is_read_whatever_its_spacing() {
        let plate = parse_plate("plates[0]", &input("ab 123 cd", "")).unwrap();
        assert_eq!(plate.plate, "AB123CD");
        assert_eq!(plate.kind, "car");
    }

    #[test]
    fn an_ambiguous_plate_needs_its_kind() {
        // SP 12345: an old La Spezia plate or a trailer's from before 2013.
        let error = parse_plate("plates[0]", &input("SP 12345", "")).unwrap_err();
        assert_eq!(error.violations()[0].field, "plates[0]");
        assert!(error.message().contains("più formati"), "{error}");
        let chosen = parse_plate("plates[0]", &input("SP 12345", "old_provincial")).unwrap();
        assert_eq!(chosen.kind, "old_provincial");
        let wrong = parse_plate("plates[0]", &input("SP 12345", "car")).unwrap_err();
        assert_eq!(wrong.violations()[0].field, "plates[0].kind");
    }

    #[test]
    fn a_plate_that_fits_no_format_is_refused_saying_so() {
        let error = parse_plate("plates[1]", &input("12345678", "")).unwrap_err();
        assert_eq!(error.violations()[0].field, "plates[1]");
        assert!(error.message().contains("nessun formato"), "{error}");
    }

    #[test]
    fn foreign_plates_are_marked() {
        let plate = parse_plate("plates[0]", &input("CH:ZH 12345", "")).unwrap();
        assert_eq!(plate.plate, "CH:ZH12345");
        assert_eq!(plate.kind, "foreign");
    }
}
