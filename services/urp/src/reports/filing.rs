//! Filing a report: the category and the attachments checked, the report registered in
//! the protocol register (its number is the receipt, given at once), then — in one unit
//! of work — its code from the year's series, the report, its attachments, the office's
//! work on the charter's clock and the event.
//!
//! The protocol call comes first, keyed from the report's id, so a retry repeats the
//! very same call and gets the same number; a registered report is never annulled
//! because of an internal error of ours (DPR 445/2000 art. 54).

use bytes::Bytes;
use jiff::civil::Date;
use prost::Message as _;
use sportello_kit::{
    CallContext, PseudonymKey, RequesterRef, ServiceError,
    documents::CheckedDocument,
    protocol::{Incoming, document_key, sha256_hex},
};
use sportello_pa::{
    calendar::{Calendar, rome},
    clock::{self, ClockOptions, Procedure, Term},
};
use sportello_proto::{
    routing::v1::IncomingKind,
    urp::v1::{FileReportRequest, FileReportResponse, ReportFiled},
};

use super::{
    Desk,
    domain::{Category, Kind, Lookup, NewReport},
    message, store, work,
};
use crate::error::UrpError;

/// The idempotent operation of a filing.
const FILE: &str = "urp.file_report";

/// The reply's last day and the day the office is warned: the charter's term in calendar
/// days from the day after receipt, rolled past holidays (art. 2963 c.c., art. 155
/// c.p.c., as the PA library counts every term).
pub fn reply_term(
    municipality: &str,
    received: Date,
    days: u32,
) -> Result<(Date, Date), ServiceError> {
    let calendar = Calendar::for_municipality(municipality);
    let deadline = clock::deadline(
        &calendar,
        Procedure::Generic {
            term: Term::Days(days),
            silence_assent: false,
        },
        received,
        &[],
        ClockOptions::default(),
    )
    .map_err(|e| ServiceError::internal(format!("the charter's term: {e}")))?;
    match (deadline.due, deadline.warning) {
        (Some(due), Some(warning)) => Ok((due, warning)),
        _ => Err(ServiceError::internal("the charter's term has no due date")),
    }
}

/// The category `code` if the municipality offers it, or the error listing those it does.
async fn offered(desk: &Desk, new: &NewReport) -> Result<Category, ServiceError> {
    let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
    let found = store::find_category(&mut conn, new.municipality, &new.category_code)
        .await
        .map_err(ServiceError::from)?;
    match found {
        Some(category) if category.active => Ok(category),
        _ => {
            let known = store::active_categories(&mut conn, new.municipality)
                .await
                .map_err(ServiceError::from)?
                .into_iter()
                .map(|c| c.code)
                .collect::<Vec<_>>()
                .join(", ");
            Err(UrpError::UnknownCategory {
                code: new.category_code.clone(),
                known,
            }
            .into())
        }
    }
}

/// The person's pseudonymous reference, when they gave their fiscal code.
fn requester_ref(key: &PseudonymKey, new: &NewReport) -> Option<String> {
    new.requester.fiscal_code.as_ref().map(|code| {
        RequesterRef::derive(key, new.municipality, code.as_str())
            .as_str()
            .to_owned()
    })
}

/// Files a report.
pub async fn file(
    desk: &Desk,
    context: &CallContext,
    request: FileReportRequest,
) -> Result<FileReportResponse, ServiceError> {
    let new = NewReport::try_from(&request)?;
    context.ensure_municipality(new.municipality)?;
    let fingerprint = FileReportRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = desk
        .db
        .replay(FILE, new.idempotency_key, &fingerprint)
        .await?
    {
        return Ok(response);
    }
    let category = offered(desk, &new).await?;
    if category.location_required && !new.place.is_given() {
        return Err(UrpError::LocationRequired(category.code).into());
    }
    // A bad attachment refuses the report before anything is registered.
    let attachments: Vec<CheckedDocument> = fingerprint
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| {
            desk.documents.rules().check(
                &format!("attachments[{i}]"),
                Bytes::copy_from_slice(&a.content),
                &a.media_type,
            )
        })
        .collect::<Result<_, _>>()?;

    let today = rome::date_of(desk.db.clock().now());
    let base = new.idempotency_key.map_or_else(
        || {
            document_key(&[
                &sha256_hex(&fingerprint.encode_to_vec()),
                &today.to_string(),
            ])
        },
        |k| k.uuid(),
    );
    let id = document_key(&[&base.to_string(), "report"]);
    tracing::Span::current().record("report_id", tracing::field::display(id));
    // Without a key, the same report sent again the same day (a client that lost the
    // answer) derives the same id: it is answered with the report already filed.
    if new.idempotency_key.is_none() {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        if let Some(report) = store::find(&mut conn, new.municipality, &Lookup::Id(id))
            .await
            .map_err(ServiceError::from)?
        {
            let refs = store::attachments(&mut conn, id)
                .await
                .map_err(ServiceError::from)?;
            return Ok(FileReportResponse {
                report: Some(message::report(&report, &refs)),
            });
        }
    }
    let requester_ref = requester_ref(&desk.key, &new);
    // What the register records: the text's hash and the attachments', never the text.
    let mut manifest = format!(
        "segnalazione {id}\n{}\n",
        sha256_hex(new.description.as_bytes())
    );
    for a in &attachments {
        manifest.push_str(&format!("{}\n", a.reference().sha256));
    }
    let what = match category.kind {
        Kind::Report => "Segnalazione",
        Kind::Complaint => "Reclamo",
    };
    let sender_name = format!("{} {}", new.requester.first_name, new.requester.last_name)
        .trim()
        .to_owned();
    let entry = desk
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: new.municipality,
                kind: IncomingKind::Complaint,
                sender_ref: requester_ref
                    .clone()
                    .unwrap_or_else(|| "anonimo".to_owned()),
                sender_name,
                subject: format!("{what} — {}", category.name),
                document_sha256: sha256_hex(manifest.as_bytes()),
                channel: new.channel,
                idempotency_key: document_key(&[&id.to_string(), "protocol"]),
            },
        )
        .await?;
    let received_on = rome::date_of(entry.registered_at);
    let days = category.reply_days.unwrap_or(desk.reply_days);
    let (due, warning) = reply_term(new.municipality.as_str(), received_on, days)?;
    let documents = desk.documents.clone();
    let filed_by = context.actor().to_owned();
    desk.db
        .idempotent(FILE, new.idempotency_key, &fingerprint, move |uow| {
            Box::pin(async move {
                let year = received_on.year();
                let number = store::next_number(uow, new.municipality, year)
                    .await
                    .map_err(ServiceError::from)?;
                for a in &attachments {
                    documents.store_in(uow, a).await?;
                }
                let refs: Vec<(String, String, i64)> = attachments
                    .iter()
                    .map(|a| {
                        let r = a.reference();
                        (
                            r.sha256.to_string(),
                            r.media_type.to_string(),
                            i64::try_from(r.size_bytes).unwrap_or(i64::MAX),
                        )
                    })
                    .collect();
                let report = store::insert(
                    uow,
                    &store::Filed {
                        new: &new,
                        id,
                        year,
                        number,
                        category: &category,
                        requester_ref: requester_ref.as_deref(),
                        protocol: (&entry.id, &entry.number),
                        received_at: entry.registered_at,
                        due_date: due,
                        filed_by: &filed_by,
                    },
                    &refs,
                )
                .await
                .map_err(ServiceError::from)?;
                work::request(uow, &report, received_on, warning, &attachments).await?;
                uow.emit(
                    &ReportFiled {
                        report_id: id.to_string(),
                        code: report.code.clone(),
                        municipality_istat_code: report.municipality.to_string(),
                        category_code: report.category_code.clone(),
                        kind: report.kind.message() as i32,
                        channel: new.channel as i32,
                        due_date: due.to_string(),
                    },
                    work::aggregate(&report, &id.to_string()),
                )
                .await?;
                Ok(FileReportResponse {
                    report: Some(message::report(&report, &refs)),
                })
            })
        })
        .await
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn the_charters_thirty_days_roll_past_a_sunday_and_a_holiday() {
        // Received Friday 6 November 2026: the 30th day is Sunday 6 December, so the
        // reply is due Monday 7 December; 8 December (Immacolata) is no concern here.
        let (due, _) = reply_term("011015", date(2026, 11, 6), 30).expect("term");
        assert_eq!(due, date(2026, 12, 7));
        // Received 8 November: the 30th day is Tuesday 8 December, a national holiday.
        let (due, _) = reply_term("011015", date(2026, 11, 8), 30).expect("term");
        assert_eq!(due, date(2026, 12, 9));
        // A category's own term: 10 days from Monday 2 March 2026 end on Thursday 12
        // March; the office is warned at 80 % of the term, on a working day before it.
        let (due, warning) = reply_term("011015", date(2026, 3, 2), 10).expect("term");
        assert_eq!(due, date(2026, 3, 12));
        assert!(warning < due);
    }
}
