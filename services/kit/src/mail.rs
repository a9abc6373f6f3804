//! E-mail by SMTP: plain UTF-8 text messages, such as an appointment's confirmation code.
//!
//! [`MailConfig::from_env`] reads `SMTP_URL` and `MAIL_FROM`; an unset `SMTP_URL` means
//! no mailer is configured, and a caller that needs one tells the person so instead of
//! failing at start. [`Mailer::send`] gives a [`MailError`] that says whether retrying
//! may help (connection, timeout, TLS, 4xx: [`MailError::Unavailable`]) or not (5xx:
//! [`MailError::Refused`]).
//!
//! Recipients and texts are personal data: nothing here logs them, and no error carries
//! the server's reply text (servers echo the address in it), only its code.

use std::{fmt, str::FromStr, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::{self, authentication::Credentials, extension::ClientId},
};

use crate::{
    config::{ConfigError, Env},
    error::ErrorKind,
};

/// The variable naming the SMTP server.
pub const SMTP_URL: &str = "SMTP_URL";
/// The variable naming the sender address.
pub const MAIL_FROM: &str = "MAIL_FROM";
/// The sender when `MAIL_FROM` is unset: `.invalid` is reserved (RFC 2606), so replies
/// to it can never reach anyone by mistake.
pub const DEFAULT_FROM: &str = "noreply@sportello.invalid";

/// How long one SMTP step (connect, each command) may take, and the whole sending too: a
/// stuck server must not hold the request that sends a confirmation code.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest address SMTP carries (RFC 5321's path limit, less the angle brackets).
const MAX_ADDRESS: usize = 254;
const MAX_LOCAL: usize = 64;
const MAX_LABEL: usize = 63;

// --- addresses ------------------------------------------------------------------------

/// A checked e-mail address `local@domain`, ASCII only, the domain in lower case (the
/// local part is kept as written: servers may treat it as case-sensitive).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address(String);

impl Address {
    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Debug never shows the address: it is personal data and Debug ends up in logs.
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address(<redacted>)")
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a text is not an e-mail address. Its message quotes the input so that the person
/// who typed it sees what was refused: show it to them, do not log it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "indirizzo e-mail non valido: {input:?} ({italian}) / not a valid e-mail address: {input:?} ({english})"
)]
pub struct AddressError {
    input: String,
    italian: &'static str,
    english: &'static str,
}

impl AddressError {
    fn new(input: &str, italian: &'static str, english: &'static str) -> Self {
        // An overlong input is cut, so an error never carries a whole pasted document.
        let input = input.chars().take(MAX_ADDRESS + 1).collect();
        Self {
            input,
            italian,
            english,
        }
    }

    /// The reason, Italian first then English, without the input (safe to log).
    pub fn reason(&self) -> String {
        format!("{} / {}", self.italian, self.english)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let raw = input.trim();
        let fail = |it, en| Err(AddressError::new(raw, it, en));
        if raw.is_empty() {
            return fail("è vuoto", "it is empty");
        }
        if raw.len() > MAX_ADDRESS {
            return fail("più di 254 caratteri", "longer than 254 characters");
        }
        if !raw.is_ascii() {
            return fail(
                "contiene caratteri non ammessi (lettere accentate o simboli)",
                "it holds characters that are not allowed (accented letters or symbols)",
            );
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return fail("manca la @", "the @ is missing");
        };
        if local.is_empty() {
            return fail("manca la parte prima della @", "nothing before the @");
        }
        if local.len() > MAX_LOCAL {
            return fail(
                "la parte prima della @ supera 64 caratteri",
                "the part before the @ is longer than 64 characters",
            );
        }
        // Dot-atom only (RFC 5322 3.2.3): quoted local parts are legal but never seen in
        // practice, and refusing them keeps the check simple and the header safe.
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
        if local
            .split('.')
            .any(|atom| atom.is_empty() || !atom.chars().all(atext))
        {
            return fail(
                "la parte prima della @ contiene caratteri o punti non ammessi",
                "the part before the @ holds characters or dots that are not allowed",
            );
        }
        let domain = domain.to_ascii_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return fail(
                "il dominio dopo la @ è incompleto",
                "the domain after the @ is incomplete",
            );
        }
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !labels.iter().all(|label| label_ok(label)) {
            return fail(
                "il dominio dopo la @ non è valido",
                "the domain after the @ is not valid",
            );
        }
        Ok(Self(format!("{local}@{domain}")))
    }
}

impl TryFrom<&Address> for lettre::Address {
    type Error = lettre::address::AddressError;
    fn try_from(address: &Address) -> Result<Self, Self::Error> {
        address.0.parse()
    }
}

// --- configuration --------------------------------------------------------------------

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: none. For a relay on the same host or a test server only.
    Plain,
    /// `smtp://…?tls=required`: STARTTLS, refused if the server does not offer it.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Tls,
}

/// Where and how mail is sent: `SMTP_URL` and `MAIL_FROM`.
#[derive(Clone, PartialEq, Eq)]
pub struct MailConfig {
    host: String,
    port: u16,
    security: SmtpSecurity,
    /// User and password, percent-decoded.
    credentials: Option<(String, String)>,
    /// The EHLO name, from the URL's path.
    hello_name: Option<String>,
    /// The sender.
    pub from: Address,
}

/// Debug shows where mail goes, never the password.
impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("hello_name", &self.hello_name)
            .field("from", &self.from.as_str())
            .finish()
    }
}

impl MailConfig {
    /// Reads `SMTP_URL` and `MAIL_FROM`; `None` when `SMTP_URL` is unset (no mailer).
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(raw) = env.raw(SMTP_URL) else {
            return Ok(None);
        };
        let mut config = Self::parse_url(raw)?;
        config.from = match env.raw(MAIL_FROM) {
            None => default_from(),
            Some(from) => from
                .parse()
                .map_err(|e: AddressError| ConfigError::invalid(MAIL_FROM, from, e.reason()))?,
        };
        Ok(Some(config))
    }

    /// A configuration for the server at `smtp_url`, with the default sender (tests).
    pub fn from_url(smtp_url: &str) -> Result<Self, ConfigError> {
        Self::parse_url(smtp_url)
    }

    /// Where mail goes: `host:port`.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// How the connection is protected.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    // Errors name SMTP_URL; ConfigError::invalid never echoes a *_URL value, which may
    // hold a password.
    fn parse_url(raw: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::invalid(SMTP_URL, raw, reason);
        let url = url::Url::parse(raw).map_err(|e| invalid(&format!("not a URL ({e})")))?;
        let tls = url
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (SmtpSecurity::Plain, 25),
            ("smtp", Some("required")) => (SmtpSecurity::StartTls, 587),
            ("smtps", None) => (SmtpSecurity::Tls, 465),
            ("smtp", Some("opportunistic")) => {
                return Err(invalid(
                    "tls=opportunistic falls back to plain text whenever an attacker asks: \
                     use tls=required or smtps://",
                ));
            }
            _ => {
                return Err(invalid(
                    "expected smtp://host:port (plain), smtp://host:587?tls=required \
                     (STARTTLS) or smtps://host:465 (TLS)",
                ));
            }
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid("the server's host is missing"))?
            .to_owned();
        let credentials = if url.username().is_empty() {
            None
        } else {
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| invalid("user or password is not valid UTF-8"))
            };
            let user = decode(url.username())?;
            let password = decode(url.password().unwrap_or_default())?;
            Some((user, password))
        };
        let path = url.path().trim_matches('/');
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            hello_name: (!path.is_empty()).then(|| path.to_owned()),
            from: default_from(),
        })
    }
}

fn default_from() -> Address {
    Address(DEFAULT_FROM.to_owned())
}

/// `%XX` escapes of a URL's user or password, decoded.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

// --- sending --------------------------------------------------------------------------

/// One message: plain UTF-8 text.
#[derive(Clone)]
pub struct Mail {
    /// The recipient.
    pub to: Address,
    /// The subject line.
    pub subject: String,
    /// The body, plain text.
    pub text: String,
}

/// Debug shows neither the recipient nor the text (personal data).
impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("text_bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The server refused the mail for good (a 5xx reply, such as an unknown mailbox):
    /// retrying will not help; the person should check the address.
    #[error(
        "il server di posta ha rifiutato il messaggio (codice {code}) / the mail server refused the message (code {code})"
    )]
    Refused {
        /// The SMTP reply code.
        code: u16,
    },
    /// The server could not be reached or asked to try later (connection, timeout, TLS,
    /// a 4xx reply): retrying later may succeed.
    #[error(
        "il server di posta non è raggiungibile ora ({kind}) / the mail server is unavailable now ({kind})"
    )]
    Unavailable {
        /// What failed: `connection`, `timeout`, `tls` or `smtp 4xx`.
        kind: String,
    },
    /// The server refused our credentials, or the message could not be built: a
    /// deployment or programming problem, not the person's.
    #[error(
        "invio della posta non configurato correttamente ({kind}) / mail sending is misconfigured ({kind})"
    )]
    Misconfigured {
        /// What failed.
        kind: String,
    },
}

impl MailError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Refused { .. } => "refused",
            Self::Unavailable { .. } => "unavailable",
            Self::Misconfigured { .. } => "misconfigured",
        }
    }

    /// The kit's error kind a service answers with: unavailable for transient failures,
    /// failed precondition for a refused recipient, internal for our own mistakes.
    pub fn error_kind(&self) -> ErrorKind {
        match self {
            Self::Refused { .. } => ErrorKind::FailedPrecondition,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Misconfigured { .. } => ErrorKind::Internal,
        }
    }

    /// Sorts lettre's error without keeping its text: a reply's text may quote the
    /// recipient.
    fn from_smtp(error: &smtp::Error) -> Self {
        if let Some(code) = error.status() {
            let code = u16::from(code);
            return match code {
                // Authentication required / failed: our credentials, not the recipient.
                530 | 534 | 535 | 538 => Self::Misconfigured {
                    kind: format!("smtp {code}"),
                },
                500..=599 => Self::Refused { code },
                _ => Self::Unavailable {
                    kind: format!("smtp {code}"),
                },
            };
        }
        let kind = if error.is_timeout() {
            "timeout"
        } else if error.is_tls() {
            "tls"
        } else if error.is_client() {
            return Self::Misconfigured {
                kind: "client".to_owned(),
            };
        } else {
            "connection"
        };
        Self::Unavailable {
            kind: kind.to_owned(),
        }
    }
}

/// Sends mail. Cheap to clone: clones share the transport's settings; each sending
/// opens its own connection (confirmation codes are few, and no connection sits idle
/// waiting for the server to drop it).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `config`. Fails only when TLS cannot be set up for the host.
    pub fn new(config: &MailConfig) -> Result<Self, ConfigError> {
        let tls_error = |e: smtp::Error| {
            ConfigError::invalid(SMTP_URL, "", format!("cannot set up TLS for the host: {e}"))
        };
        let mut builder = match config.security {
            SmtpSecurity::Plain => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(tls_error)?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(tls_error)?
            }
        }
        .port(config.port)
        .timeout(Some(SMTP_TIMEOUT));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        if let Some(name) = &config.hello_name {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        let from = lettre::Address::try_from(&config.from)
            .map_err(|e| ConfigError::invalid(MAIL_FROM, config.from.as_str(), e))?;
        Ok(Self {
            transport: builder.build(),
            from: Mailbox::new(None, from),
            server: config.server(),
        })
    }

    /// The mailer `SMTP_URL` and `MAIL_FROM` describe, or `None` when `SMTP_URL` is unset.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        MailConfig::from_env(env)?
            .map(|config| Self::new(&config))
            .transpose()
    }

    /// Sends `mail`, within [`SMTP_TIMEOUT`].
    #[tracing::instrument(name = "mail.send", skip_all, fields(server = %self.server))]
    pub async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let result = match tokio::time::timeout(SMTP_TIMEOUT, self.try_send(mail)).await {
            Ok(result) => result,
            Err(_) => Err(MailError::Unavailable {
                kind: "timeout".to_owned(),
            }),
        };
        match &result {
            Ok(()) => tracing::info!("mail sent"),
            Err(error) => tracing::warn!(kind = error.kind(), %error, "mail not sent"),
        }
        result
    }

    async fn try_send(&self, mail: Mail) -> Result<(), MailError> {
        let to = lettre::Address::try_from(&mail.to).map_err(|_| MailError::Misconfigured {
            kind: "recipient".to_owned(),
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text)
            .map_err(|_| MailError::Misconfigured {
                kind: "message".to_owned(),
            })?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| MailError::from_smtp(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_domains_lowered() {
        let address: Address = " Mario.Rossi@Comune.Example.IT ".parse().unwrap();
        assert_eq!(address.as_str(), "Mario.Rossi@comune.example.it");
        for bad in [
            "",
            "mario",
            "@example.it",
            "mario@",
            "mario@localhost",
            "mario..rossi@example.it",
            "mario@-example.it",
            "màrio@example.it",
            "a b@example.it",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@{}.it", "a".repeat(64), "b".repeat(63));
        assert!(long.parse::<Address>().is_ok());
        let too_long = format!("a@{}.it", vec!["b".repeat(60); 5].join("."));
        assert!(too_long.parse::<Address>().is_err());
    }

    #[test]
    fn a_bad_address_is_named_in_both_languages() {
        let err = "mario.rossi@".parse::<Address>().unwrap_err().to_string();
        assert!(
            err.starts_with("indirizzo e-mail non valido: \"mario.rossi@\""),
            "{err}"
        );
        assert!(
            err.contains("not a valid e-mail address: \"mario.rossi@\""),
            "{err}"
        );
    }

    #[test]
    fn debug_hides_personal_data() {
        let mail = Mail {
            to: "mario@example.it".parse().unwrap(),
            subject: "Codice".to_owned(),
            text: "123456".to_owned(),
        };
        let shown = format!("{mail:?}");
        assert!(
            !shown.contains("mario") && !shown.contains("123456"),
            "{shown}"
        );
    }

    #[test]
    fn mail_config_is_none_without_smtp_url() {
        let env = Env::from_pairs([("MAIL_FROM", "x@example.it")]);
        assert!(MailConfig::from_env(&env).unwrap().is_none());
    }

    #[test]
    fn mail_config_reads_url_and_sender() {
        let env = Env::from_pairs([
            (
                "SMTP_URL",
                "smtp://postino:s%40greta@mail.example.it:587/sportello?tls=required",
            ),
            ("MAIL_FROM", "Prenotazioni@Comune.Example.IT"),
        ]);
        let config = MailConfig::from_env(&env).unwrap().unwrap();
        assert_eq!(config.server(), "mail.example.it:587");
        assert_eq!(config.security(), SmtpSecurity::StartTls);
        assert_eq!(
            config.credentials,
            Some(("postino".to_owned(), "s@greta".to_owned()))
        );
        assert_eq!(config.hello_name.as_deref(), Some("sportello"));
        assert_eq!(config.from.as_str(), "Prenotazioni@comune.example.it");
        let shown = format!("{config:?}");
        assert!(!shown.contains("greta"), "{shown}");

        let defaults = MailConfig::from_env(&Env::from_pairs([("SMTP_URL", "smtps://h.example")]))
            .unwrap()
            .unwrap();
        assert_eq!(defaults.server(), "h.example:465");
        assert_eq!(defaults.from.as_str(), DEFAULT_FROM);
        let plain = MailConfig::from_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(plain.security(), SmtpSecurity::Plain);
        assert_eq!(plain.server(), "127.0.0.1:2525");
    }

    #[test]
    fn mail_config_errors_name_the_variable_without_the_password() {
        for bad in [
            "http://postino:segretissima@h:25",
            "smtp://postino:segretissima@h:25?tls=opportunistic",
            "smtp://postino:segretissima@:25",
            "postino:segretissima",
            "smtp://postino:segretissima@h:99999",
        ] {
            let env = Env::from_pairs([("SMTP_URL", bad)]);
            let err = MailConfig::from_env(&env).unwrap_err().to_string();
            assert!(err.starts_with("SMTP_URL="), "{bad}: {err}");
            assert!(!err.contains("segretissima"), "{bad}: {err}");
        }
        let env = Env::from_pairs([("SMTP_URL", "smtp://h:25"), ("MAIL_FROM", "nobody")]);
        let err = MailConfig::from_env(&env).unwrap_err().to_string();
        assert!(err.starts_with("MAIL_FROM=\"nobody\" is invalid"), "{err}");
    }

    #[test]
    fn smtp_codes_are_sorted() {
        assert!(
            MailError::Unavailable {
                kind: "smtp 451".to_owned()
            }
            .is_transient()
        );
        assert!(!MailError::Refused { code: 550 }.is_transient());
        assert_eq!(
            MailError::Refused { code: 550 }.error_kind(),
            ErrorKind::FailedPrecondition
        );
    }
}
