//! Fee requests parsed into domain types at the edge: every field checked and named when
//! wrong, before anything is asked or written.

use sportello_kit::{
    MunicipalityCode, ServiceError, domain,
    payments::{Debtor, DebtorKind},
};
use sportello_pa::fiscal_code::CodiceFiscale;
use sportello_proto::education::v1::{
    BillingPlan, FeeKind as FeeKindMessage, SetFeeScheduleRequest, SubscribeRequest,
};

use super::tariff::Band;
use crate::enrolment::domain::{Filing, parse_dsu, parse_fiscal_code};

/// The most a month may cost, in euro cents (€5,000: a guard against a typo in cents).
const MAX_MONTHLY_CENTS: i64 = 500_000;

/// The services a family pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeKind {
    /// School canteen.
    Canteen,
    /// School transport.
    Transport,
    /// The nursery's fee.
    Nursery,
}

impl FeeKind {
    /// Parses the `kind` field.
    pub fn parse(raw: i32) -> Result<Self, ServiceError> {
        match FeeKindMessage::try_from(raw) {
            Ok(FeeKindMessage::Canteen) => Ok(Self::Canteen),
            Ok(FeeKindMessage::Transport) => Ok(Self::Transport),
            Ok(FeeKindMessage::Nursery) => Ok(Self::Nursery),
            _ => Err(ServiceError::invalid_field(
                "kind",
                "mensa, trasporto o nido: FEE_KIND_CANTEEN, FEE_KIND_TRANSPORT o FEE_KIND_NURSERY / \
                 canteen, transport or nursery",
            )),
        }
    }

    /// Its name in the database.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Canteen => "canteen",
            Self::Transport => "transport",
            Self::Nursery => "nursery",
        }
    }

    /// From its name in the database.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "canteen" => Some(Self::Canteen),
            "transport" => Some(Self::Transport),
            "nursery" => Some(Self::Nursery),
            _ => None,
        }
    }

    /// On the wire.
    pub const fn message(self) -> FeeKindMessage {
        match self {
            Self::Canteen => FeeKindMessage::Canteen,
            Self::Transport => FeeKindMessage::Transport,
            Self::Nursery => FeeKindMessage::Nursery,
        }
    }

    /// The month of the next calendar year the service ends with.
    pub const fn last_month(self) -> i8 {
        match self {
            Self::Canteen | Self::Transport => 6,
            Self::Nursery => 7,
        }
    }

    /// The prefix of its subscriptions' codes.
    pub const fn code_prefix(self) -> &'static str {
        match self {
            Self::Canteen => "MENSA",
            Self::Transport => "TRASP",
            Self::Nursery => "RETTA",
        }
    }

    /// Its name for a person (the protocol register's subject, the notice's reason).
    pub const fn italian(self) -> &'static str {
        match self {
            Self::Canteen => "refezione scolastica",
            Self::Transport => "trasporto scolastico",
            Self::Nursery => "nido d'infanzia",
        }
    }
}

/// How the fees are charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// A notice a month.
    Monthly,
    /// One notice for the year.
    Yearly,
}

impl Plan {
    /// Parses the `plan` field.
    pub fn parse(raw: i32) -> Result<Self, ServiceError> {
        match BillingPlan::try_from(raw) {
            Ok(BillingPlan::Monthly) => Ok(Self::Monthly),
            Ok(BillingPlan::Yearly) => Ok(Self::Yearly),
            _ => Err(ServiceError::invalid_field(
                "plan",
                "BILLING_PLAN_MONTHLY (mensile) o BILLING_PLAN_YEARLY (annuale) / monthly or \
                 yearly",
            )),
        }
    }

    /// Its name in the database.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Monthly => "monthly",
            Self::Yearly => "yearly",
        }
    }

    /// From its name in the database.
    pub fn from_name(name: &str) -> Self {
        if name == "yearly" {
            Self::Yearly
        } else {
            Self::Monthly
        }
    }
}

/// Reads a school year.
pub fn parse_year(raw: i32) -> Result<i16, ServiceError> {
    i16::try_from(raw)
        .ok()
        .filter(|y| (2000..=2200).contains(y))
        .ok_or_else(|| {
            ServiceError::invalid_field("school_year", "anno 2000-2200 / year 2000-2200")
        })
}

/// A schedule version to publish.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The service.
    pub kind: FeeKind,
    /// The school year.
    pub year: i16,
    /// The bands, ascending, the last unbounded.
    pub bands: Vec<Band>,
    /// The sibling reduction in percent.
    pub sibling_reduction_percent: u8,
}

impl TryFrom<&SetFeeScheduleRequest> for NewSchedule {
    type Error = ServiceError;

    fn try_from(r: &SetFeeScheduleRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        let kind = FeeKind::parse(r.kind)?;
        let year = parse_year(r.school_year)?;
        if r.bands.is_empty() || r.bands.len() > 10 {
            return Err(ServiceError::invalid_field(
                "bands",
                "da 1 a 10 fasce / 1 to 10 bands",
            ));
        }
        let mut bands = Vec::with_capacity(r.bands.len());
        let mut previous: Option<i64> = None;
        for (i, band) in r.bands.iter().enumerate() {
            let last = i + 1 == r.bands.len();
            if !(0..=MAX_MONTHLY_CENTS).contains(&band.monthly_cents) {
                return Err(ServiceError::invalid_field(
                    format!("bands[{i}].monthly_cents"),
                    "da 0 (esente) a 500.000 centesimi / 0 (exempt) to 500,000 cents",
                ));
            }
            match (band.up_to_cents, last) {
                (Some(_), true) => {
                    return Err(ServiceError::invalid_field(
                        format!("bands[{i}].up_to_cents"),
                        "l'ultima fascia è senza limite / the last band is unbounded",
                    ));
                }
                (None, false) => {
                    return Err(ServiceError::invalid_field(
                        format!("bands[{i}].up_to_cents"),
                        "obbligatorio tranne che per l'ultima fascia / required but for the last band",
                    ));
                }
                (Some(up_to), false) if up_to < 0 || previous.is_some_and(|p| up_to <= p) => {
                    return Err(ServiceError::invalid_field(
                        format!("bands[{i}].up_to_cents"),
                        "non negativo e crescente / not negative and ascending",
                    ));
                }
                _ => {}
            }
            previous = band.up_to_cents;
            bands.push(Band {
                up_to_cents: band.up_to_cents,
                monthly_cents: band.monthly_cents,
            });
        }
        let sibling_reduction_percent = u8::try_from(r.sibling_reduction_percent)
            .ok()
            .filter(|p| *p <= 100)
            .ok_or_else(|| {
                ServiceError::invalid_field("sibling_reduction_percent", "da 0 a 100 / 0 to 100")
            })?;
        Ok(Self {
            municipality,
            kind,
            year,
            bands,
            sibling_reduction_percent,
        })
    }
}

/// Who pays: sent to pagoPA as the debtor, never stored.
#[derive(Clone)]
pub struct Payer {
    /// The fiscal code.
    pub fiscal_code: CodiceFiscale,
    /// The debtor pagoPA prints on the notice.
    pub debtor: Debtor,
}

impl std::fmt::Debug for Payer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Payer(..)")
    }
}

impl Payer {
    /// Reads the payer's fiscal code and name.
    pub fn parse(fiscal_code: &str, name: &str) -> Result<Self, ServiceError> {
        let fiscal_code = parse_fiscal_code("payer_fiscal_code", fiscal_code)?;
        let name = name.trim();
        if name.is_empty() {
            return Err(ServiceError::invalid_field(
                "payer_name",
                "obbligatorio: nome e cognome come li stampa l'avviso pagoPA / required: the \
                 full name the pagoPA notice prints",
            ));
        }
        let debtor = Debtor::new(DebtorKind::Person, fiscal_code.as_str(), name).map_err(|e| {
            let field = if e.field == "fiscal_code" {
                "payer_fiscal_code"
            } else {
                "payer_name"
            };
            ServiceError::invalid_field(field, e.reason)
        })?;
        Ok(Self {
            fiscal_code,
            debtor,
        })
    }
}

/// A subscription to take, parsed; residence is the registry's, asked next.
#[derive(Debug)]
pub struct NewSubscription {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The service.
    pub kind: FeeKind,
    /// The school year.
    pub year: i16,
    /// The child.
    pub child: CodiceFiscale,
    /// Who pays.
    pub payer: Payer,
    /// The ISEE value declared.
    pub isee_cents: Option<i64>,
    /// Its DSU's protocol number.
    pub dsu_protocol: Option<String>,
    /// Monthly or yearly.
    pub plan: Plan,
    /// Where it was taken.
    pub filing: Filing,
}

impl TryFrom<&SubscribeRequest> for NewSubscription {
    type Error = ServiceError;

    fn try_from(r: &SubscribeRequest) -> Result<Self, Self::Error> {
        let municipality =
            domain::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        let kind = FeeKind::parse(r.kind)?;
        let year = parse_year(r.school_year)?;
        let child = parse_fiscal_code("child_fiscal_code", &r.child_fiscal_code)?;
        let payer = Payer::parse(&r.payer_fiscal_code, &r.payer_name)?;
        if payer.fiscal_code == child {
            return Err(ServiceError::invalid_field(
                "payer_fiscal_code",
                "paga un genitore o il tutore, non il bambino / a parent or guardian pays, not \
                 the child",
            ));
        }
        if r.isee_value_cents.is_some_and(|v| v < 0) {
            return Err(ServiceError::invalid_field(
                "isee_value_cents",
                "un valore ISEE non è negativo / an ISEE value is not negative",
            ));
        }
        let dsu_protocol = match (r.isee_value_cents, r.dsu_protocol.trim()) {
            (Some(_), raw) => Some(parse_dsu(raw)?),
            (None, "") => None,
            (None, _) => {
                return Err(ServiceError::invalid_field(
                    "isee_value_cents",
                    "manca il valore ISEE della DSU indicata / the ISEE value of the DSU given \
                     is missing",
                ));
            }
        };
        Ok(Self {
            municipality,
            kind,
            year,
            child,
            payer,
            isee_cents: r.isee_value_cents,
            dsu_protocol,
            plan: Plan::parse(r.plan)?,
            filing: Filing::parse(r.channel)?,
        })
    }
}
