//! Where pagoPA is and who the creditors are, from the environment.

use std::{collections::HashMap, fmt, time::Duration};

use super::domain::{Creditor, CreditorFiscalCode, SegregationCode};
use crate::{
    config::{ConfigError, Env},
    domain::MunicipalityCode,
};

/// GPD's base URL, e.g. `https://api.platform.pagopa.it/gpd/debt-positions-service/v1`
/// (production), the UAT one, or the local simulator's `http://127.0.0.1:PORT`.
pub const PAGOPA_GPD_URL: &str = "PAGOPA_GPD_URL";
/// The subscription key GPD expects in `Ocp-Apim-Subscription-Key` (a Secret).
pub const PAGOPA_GPD_KEY: &str = "PAGOPA_GPD_KEY";
/// The creditors, one per municipality: `ISTAT,FISCAL_CODE,IBAN,NAME` entries joined by
/// `;`, e.g. `011015,00211160114,IT60X0542811101000000123456,Comune della Spezia`.
pub const PAGOPA_CREDITORS: &str = "PAGOPA_CREDITORS";
/// This service's two-digit *codice segregazione*. Each paying department has its own, so
/// their IUVs never collide: `01` education, `02` SUAP, `03` mobility (their defaults).
pub const PAGOPA_SEGREGATION_CODE: &str = "PAGOPA_SEGREGATION_CODE";
/// The *tassonomia* code of the service's collections (GPD's transfer `category`).
pub const PAGOPA_TAXONOMY: &str = "PAGOPA_TAXONOMY";
/// How often receipts are fetched (default 5s).
pub const PAGOPA_RECEIPTS_POLL: &str = "PAGOPA_RECEIPTS_POLL";
/// How long one call to GPD may take (default 10s).
pub const PAGOPA_GPD_TIMEOUT: &str = "PAGOPA_GPD_TIMEOUT";

/// A paying service's pagoPA configuration.
#[derive(Clone)]
pub struct PaymentsConfig {
    /// GPD's base URL.
    pub gpd_url: url::Url,
    gpd_key: Option<String>,
    /// The creditor of each municipality.
    pub creditors: HashMap<MunicipalityCode, Creditor>,
    /// This service's segregation code.
    pub segregation: SegregationCode,
    /// The *tassonomia* code of this service's collections.
    pub taxonomy: String,
    /// How often receipts are fetched.
    pub poll_every: Duration,
    /// The deadline of one call to GPD.
    pub timeout: Duration,
}

/// Debug never shows the key.
impl fmt::Debug for PaymentsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentsConfig")
            .field("gpd_url", &self.gpd_url.as_str())
            .field("gpd_key", &self.gpd_key.as_ref().map(|_| "<redacted>"))
            .field("creditors", &self.creditors)
            .field("segregation", &self.segregation)
            .field("taxonomy", &self.taxonomy)
            .field("poll_every", &self.poll_every)
            .finish()
    }
}

impl PaymentsConfig {
    /// Reads the `PAGOPA_*` variables; `None` when `PAGOPA_GPD_URL` is unset (the service
    /// then answers payment requests UNAVAILABLE, saying what to set).
    /// `default_segregation` is the service's own code when `PAGOPA_SEGREGATION_CODE` is
    /// unset.
    pub fn from_env(env: &Env, default_segregation: &str) -> Result<Option<Self>, ConfigError> {
        let Some(raw_url) = env.raw(PAGOPA_GPD_URL) else {
            return Ok(None);
        };
        let gpd_url = url::Url::parse(raw_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                ConfigError::invalid(
                    PAGOPA_GPD_URL,
                    raw_url,
                    "atteso l'URL http(s) di GPD / expected GPD's http(s) URL, e.g. \
                     https://api.platform.pagopa.it/gpd/debt-positions-service/v1",
                )
            })?;
        // Required only once PAGOPA_GPD_URL is set, so read with `raw`: deploy-check
        // demands every `env.required` of the kit of every service, paying or not.
        let raw_creditors = env
            .raw(PAGOPA_CREDITORS)
            .ok_or_else(|| ConfigError::Missing {
                var: PAGOPA_CREDITORS.to_owned(),
                hint: "ISTAT,CODICE_FISCALE,IBAN,NOME per comune, separati da ';' / \
                   ISTAT,FISCAL_CODE,IBAN,NAME per municipality, joined by ';'"
                    .to_owned(),
            })?;
        let creditors = parse_creditors(raw_creditors)
            .map_err(|why| ConfigError::invalid(PAGOPA_CREDITORS, raw_creditors, why))?;
        let raw_segregation = env
            .raw(PAGOPA_SEGREGATION_CODE)
            .unwrap_or(default_segregation);
        let segregation: SegregationCode = raw_segregation
            .parse()
            .map_err(|why| ConfigError::invalid(PAGOPA_SEGREGATION_CODE, raw_segregation, why))?;
        let taxonomy = env
            .raw(PAGOPA_TAXONOMY)
            .ok_or_else(|| ConfigError::Missing {
                var: PAGOPA_TAXONOMY.to_owned(),
                hint: "il codice tassonomia dei servizi di incasso / the collection's \
                       taxonomy code, e.g. 9/0101108TS/"
                    .to_owned(),
            })?
            .to_owned();
        if !valid_taxonomy(&taxonomy) {
            return Err(ConfigError::invalid(
                PAGOPA_TAXONOMY,
                &taxonomy,
                "atteso N/NNNNNNNXX/ / expected N/NNNNNNNXX/, e.g. 9/0101108TS/",
            ));
        }
        Ok(Some(Self {
            gpd_url,
            gpd_key: env.raw(PAGOPA_GPD_KEY).map(str::to_owned),
            creditors,
            segregation,
            taxonomy,
            poll_every: env.duration_or(PAGOPA_RECEIPTS_POLL, Duration::from_secs(5))?,
            timeout: env.duration_or(PAGOPA_GPD_TIMEOUT, Duration::from_secs(10))?,
        }))
    }

    /// A configuration for tests: the GPD at `url`, no key, one creditor.
    pub fn for_test(
        url: &str,
        municipality: MunicipalityCode,
        creditor: Creditor,
        segregation: SegregationCode,
    ) -> Result<Self, ConfigError> {
        let gpd_url =
            url::Url::parse(url).map_err(|e| ConfigError::invalid(PAGOPA_GPD_URL, url, e))?;
        Ok(Self {
            gpd_url,
            gpd_key: None,
            creditors: HashMap::from([(municipality, creditor)]),
            segregation,
            taxonomy: "9/0101108TS/".to_owned(),
            poll_every: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
        })
    }

    /// The subscription key, for the request header only.
    pub fn gpd_key(&self) -> Option<&str> {
        self.gpd_key.as_deref()
    }

    /// The creditor of `municipality`.
    pub fn creditor(&self, municipality: &MunicipalityCode) -> Option<&Creditor> {
        self.creditors.get(municipality)
    }
}

/// `N/NNNNNNNXX/`: the *tassonomia*'s shape.
fn valid_taxonomy(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[0].is_ascii_digit()
        && b[1] == b'/'
        && b[2..9].iter().all(u8::is_ascii_digit)
        && b[9..11].iter().all(u8::is_ascii_uppercase)
        && b[11] == b'/'
}

/// `ISTAT,FISCAL_CODE,IBAN,NAME;…` — the name is the rest of the entry, commas included.
pub(crate) fn parse_creditors(raw: &str) -> Result<HashMap<MunicipalityCode, Creditor>, String> {
    let mut creditors = HashMap::new();
    for entry in raw.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.splitn(4, ',').map(str::trim);
        let (Some(istat), Some(code), Some(iban), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("ogni voce è ISTAT,CODICE_FISCALE,IBAN,NOME / each entry is ISTAT,FISCAL_CODE,IBAN,NAME".to_owned());
        };
        let municipality: MunicipalityCode = istat
            .parse()
            .map_err(|_| format!("{istat:?}: codice ISTAT di 6 cifre / a 6-digit ISTAT code"))?;
        let fiscal_code: CreditorFiscalCode = code.parse().map_err(|e: &str| e.to_owned())?;
        let iban = iban.to_ascii_uppercase();
        if !(iban.len() == 27
            && iban.starts_with("IT")
            && iban.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(format!(
                "{istat}: IBAN italiano di 27 caratteri / a 27-character Italian IBAN"
            ));
        }
        if name.is_empty() || name.chars().count() > 140 {
            return Err(format!(
                "{istat}: nome da 1 a 140 caratteri / a name of 1 to 140 characters"
            ));
        }
        if creditors
            .insert(
                municipality,
                Creditor {
                    fiscal_code,
                    iban,
                    name: name.to_owned(),
                },
            )
            .is_some()
        {
            return Err(format!("{istat}: comune ripetuto / municipality repeated"));
        }
    }
    if creditors.is_empty() {
        return Err("nessun ente creditore / no creditor".to_owned());
    }
    Ok(creditors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn creditors_are_read_with_commas_in_names_and_wrong_entries_refused() {
        let c = parse_creditors(
            "011015,00211160114,IT60X0542811101000000123456,Comune della Spezia, Ufficio SUAP",
        )
        .unwrap();
        let la_spezia = &c[&"011015".parse().unwrap()];
        assert_eq!(la_spezia.name, "Comune della Spezia, Ufficio SUAP");
        assert!(parse_creditors("011015,0021116011,IT60X0542811101000000123456,X").is_err());
        assert!(parse_creditors("011015,00211160114,DE60X0542811101000000123456,X").is_err());
        assert!(parse_creditors("").is_err());
    }

    #[test]
    fn an_unset_url_means_no_payments_and_a_missing_creditor_list_is_named() {
        let seg = "02";
        assert!(
            PaymentsConfig::from_env(&Env::from_pairs([]), seg)
                .unwrap()
                .is_none()
        );
        let error = PaymentsConfig::from_env(
            &Env::from_pairs([(PAGOPA_GPD_URL, "http://127.0.0.1:1")]),
            seg,
        )
        .unwrap_err();
        assert!(
            error.to_string().starts_with("PAGOPA_CREDITORS is not set"),
            "{error}"
        );
        let error = PaymentsConfig::from_env(&Env::from_pairs([(PAGOPA_GPD_URL, "ftp://x")]), seg)
            .unwrap_err();
        assert!(error.to_string().contains("<redacted>"), "{error}");
    }
}
