//! Streets in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use uuid::Uuid;

use super::domain::NewStreet;
use crate::error::RegistryError;

/// A stored street.
#[derive(Debug, Clone)]
pub struct Street {
    /// Record id.
    pub id: Uuid,
    /// What was registered.
    pub street: NewStreet,
    /// Record version.
    pub version: i64,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// Inserts a street; a duplicate code is [`RegistryError::StreetExists`].
pub async fn insert(uow: &mut UnitOfWork, street: NewStreet) -> Result<Street, RegistryError> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    let inserted = sqlx::query(
        "insert into streets (id, municipality, street_code, qualifier, name, postal_code, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(street.municipality.as_str())
    .bind(&street.street_code)
    .bind(&street.qualifier)
    .bind(&street.name)
    .bind(&street.postal_code)
    .bind(SqlTimestamp::from(created_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(Street {
            id,
            street,
            version: 1,
            created_at,
        }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("streets_code_unique") =>
        {
            Err(RegistryError::StreetExists {
                municipality: street.municipality,
                street_code: street.street_code,
            })
        }
        Err(error) => Err(error.into()),
    }
}
