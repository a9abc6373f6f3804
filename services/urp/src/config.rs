//! URP's configuration: the common one, where routing is (the protocol register), where
//! attachments are kept, the key behind requester_refs, the mailer for replies, and the
//! service charter's reply term.

use sportello_kit::{
    ConfigError, Env, PseudonymKey, ServiceConfig, StartError, documents::DocumentStoreConfig,
    mail::Mailer,
};

/// The service charter's reply term when neither the category nor `URP_REPLY_DAYS` says
/// otherwise: 30 days, the term most municipal charters promise (and L. 241/1990 art. 2
/// c. 2's default).
pub const DEFAULT_REPLY_DAYS: u32 = 30;

/// A page of copies, A4 black and white, when `URP_COPY_CENTS_PER_PAGE` is unset: € 0.25,
/// a common municipal tariff.
pub const DEFAULT_COPY_CENTS_PER_PAGE: u32 = 25;

/// Everything URP needs.
#[derive(Debug, Clone)]
pub struct UrpConfig {
    /// The common configuration.
    pub service: ServiceConfig,
    /// Routing's gRPC URL (`ROUTING_URL`); without it reports are refused with
    /// UNAVAILABLE, saying so: without a protocol number there is no report.
    pub routing_url: Option<String>,
    /// Where attachments are kept (`DOCUMENT_STORE_URL`, `DOCUMENT_MAX_BYTES`).
    pub documents: DocumentStoreConfig,
    /// The deployment secret behind requester_refs (`PSEUDONYM_KEY`, the registry's).
    pub pseudonym_key: PseudonymKey,
    /// The SMTP server replies are sent through (`SMTP_URL`); without it the citizen
    /// reads the reply by the report's code.
    pub mailer: Option<Mailer>,
    /// The charter's reply term in days (`URP_REPLY_DAYS`, 1 to 365).
    pub reply_days: u32,
    /// What a page of copies costs, in cents (`URP_COPY_CENTS_PER_PAGE`): the cost of
    /// reproduction, which each administration sets (DPR 184/2006 art. 7 c. 1).
    pub copy_cents_per_page: u32,
}

impl UrpConfig {
    /// Reads the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let service = crate::SPEC.config_from_env(env)?;
        let raw: String = env.required(
            "PSEUDONYM_KEY",
            "serve la chiave dei riferimenti pseudonimi, la stessa dell'anagrafe (the key behind requester_refs, the registry's): 64 or more hex digits",
        )?;
        let pseudonym_key: PseudonymKey = raw
            .trim()
            .parse()
            .map_err(|why| ConfigError::invalid("PSEUDONYM_KEY", &raw, why))?;
        let reply_days = match env.optional::<u32>("URP_REPLY_DAYS")? {
            Some(days) if (1..=365).contains(&days) => days,
            Some(days) => {
                return Err(ConfigError::invalid(
                    "URP_REPLY_DAYS",
                    &days.to_string(),
                    "giorni tra 1 e 365 / days between 1 and 365",
                ));
            }
            None => DEFAULT_REPLY_DAYS,
        };
        let copy_cents_per_page = env
            .optional::<u32>("URP_COPY_CENTS_PER_PAGE")?
            .unwrap_or(DEFAULT_COPY_CENTS_PER_PAGE);
        Ok(Self {
            service,
            routing_url: env.peer_url("ROUTING_URL", "routing")?,
            documents: DocumentStoreConfig::from_env(env)?,
            pseudonym_key,
            mailer: Mailer::from_env(env)?,
            reply_days,
            copy_cents_per_page,
        })
    }
}

impl AsRef<ServiceConfig> for UrpConfig {
    fn as_ref(&self) -> &ServiceConfig {
        &self.service
    }
}

/// What [`crate::start`] accepts: a full [`UrpConfig`], or the common configuration alone
/// (no routing — reports UNAVAILABLE —, attachments in URP's schema, a key that lives as
/// long as the process, no mailer, the default term).
pub trait IntoUrpConfig {
    /// URP's configuration.
    fn into_urp_config(self) -> Result<UrpConfig, StartError>;
}

impl IntoUrpConfig for UrpConfig {
    fn into_urp_config(self) -> Result<UrpConfig, StartError> {
        Ok(self)
    }
}

impl IntoUrpConfig for ServiceConfig {
    fn into_urp_config(self) -> Result<UrpConfig, StartError> {
        Ok(UrpConfig {
            service: self,
            routing_url: None,
            documents: DocumentStoreConfig::default(),
            pseudonym_key: PseudonymKey::random(),
            mailer: None,
            reply_days: DEFAULT_REPLY_DAYS,
            copy_cents_per_page: DEFAULT_COPY_CENTS_PER_PAGE,
        })
    }
}
