//! From a verified ID token's claims to the operator account they describe, by the
//! configured [`ClaimMapping`]. Pure: the store writes what this decides.

use openidconnect::AdditionalClaims;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sportello_kit::{MunicipalityCode, Role};

use super::config::ClaimMapping;

/// Every claim of the ID token beyond the standard ones, so configuration can name any.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct OtherClaims(pub Map<String, Value>);

impl AdditionalClaims for OtherClaims {}

/// The account a provider's user stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedAccount {
    /// Account id, also the routing operator id.
    pub id: String,
    /// The municipality it works for.
    pub municipality: MunicipalityCode,
    /// Name shown on the console.
    pub display_name: String,
    /// Its Sportello roles.
    pub roles: Vec<Role>,
    /// Its department, for departmental roles.
    pub department: Option<String>,
}

/// Why claims map to no account. The texts are shown to the person signing in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No usable account name.
    #[error(
        "il fornitore di identità non indica un nome utente valido (claim {0}: 1-64 tra lettere \
         minuscole, cifre, '.', '_', '-') / the identity provider gives no valid user name \
         (claim {0})"
    )]
    Username(String),
    /// No Sportello role.
    #[error(
        "nessun ruolo di Sportello assegnato a questa utenza (claim {0}): chiedere \
         all'amministratore / no Sportello role is granted to this user (claim {0}): ask your \
         administrator"
    )]
    NoRole(String),
    /// A departmental role without a department.
    #[error(
        "i ruoli tecnico e back office richiedono un ufficio (claim {0}) / the tecnico and back \
         office roles need a department (claim {0})"
    )]
    Department(String),
    /// No usable municipality.
    #[error(
        "il fornitore di identità non indica il Comune (claim {0}, codice ISTAT di sei cifre) / \
         the identity provider gives no municipality (claim {0}, a six-digit ISTAT code)"
    )]
    Municipality(String),
}

/// The value at a dotted `path` (`realm_access.roles`) of the claims.
fn at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

fn text<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    at(claims, path)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// Maps a verified ID token's claims, all of them as JSON, to an account; the display
/// name is the standard `name` claim, else the account id.
pub fn map(
    mapping: &ClaimMapping,
    claims: &Map<String, Value>,
) -> Result<MappedAccount, MappingError> {
    let id = text(claims, &mapping.username)
        .map(str::to_ascii_lowercase)
        .filter(|id| valid_id(id))
        .ok_or_else(|| MappingError::Username(mapping.username.clone()))?;
    let values: Vec<&str> = match at(claims, &mapping.roles) {
        Some(Value::String(one)) => one.split_whitespace().collect(),
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut roles = Vec::new();
    for value in values {
        let role = if mapping.role_map.is_empty() {
            value.parse::<Role>().ok()
        } else {
            mapping.role_map.get(value).copied()
        };
        // Kiosks are devices with local accounts: a provider cannot make one.
        if let Some(role) = role.filter(|r| *r != Role::Kiosk)
            && !roles.contains(&role)
        {
            roles.push(role);
        }
    }
    if roles.is_empty() {
        return Err(MappingError::NoRole(mapping.roles.clone()));
    }
    let department = text(claims, &mapping.department).map(str::to_owned);
    let department_ok = department
        .as_deref()
        .is_none_or(|d| d.len() <= 32 && d.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    if !department_ok || (department.is_none() && roles.iter().any(|r| r.is_departmental())) {
        return Err(MappingError::Department(mapping.department.clone()));
    }
    let municipality = match mapping.fixed_municipality {
        Some(code) => code,
        None => text(claims, &mapping.municipality)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| MappingError::Municipality(mapping.municipality.clone()))?,
    };
    let display_name: String = text(claims, "name")
        .unwrap_or(&id)
        .chars()
        .take(120)
        .collect();
    Ok(MappedAccount {
        id,
        municipality,
        display_name,
        roles,
        department,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn sportello_role_names_map_directly() {
        let mapped = map(
            &ClaimMapping::default(),
            &claims(
                json!({"preferred_username": "M.Rossi", "roles": ["polivalente", "other"],
                           "municipality": "011015", "name": "Maria Rossi"}),
            ),
        )
        .unwrap();
        assert_eq!(mapped.id, "m.rossi");
        assert_eq!(mapped.roles, [Role::Polivalente]);
        assert_eq!(mapped.display_name, "Maria Rossi");
        assert_eq!(mapped.municipality.as_str(), "011015");
    }

    #[test]
    fn a_role_map_and_a_nested_claim_are_followed() {
        let mapping = ClaimMapping {
            roles: "realm_access.roles".into(),
            role_map: [("sportello-bo".to_owned(), Role::BackOffice)].into(),
            fixed_municipality: "011027".parse().ok(),
            ..ClaimMapping::default()
        };
        let mapped = map(
            &mapping,
            &claims(json!({"preferred_username": "bo", "department": "anagrafe",
                           "realm_access": {"roles": ["sportello-bo", "back_office"]}})),
        )
        .unwrap();
        assert_eq!(mapped.roles, [Role::BackOffice]);
        assert_eq!(mapped.department.as_deref(), Some("anagrafe"));
        assert_eq!(mapped.municipality.as_str(), "011027");
        assert_eq!(mapped.display_name, "bo");
    }

    #[test]
    fn claims_that_grant_nothing_or_lack_a_piece_are_refused() {
        let m = ClaimMapping::default();
        let base = json!({"preferred_username": "x", "roles": "tecnico", "municipality": "011015",
                          "department": "suap"});
        assert!(map(&m, &claims(base.clone())).is_ok());
        let without = |key: &str| {
            let mut c = claims(base.clone());
            c.remove(key);
            map(&m, &c).unwrap_err()
        };
        assert!(matches!(without("roles"), MappingError::NoRole(_)));
        assert!(matches!(without("department"), MappingError::Department(_)));
        assert!(matches!(
            without("municipality"),
            MappingError::Municipality(_)
        ));
        assert!(matches!(
            without("preferred_username"),
            MappingError::Username(_)
        ));
        let kiosk =
            json!({"preferred_username": "x", "roles": ["kiosk"], "municipality": "011015"});
        assert!(matches!(
            map(&m, &claims(kiosk)),
            Err(MappingError::NoRole(_))
        ));
        let bad_name =
            json!({"preferred_username": "a b", "roles": ["admin"], "municipality": "011015"});
        assert!(matches!(
            map(&m, &claims(bad_name)),
            Err(MappingError::Username(_))
        ));
    }
}
