//! Businesses in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{MunicipalityCode, UnitOfWork, db, uow::SqlTimestamp};
use sqlx::{Row, postgres::PgRow};
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

/// Writes a business's changeable fields if its version is still `expected`; the new
/// version, or `None` when it moved on meanwhile.
pub async fn update(
    uow: &mut UnitOfWork,
    id: Uuid,
    expected: i64,
    business: &NewBusiness,
) -> Result<Option<i64>, SuapError> {
    let version = sqlx::query_scalar(
        "update businesses
            set legal_name = $3, ateco_code = $4, street_name = $5, house_number = $6,
                postal_code = $7, office_municipality = $8, version = version + 1
          where id = $1 and version = $2
          returning version",
    )
    .bind(id)
    .bind(expected)
    .bind(&business.legal_name)
    .bind(&business.ateco_code)
    .bind(&business.street_name)
    .bind(&business.house_number)
    .bind(&business.postal_code)
    .bind(business.office_municipality.as_str())
    .fetch_optional(uow.conn())
    .await?;
    Ok(version)
}

/// Which business to read.
#[derive(Debug, Clone, Copy)]
pub enum Find<'a> {
    /// By record id.
    Id(Uuid),
    /// By VAT number, in a municipality.
    VatNumber(MunicipalityCode, &'a str),
}

/// The business `find` names, if there is one.
pub async fn find<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    find: Find<'_>,
) -> Result<Option<Business>, sqlx::Error> {
    const COLUMNS: &str = "select id, municipality, vat_number, legal_name, ateco_code,
                                  street_name, house_number, postal_code, office_municipality,
                                  version, created_at from businesses";
    let row = match find {
        Find::Id(id) => {
            sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} where id = $1")))
                .bind(id)
                .fetch_optional(executor)
                .await?
        }
        Find::VatNumber(municipality, vat_number) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} where municipality = $1 and vat_number = $2"
            )))
            .bind(municipality.as_str())
            .bind(vat_number)
            .fetch_optional(executor)
            .await?
        }
    };
    row.as_ref().map(business).transpose()
}

/// A column holding a domain value the table's checks admit.
fn parsed<T: std::str::FromStr>(row: &PgRow, column: &str) -> Result<T, sqlx::Error> {
    let raw: String = row.try_get(column)?;
    raw.parse().map_err(|_| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("{column} holds {raw:?}").into(),
    })
}

fn business(row: &PgRow) -> Result<Business, sqlx::Error> {
    Ok(Business {
        id: row.try_get("id")?,
        business: NewBusiness {
            municipality: parsed(row, "municipality")?,
            vat_number: parsed(row, "vat_number")?,
            legal_name: row.try_get("legal_name")?,
            ateco_code: row.try_get("ateco_code")?,
            street_name: row.try_get("street_name")?,
            house_number: row.try_get("house_number")?,
            postal_code: row.try_get("postal_code")?,
            office_municipality: parsed(row, "office_municipality")?,
        },
        version: row.try_get("version")?,
        created_at: row.try_get::<SqlTimestamp, _>("created_at")?.to_jiff(),
    })
}
