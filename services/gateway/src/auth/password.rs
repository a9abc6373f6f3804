//! Password hashing: argon2id with the crate's defaults (the OWASP minimum, 19 MiB,
//! 2 passes), run off the async workers because each hash takes tens of milliseconds.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use sportello_kit::ServiceError;

/// Shortest password accepted for a local account.
pub const MIN_LENGTH: usize = 12;

/// Hashes a new password, refusing one too short or too long.
pub async fn hash(password: String) -> Result<String, ServiceError> {
    let chars = password.chars().count();
    if !(MIN_LENGTH..=256).contains(&chars) {
        return Err(ServiceError::invalid_field(
            "password",
            format!("must be {MIN_LENGTH} to 256 characters long"),
        ));
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ServiceError::internal(e.to_string()))
    })
    .await
    .map_err(ServiceError::internal)?
}

/// Whether `password` matches `stored`. With no stored hash (unknown account, or one
/// that signs in elsewhere) a dummy hash is still checked, so the answer takes as long
/// and does not tell which accounts exist.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

/// The argon2id hash of a random string nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3BvcnRlbGxvLWR1bW15$0LEh1oZ8jo/Vw3NbMdEy0UOVyAvXbz9DE2Fc0XyOxfQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery".to_owned(), Some(stored.clone())).await);
        assert!(!verify("wrong horse battery".to_owned(), Some(stored)).await);
        assert!(!verify("anything at all".to_owned(), None).await);
    }

    #[tokio::test]
    async fn short_passwords_are_refused_by_field() {
        let error = hash("short".to_owned()).await.unwrap_err();
        assert_eq!(error.violations()[0].field, "password");
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
