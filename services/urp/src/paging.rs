//! Where a page of a list ended, as the next page's token: `<unix micros>:<uuid>` of its
//! last row, for lists ordered by a time and an id.

use jiff::Timestamp;
use sportello_kit::ServiceError;
use uuid::Uuid;

/// The token that continues after the row of `time` and `id`.
pub fn token(time: Timestamp, id: Uuid) -> String {
    format!("{}:{id}", time.as_microsecond())
}

/// Where the page of `token` starts (none for the first page), or `page.page_token`'s
/// error.
pub fn cursor(token: &str) -> Result<Option<(Timestamp, Uuid)>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || ServiceError::invalid_field("page.page_token", "non valido / invalid");
    let (micros, id) = token.split_once(':').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let time = Timestamp::from_microsecond(micros).map_err(|_| bad())?;
    Ok(Some((time, Uuid::parse_str(id).map_err(|_| bad())?)))
}
