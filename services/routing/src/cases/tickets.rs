//! Kiosk tickets: a label per site, per Europe/Rome day, per letter (`B017`), one case
//! per service chosen, queued by the first.

use jiff::{Timestamp, civil::Date};
use sportello_kit::{UnitOfWork, db, events::to_proto_timestamp, uow::SqlTimestamp};
use sportello_pa::calendar::rome;
use sportello_proto::routing::v1::{PriorityCategory, Ticket as TicketMessage};
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::{
    domain::{Stored, decode},
    error::RoutingError,
};

/// A ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Record id.
    pub id: Uuid,
    /// Site.
    pub site_id: Uuid,
    /// Rome day.
    pub day: Date,
    /// `B017`.
    pub label: String,
    /// Issued.
    pub issued_at: Timestamp,
    /// Priority.
    pub priority: PriorityCategory,
}

impl Ticket {
    /// As an event carries it: the priority without its ground.
    pub fn to_event(&self, case_ids: &[Uuid]) -> TicketMessage {
        TicketMessage {
            priority_category: crate::domain::withheld(self.priority) as i32,
            ..self.to_message(case_ids)
        }
    }

    /// As a message, with its cases' ids, for staff who may see the priority's ground.
    pub fn to_message(&self, case_ids: &[Uuid]) -> TicketMessage {
        TicketMessage {
            id: self.id.to_string(),
            site_id: self.site_id.to_string(),
            label: self.label.clone(),
            day: self.day.to_string(),
            issue_time: Some(to_proto_timestamp(self.issued_at)),
            case_ids: case_ids.iter().map(ToString::to_string).collect(),
            priority_category: self.priority as i32,
        }
    }
}

/// Takes the next number of the letter at the site today and records the ticket.
pub async fn issue(
    uow: &mut UnitOfWork,
    municipality: &str,
    site_id: Uuid,
    letter: &str,
    priority: PriorityCategory,
) -> Result<Ticket, RoutingError> {
    let issued_at = uow.now();
    let day = rome::date_of(issued_at);
    let number = sqlx::query_scalar::<_, i32>(
        "insert into ticket_counters (site_id, day, letter, last_number) values ($1, $2, $3, 1)
         on conflict (site_id, day, letter) do update set last_number = ticket_counters.last_number + 1
         returning last_number",
    )
    .bind(site_id)
    .bind(jiff_sqlx::Date::from(day))
    .bind(letter)
    .fetch_one(uow.conn())
    .await;
    let number = match number {
        Ok(number) => number,
        Err(error) if db::violated_constraint(&error, db::sqlstate::CHECK_VIOLATION).is_some() => {
            return Err(RoutingError::TicketsExhausted(letter.to_owned()));
        }
        Err(error) => return Err(error.into()),
    };
    let ticket = Ticket {
        id: Uuid::now_v7(),
        site_id,
        day,
        label: format!("{letter}{number:03}"),
        issued_at,
        priority,
    };
    sqlx::query(
        "insert into tickets (id, municipality, site_id, day, letter, number, label, priority, issued_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(ticket.id)
    .bind(municipality)
    .bind(site_id)
    .bind(jiff_sqlx::Date::from(day))
    .bind(letter)
    .bind(number)
    .bind(&ticket.label)
    .bind(priority.to_db())
    .bind(SqlTimestamp::from(issued_at))
    .execute(uow.conn())
    .await?;
    Ok(ticket)
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<Ticket, sqlx::Error> {
    Ok(Ticket {
        id: row.try_get("id")?,
        site_id: row.try_get("site_id")?,
        day: row.try_get::<jiff_sqlx::Date, _>("day")?.to_jiff(),
        label: row.try_get("label")?,
        issued_at: row.try_get::<SqlTimestamp, _>("issued_at")?.to_jiff(),
        priority: decode::<PriorityCategory>(row.try_get("priority")?)?,
    })
}

/// A ticket by id.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Ticket, RoutingError> {
    let row = sqlx::query(
        "select id, site_id, day, label, priority, issued_at from tickets where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::TicketNotFound)?;
    Ok(from_row(&row)?)
}

/// A ticket by its label at a site on a day.
pub async fn by_label(
    db: impl PgExecutor<'_>,
    site_id: Uuid,
    day: Date,
    label: &str,
) -> Result<Ticket, RoutingError> {
    let row = sqlx::query(
        "select id, site_id, day, label, priority, issued_at from tickets
         where site_id = $1 and day = $2 and label = $3",
    )
    .bind(site_id)
    .bind(jiff_sqlx::Date::from(day))
    .bind(label)
    .fetch_optional(db)
    .await?
    .ok_or(RoutingError::TicketNotFound)?;
    Ok(from_row(&row)?)
}

/// How many cases wait in the queue ahead of a place (arrival, id).
pub async fn people_ahead(
    db: impl PgExecutor<'_>,
    site_id: Uuid,
    group: &str,
    arrival_at: Timestamp,
    case_id: Uuid,
) -> Result<i64, RoutingError> {
    Ok(sqlx::query_scalar(
        "select count(*) from cases
         where site_id = $1 and service_group = $2 and status = 'waiting' and (arrival_at, id) < ($3, $4)",
    )
    .bind(site_id)
    .bind(group)
    .bind(SqlTimestamp::from(arrival_at))
    .bind(case_id)
    .fetch_one(db)
    .await?)
}
