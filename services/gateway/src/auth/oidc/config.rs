//! What the gateway needs to sign operators in with an OpenID provider, read from the
//! environment: absent `OIDC_ISSUER` means no OpenID Connect, local accounts only.

use std::collections::BTreeMap;

use openidconnect::url::{self, Url};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, RedirectUrl};
use sportello_kit::{ConfigError, Env, MunicipalityCode, Role};

/// The OpenID provider, this gateway as its client, and how claims become an account.
#[derive(Clone)]
pub struct OidcConfig {
    /// The provider's issuer (`OIDC_ISSUER`): discovery is read from
    /// `<issuer>/.well-known/openid-configuration` and every ID token's `iss` must equal it.
    pub issuer: IssuerUrl,
    /// This gateway's client id at the provider (`OIDC_CLIENT_ID`), the ID token's audience.
    pub client_id: ClientId,
    /// The client secret (`OIDC_CLIENT_SECRET`); none: a public client, PKCE alone.
    pub client_secret: Option<ClientSecret>,
    /// Where the provider sends the browser back (`OIDC_REDIRECT_URL`, ending in
    /// `/auth/callback`), registered at the provider.
    pub redirect_url: RedirectUrl,
    /// Where the provider sends the browser after signing out (`OIDC_POST_LOGOUT_URL`;
    /// default: the redirect URL's origin with `/accesso`).
    pub post_logout_url: Url,
    /// Scopes asked beyond `openid` (`OIDC_SCOPES`, space-separated; default `profile`).
    pub scopes: Vec<String>,
    /// How the ID token's claims become the account.
    pub claims: ClaimMapping,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .field("confidential", &self.client_secret.is_some())
            .field("redirect_url", &self.redirect_url.as_str())
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// Which claims say who the operator is and what they may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimMapping {
    /// The claim naming the account (`OIDC_USERNAME_CLAIM`, default `preferred_username`):
    /// its value, lowercased, is the account id and the routing operator id.
    pub username: String,
    /// The claim holding the roles, a string or an array of strings
    /// (`OIDC_ROLES_CLAIM`, default `roles`); a dotted path reaches into objects
    /// (`realm_access.roles`).
    pub roles: String,
    /// The provider's values and the Sportello role each stands for (`OIDC_ROLE_MAP`,
    /// `value=role,value=role`); empty: the values are Sportello's role names.
    pub role_map: BTreeMap<String, Role>,
    /// The claim holding the department (`OIDC_DEPARTMENT_CLAIM`, default `department`).
    pub department: String,
    /// The claim holding the municipality's ISTAT code (`OIDC_MUNICIPALITY_CLAIM`,
    /// default `municipality`).
    pub municipality: String,
    /// Every account of this provider works for this municipality (`OIDC_MUNICIPALITY`);
    /// then the municipality claim is not read.
    pub fixed_municipality: Option<MunicipalityCode>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            username: "preferred_username".into(),
            roles: "roles".into(),
            role_map: BTreeMap::new(),
            department: "department".into(),
            municipality: "municipality".into(),
            fixed_municipality: None,
        }
    }
}

/// The variables, for the errors that name them.
const ISSUER: &str = "OIDC_ISSUER";
const CLIENT_ID: &str = "OIDC_CLIENT_ID";
const CLIENT_SECRET: &str = "OIDC_CLIENT_SECRET";
const REDIRECT: &str = "OIDC_REDIRECT_URL";
const POST_LOGOUT: &str = "OIDC_POST_LOGOUT_URL";
const ROLE_MAP: &str = "OIDC_ROLE_MAP";

/// The path the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/auth/callback";

impl OidcConfig {
    /// Reads the `OIDC_*` variables; `None` when `OIDC_ISSUER` is not set.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = env.raw(ISSUER).map(str::trim).filter(|v| !v.is_empty()) else {
            for var in [CLIENT_ID, CLIENT_SECRET, REDIRECT, ROLE_MAP] {
                if env.raw(var).is_some_and(|v| !v.trim().is_empty()) {
                    return Err(ConfigError::Missing {
                        var: ISSUER.into(),
                        hint: format!(
                            "{var} è impostata ma manca l'emittente OpenID Connect: impostare \
                             OIDC_ISSUER (es. https://idp.comune.example/realms/operatori) o \
                             togliere le variabili OIDC_* / {var} is set but the OpenID Connect \
                             issuer is missing: set OIDC_ISSUER or remove the OIDC_* variables"
                        ),
                    });
                }
            }
            return Ok(None);
        };
        let issuer_url = web_url(ISSUER, issuer)?;
        if issuer_url.query().is_some() || issuer_url.fragment().is_some() {
            return Err(ConfigError::invalid(
                ISSUER,
                issuer,
                "l'emittente non può avere query né frammento / the issuer may have no query \
                 or fragment",
            ));
        }
        let client_id = env
            .raw(CLIENT_ID)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::Missing {
                var: CLIENT_ID.into(),
                hint: "l'identificativo del gateway presso il fornitore OpenID Connect, \
                       richiesto con OIDC_ISSUER / this gateway's client id at the OpenID \
                       provider, required with OIDC_ISSUER"
                    .into(),
            })?;
        let client_secret = env
            .raw(CLIENT_SECRET)
            .filter(|v| !v.is_empty())
            .map(|v| ClientSecret::new(v.to_owned()));
        let redirect = env
            .raw(REDIRECT)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::Missing {
                var: REDIRECT.into(),
                hint: format!(
                    "l'indirizzo pubblico del gateway seguito da {CALLBACK_PATH}, registrato \
                     presso il fornitore (es. https://sportello.comune.example{CALLBACK_PATH}) \
                     / the gateway's public address followed by {CALLBACK_PATH}, registered \
                     at the provider"
                ),
            })?;
        let redirect_url = web_url(REDIRECT, redirect)?;
        if redirect_url.path() != CALLBACK_PATH || redirect_url.query().is_some() {
            return Err(ConfigError::invalid(
                REDIRECT,
                redirect,
                format!(
                    "deve terminare con {CALLBACK_PATH}, senza query / must end in \
                     {CALLBACK_PATH}, with no query"
                ),
            ));
        }
        let post_logout_url = match env
            .raw(POST_LOGOUT)
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            Some(v) => web_url(POST_LOGOUT, v)?,
            None => redirect_url.join("/accesso").map_err(|e| {
                ConfigError::invalid(REDIRECT, redirect, format!("non valido / invalid: {e}"))
            })?,
        };
        let scopes = env
            .raw("OIDC_SCOPES")
            .unwrap_or("profile")
            .split_whitespace()
            .filter(|s| *s != "openid")
            .map(str::to_owned)
            .collect();
        let defaults = ClaimMapping::default();
        let claim = |var: &str, default: String| -> Result<String, ConfigError> {
            match env.raw(var).map(str::trim) {
                None | Some("") => Ok(default),
                Some(v) if v.split('.').all(|part| !part.is_empty()) => Ok(v.to_owned()),
                Some(v) => Err(ConfigError::invalid(
                    var,
                    v,
                    "un nome di claim, o un percorso con punti (realm_access.roles) / a claim \
                     name, or a dotted path",
                )),
            }
        };
        let claims = ClaimMapping {
            username: claim("OIDC_USERNAME_CLAIM", defaults.username)?,
            roles: claim("OIDC_ROLES_CLAIM", defaults.roles)?,
            role_map: parse_role_map(env.raw(ROLE_MAP).unwrap_or_default())?,
            department: claim("OIDC_DEPARTMENT_CLAIM", defaults.department)?,
            municipality: claim("OIDC_MUNICIPALITY_CLAIM", defaults.municipality)?,
            fixed_municipality: env.optional("OIDC_MUNICIPALITY")?,
        };
        Ok(Some(Self {
            // As written: the ID token's `iss` must equal it character for character, so
            // no trailing slash is added or removed.
            issuer: IssuerUrl::new(issuer.to_owned()).map_err(|e| {
                ConfigError::invalid(ISSUER, issuer, format!("non è un URL / not a URL: {e}"))
            })?,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret,
            redirect_url: RedirectUrl::from_url(redirect_url),
            post_logout_url,
            scopes,
            claims,
        }))
    }
}

/// An `https` URL, or `http` on loopback (tests, `make run`).
fn web_url(var: &str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value)
        .map_err(|e| ConfigError::invalid(var, value, format!("non è un URL / not a URL: {e}")))?;
    let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(ConfigError::invalid(
            var,
            value,
            "serve https (http solo verso 127.0.0.1 o localhost) / needs https (http only on \
             127.0.0.1 or localhost)",
        )),
    }
}

/// `value=role,value=role`: the provider's values and the Sportello roles they stand for.
fn parse_role_map(raw: &str) -> Result<BTreeMap<String, Role>, ConfigError> {
    let mut map = BTreeMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((value, role)) = pair.split_once('=') else {
            return Err(ConfigError::invalid(
                ROLE_MAP,
                raw,
                format!(
                    "«{pair}»: atteso valore=ruolo, es. sportello-urp=info_desk / expected \
                     value=role"
                ),
            ));
        };
        let role: Role = role.trim().parse().map_err(|e: String| {
            ConfigError::invalid(
                ROLE_MAP,
                raw,
                format!("ruolo sconosciuto / unknown role: {e}"),
            )
        })?;
        if role == Role::Kiosk {
            return Err(ConfigError::invalid(
                ROLE_MAP,
                raw,
                "i totem usano account locali, non OpenID Connect / kiosks use local accounts, \
                 not OpenID Connect",
            ));
        }
        map.insert(value.trim().to_owned(), role);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<OidcConfig>, ConfigError> {
        OidcConfig::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    const GOOD: [(&str, &str); 3] = [
        ("OIDC_ISSUER", "https://idp.example/realms/comune"),
        ("OIDC_CLIENT_ID", "sportello"),
        (
            "OIDC_REDIRECT_URL",
            "https://sportello.example/auth/callback",
        ),
    ];

    #[test]
    fn no_issuer_is_no_oidc() {
        assert!(read(&[]).unwrap().is_none());
    }

    #[test]
    fn a_client_id_without_issuer_is_refused() {
        let error = read(&[("OIDC_CLIENT_ID", "x")]).unwrap_err().to_string();
        assert!(error.starts_with("OIDC_ISSUER is not set"), "{error}");
    }

    #[test]
    fn a_good_configuration_has_defaults() {
        let config = read(&GOOD).unwrap().unwrap();
        assert_eq!(config.claims, ClaimMapping::default());
        assert!(config.client_secret.is_none());
        assert_eq!(config.scopes, ["profile"]);
        assert_eq!(
            config.post_logout_url.as_str(),
            "https://sportello.example/accesso"
        );
    }

    #[test]
    fn plain_http_is_for_loopback_only() {
        let mut pairs = GOOD.to_vec();
        pairs[0] = ("OIDC_ISSUER", "http://idp.example");
        let error = read(&pairs).unwrap_err().to_string();
        assert!(error.contains("needs https"), "{error}");
        pairs[0] = ("OIDC_ISSUER", "http://127.0.0.1:9000");
        assert!(read(&pairs).unwrap().is_some());
    }

    #[test]
    fn each_missing_or_bad_variable_is_named() {
        let error = read(&GOOD[..1]).unwrap_err().to_string();
        assert!(error.starts_with("OIDC_CLIENT_ID is not set"), "{error}");
        let error = read(&GOOD[..2]).unwrap_err().to_string();
        assert!(error.starts_with("OIDC_REDIRECT_URL is not set"), "{error}");
        let mut pairs = GOOD.to_vec();
        pairs[2] = ("OIDC_REDIRECT_URL", "https://sportello.example/elsewhere");
        let error = read(&pairs).unwrap_err().to_string();
        assert!(error.contains("must end in /auth/callback"), "{error}");
    }

    #[test]
    fn the_role_map_is_parsed_and_checked() {
        let mut pairs = GOOD.to_vec();
        pairs.push(("OIDC_ROLE_MAP", "urp-front=info_desk, capi=manager"));
        let config = read(&pairs).unwrap().unwrap();
        assert_eq!(config.claims.role_map["urp-front"], Role::InfoDesk);
        assert_eq!(config.claims.role_map["capi"], Role::Manager);
        for bad in ["urp-front", "x=wizard", "x=kiosk"] {
            let mut pairs = GOOD.to_vec();
            pairs.push(("OIDC_ROLE_MAP", bad));
            let error = read(&pairs).unwrap_err().to_string();
            assert!(error.starts_with("OIDC_ROLE_MAP="), "{error}");
        }
    }
}
