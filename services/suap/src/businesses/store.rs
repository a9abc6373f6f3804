//! Businesses in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use uuid::Uuid;

use super::domain::NewBusiness;
use crate::error::SuapError;

/// A stored business.
#[derive(Debug, Clone)]
pub struct Business {
    /// Record id.
    pub id: Uuid,
    /// What was registered.
    pub business: NewBusiness,
    /// Record version.
    pub version: i64,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// Inserts a business; a VAT number already registered is [`SuapError::BusinessExists`].
pub async fn insert(uow: &mut UnitOfWork, business: NewBusiness) -> Result<Business, SuapError> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    let inserted = sqlx::query(
        "insert into businesses (id, municipality, vat_number, legal_name, ateco_code, street_name,
                                 house_number, postal_code, office_municipality, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(business.municipality.as_str())
    .bind(business.vat_number.as_str())
    .bind(&business.legal_name)
    .bind(&business.ateco_code)
    .bind(&business.street_name)
    .bind(&business.house_number)
    .bind(&business.postal_code)
    .bind(business.office_municipality.as_str())
    .bind(SqlTimestamp::from(created_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(Business {
            id,
            business,
            version: 1,
            created_at,
        }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("businesses_vat_unique") =>
        {
            Err(SuapError::BusinessExists {
                municipality: business.municipality,
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// A business's VAT number and registered name: what pagoPA needs of a payer that is a
/// business (a debt position's debtor, type G).
pub async fn payer<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("select vat_number, legal_name from businesses where id = $1")
        .bind(id)
        .fetch_optional(executor)
        .await
}
