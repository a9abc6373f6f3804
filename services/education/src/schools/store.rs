//! Schools in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, db, uow::SqlTimestamp};
use uuid::Uuid;

use super::domain::{NewSchool, level_name};
use crate::error::EducationError;

/// A stored school.
#[derive(Debug, Clone)]
pub struct School {
    /// Record id.
    pub id: Uuid,
    /// What was registered.
    pub school: NewSchool,
    /// Record version.
    pub version: i64,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// Inserts a school; a duplicate ministry code is [`EducationError::SchoolExists`].
pub async fn insert(uow: &mut UnitOfWork, school: NewSchool) -> Result<School, EducationError> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    let inserted = sqlx::query(
        "insert into schools (id, municipality, school_code, name, level, street_name,
                              house_number, postal_code, capacity, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(id)
    .bind(school.municipality.as_str())
    .bind(&school.school_code)
    .bind(&school.name)
    .bind(level_name(school.level))
    .bind(&school.street_name)
    .bind(&school.house_number)
    .bind(&school.postal_code)
    .bind(school.capacity)
    .bind(SqlTimestamp::from(created_at))
    .execute(uow.conn())
    .await;
    match inserted {
        Ok(_) => Ok(School {
            id,
            school,
            version: 1,
            created_at,
        }),
        Err(error)
            if db::violated_constraint(&error, db::sqlstate::UNIQUE_VIOLATION)
                == Some("schools_code_unique") =>
        {
            Err(EducationError::SchoolExists {
                school_code: school.school_code,
            })
        }
        Err(error) => Err(error.into()),
    }
}
