//! The day's whitelist as the cameras' systems import it: CSV, `;`-separated, CRLF line
//! ends, a header, one row per plate and permit valid at some time that day, with the
//! instants (ISO 8601 with the Rome offset) it was valid from and until that day.

use jiff::civil::Date;
use sportello_kit::{Db, MunicipalityCode, ServiceError};
use sportello_pa::calendar::rome;

use super::store;
use crate::error::MobilityError;

/// The header.
pub const HEADER: &str = "plate;zone;valid_from;valid_until;permit";

/// The export of `day` for the zone (or every ZTL): the CSV and its rows.
pub async fn day(
    db: &Db,
    municipality: MunicipalityCode,
    zone: Option<&str>,
    day: Date,
) -> Result<(String, u32), ServiceError> {
    let start = rome::start_of_day(day).map_err(ServiceError::internal)?;
    let end = rome::end_of_day(day).map_err(ServiceError::internal)?;
    let mut conn = db.pool().acquire().await.map_err(ServiceError::from)?;
    if let Some(zone) = zone {
        crate::zones::store::find(&mut conn, municipality, zone)
            .await?
            .ok_or_else(|| MobilityError::ZoneNotFound(zone.to_owned()))?;
    }
    let rows = store::export(&mut conn, municipality, zone, day, start, end).await?;
    let mut csv = String::with_capacity(64 * (rows.len() + 1));
    csv.push_str(HEADER);
    csv.push_str("\r\n");
    let instant = |t: jiff::Timestamp| rome::zoned(t).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
    let mut count = 0u32;
    for row in rows {
        let (Some(from), Some(until)) = (row.entry.starts(), row.entry.stops()) else {
            continue;
        };
        let (from, until) = (from.max(start), until.min(end));
        if from >= until {
            continue;
        }
        csv.push_str(&format!(
            "{};{};{};{};{}\r\n",
            row.plate,
            row.zone_code,
            instant(from),
            instant(until),
            row.entry.number
        ));
        count += 1;
    }
    Ok((csv, count))
}
