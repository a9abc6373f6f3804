//! URP's categories and reports in GeoReport v2's shapes (schemas in
//! `services/gateway/open311/schema/`).
//!
//! Times are W3C date-times in Europe/Rome with their offset, as the municipality shows
//! them; a field the report does not have is `null`, as the specification's examples
//! write it. Nothing here carries personal data: URP's public view of a report has the
//! description masked and no requester.

use jiff::{Timestamp, tz::TimeZone};
use serde_json::{Value, json};
use sportello_proto::urp::v1::{Category, Report, ReportStatus};

/// `2026-11-06T10:00:00+01:00`: a protobuf time as a W3C date-time in Europe/Rome.
pub fn w3c(ts: Option<&prost_types::Timestamp>) -> Option<String> {
    let ts = ts?;
    let t = Timestamp::new(ts.seconds, ts.nanos).ok()?;
    Some(w3c_of(t))
}

/// A time as a W3C date-time in Europe/Rome, to the second.
pub fn w3c_of(t: Timestamp) -> String {
    let rome = TimeZone::get("Europe/Rome").unwrap_or(TimeZone::UTC);
    t.to_zoned(rome)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The reply's last day (`YYYY-MM-DD`, Europe/Rome) as the end of that day: the
/// charter's promise is "by that day".
pub fn end_of_day(date: &str) -> Option<String> {
    let date: jiff::civil::Date = date.parse().ok()?;
    let rome = TimeZone::get("Europe/Rome").unwrap_or(TimeZone::UTC);
    let zoned = date.at(23, 59, 59, 0).to_zoned(rome).ok()?;
    Some(zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string())
}

fn text(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::String(s.to_owned())
    }
}

/// A category as an Open311 service. Categories have no extra attributes, so
/// `metadata` is false; the code is known as soon as a report is filed, so `realtime`.
pub fn service(c: &Category) -> Value {
    json!({
        "service_code": c.code,
        "service_name": c.name,
        "description": c.description,
        "metadata": false,
        "type": "realtime",
        "keywords": c.keywords.join(", "),
        "group": c.group,
    })
}

/// A category's service definition: no attributes to fill.
pub fn definition(c: &Category) -> Value {
    json!({
        "service_code": c.code,
        "attributes": [],
    })
}

/// The status Open311 knows: open until the office has replied.
pub fn status(report: &Report) -> &'static str {
    if report.status == ReportStatus::Closed as i32 {
        "closed"
    } else {
        "open"
    }
}

fn status_notes(report: &Report) -> String {
    match ReportStatus::try_from(report.status) {
        Ok(ReportStatus::Closed) => report.reply.clone(),
        Ok(ReportStatus::InProgress) => format!(
            "In lavorazione presso {office} / Being handled by {office}",
            office = office(report)
        ),
        _ => format!(
            "Ricevuta e protocollata (n. {p}) / Received and registered (no. {p})",
            p = report.protocol_number
        ),
    }
}

fn office(report: &Report) -> &str {
    if report.office.is_empty() {
        "URP"
    } else {
        &report.office
    }
}

/// What the municipality promises: the reply by the service charter's day.
pub fn service_notice(report: &Report) -> String {
    format!(
        "Risposta entro il {due} secondo la carta dei servizi / Reply due by {due} under the \
         service charter",
        due = report.due_date
    )
}

/// A report as an Open311 service request.
pub fn request(report: &Report) -> Value {
    let location = report.location.clone().unwrap_or_default();
    let updated = if report.status == ReportStatus::Closed as i32 && report.close_time.is_some() {
        w3c(report.close_time.as_ref())
    } else {
        w3c(report.update_time.as_ref()).or_else(|| w3c(report.receive_time.as_ref()))
    };
    json!({
        "service_request_id": report.code,
        "status": status(report),
        "status_notes": status_notes(report),
        "service_name": report.category_name,
        "service_code": report.category_code,
        "description": text(&report.description),
        "agency_responsible": office(report),
        "service_notice": service_notice(report),
        "requested_datetime": w3c(report.receive_time.as_ref()),
        "updated_datetime": updated,
        "expected_datetime": end_of_day(&report.due_date),
        "address": text(&location.address),
        "address_id": null,
        "zipcode": null,
        "lat": location.latitude,
        "long": location.longitude,
        "media_url": text(&report.media_url),
    })
}

/// What a POST answers: the code to follow it by, at once (the report is registered
/// before the answer), and what to expect.
pub fn filed(report: &Report) -> Value {
    json!([{
        "service_request_id": report.code,
        "service_notice": service_notice(report),
        "account_id": null,
    }])
}

/// A token (the report's id) and the code it stands for.
pub fn token(report: &Report) -> Value {
    json!([{
        "service_request_id": report.code,
        "token": report.id,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_w3c_in_rome_with_the_offset_of_the_day() {
        // 6 November: winter time (+01:00); 6 July: summer time (+02:00).
        let winter = prost_types::Timestamp {
            seconds: 1_793_955_600, // 2026-11-06T09:00:00Z
            nanos: 0,
        };
        assert_eq!(w3c(Some(&winter)).unwrap(), "2026-11-06T10:00:00+01:00");
        let summer: Timestamp = "2026-07-06T09:00:00Z".parse().unwrap();
        assert_eq!(w3c_of(summer), "2026-07-06T11:00:00+02:00");
        assert_eq!(
            end_of_day("2026-12-07").unwrap(),
            "2026-12-07T23:59:59+01:00"
        );
        assert_eq!(end_of_day(""), None);
    }

    #[test]
    fn a_closed_report_shows_the_reply_and_an_open_one_its_protocol_number() {
        let mut report = Report {
            code: "2026-000001".into(),
            protocol_number: "2026/0000042".into(),
            due_date: "2026-12-07".into(),
            status: ReportStatus::Received as i32,
            ..Default::default()
        };
        let open = request(&report);
        assert_eq!(open["status"], "open");
        assert!(
            open["status_notes"]
                .as_str()
                .unwrap()
                .contains("2026/0000042")
        );
        assert_eq!(open["lat"], Value::Null);
        report.status = ReportStatus::Closed as i32;
        report.reply = "La buca è stata chiusa.".into();
        let closed = request(&report);
        assert_eq!(closed["status"], "closed");
        assert_eq!(closed["status_notes"], "La buca è stata chiusa.");
    }
}
