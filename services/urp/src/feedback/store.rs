//! Feedback in PostgreSQL.

use jiff::Timestamp;
use sportello_kit::{UnitOfWork, uow::SqlTimestamp};
use uuid::Uuid;

use super::domain::NewFeedback;

/// A stored rating.
#[derive(Debug, Clone)]
pub struct Feedback {
    /// Record id.
    pub id: Uuid,
    /// What was left.
    pub feedback: NewFeedback,
    /// When.
    pub created_at: Timestamp,
}

/// Inserts a rating.
pub async fn insert(uow: &mut UnitOfWork, feedback: NewFeedback) -> Result<Feedback, sqlx::Error> {
    let id = Uuid::now_v7();
    let created_at = uow.now();
    sqlx::query(
        "insert into feedback (id, municipality, service_code, channel, rating, comment, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(feedback.municipality.as_str())
    .bind(&feedback.service_code)
    .bind(feedback.channel.as_str_name())
    .bind(feedback.rating)
    .bind(&feedback.comment)
    .bind(SqlTimestamp::from(created_at))
    .execute(uow.conn())
    .await?;
    Ok(Feedback {
        id,
        feedback,
        created_at,
    })
}
