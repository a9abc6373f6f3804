//! Filing an access request: registered in the protocol register first (keyed from the
//! request, so a retry gets the same number), then — in one unit of work — the request
//! with its person, the office's work on the term, the term's timer and the event.

use prost::Message as _;
use sportello_kit::{
    CallContext, RequesterRef, ServiceError,
    protocol::{Incoming, document_key, sha256_hex},
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    routing::v1::IncomingKind,
    urp::v1::{AccessFiled, FileAccessRequest, FileAccessResponse},
};

use super::{
    domain::{NewAccess, State},
    message,
    store::{self, Access, Person},
    work,
};
use crate::reports::Desk;

use super::flow::{refresh, schedule_expiry, what};

/// The idempotent operation of a filing.
const FILE: &str = "urp.file_access";
/// Files a request.
pub async fn file(
    desk: &Desk,
    context: &CallContext,
    request: FileAccessRequest,
) -> Result<FileAccessResponse, ServiceError> {
    let new = NewAccess::try_from(&request)?;
    context.ensure_municipality(new.municipality)?;
    let fingerprint = FileAccessRequest {
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
    let day = rome::date_of(desk.db.clock().now());
    let base = new.idempotency_key.map_or_else(
        || document_key(&[&sha256_hex(&fingerprint.encode_to_vec()), &day.to_string()]),
        |k| k.uuid(),
    );
    let id = document_key(&[&base.to_string(), "access"]);
    // Without a key, the same request sent again the same day derives the same id: it is
    // answered with the request already filed.
    if new.idempotency_key.is_none() {
        let mut conn = desk.db.pool().acquire().await?;
        if let Some(a) = store::find(&mut conn, id).await? {
            context.ensure_municipality(a.municipality)?;
            let objections = store::objections(&mut conn, id).await?;
            return Ok(FileAccessResponse {
                access: Some(message::record(&a, &objections)),
            });
        }
    }
    let requester_ref = RequesterRef::derive(&desk.key, new.municipality, new.fiscal_code.as_str())
        .as_str()
        .to_owned();
    let entry = desk
        .protocol
        .register_incoming(
            context,
            &Incoming {
                municipality: new.municipality,
                kind: IncomingKind::Request,
                sender_ref: requester_ref.clone(),
                sender_name: format!("{} {}", new.first_name, new.last_name),
                subject: what(new.kind).to_owned(),
                document_sha256: sha256_hex(&fingerprint.encode_to_vec()),
                channel: new.channel,
                idempotency_key: document_key(&[&id.to_string(), "protocol"]),
            },
        )
        .await?;
    let received_on = rome::date_of(entry.registered_at);
    let mut a = Access {
        id,
        municipality: new.municipality,
        kind: new.kind,
        subject: new.subject.clone(),
        interest: new.interest.clone(),
        channel: new.channel.as_str_name().to_owned(),
        requester_ref,
        protocol_id: entry.id.clone(),
        protocol_number: entry.number.clone(),
        received_at: entry.registered_at,
        received_on,
        state: State::Received,
        stops: Vec::new(),
        due_date: None,
        irregular_reason: None,
        counter_interested: 0,
        counter_interested_notified_on: None,
        objection_deadline: None,
        decision: None,
        grounds: Vec::new(),
        reasons: None,
        remedies: None,
        deferred_until: None,
        copy_pages: 0,
        copy_cost_cents: 0,
        published_url: None,
        decision_protocol_number: None,
        decided_on: None,
        deliver_from: None,
        review_deadline: None,
        review_by: None,
        review_reasons: None,
        review_requested_on: None,
        review_stops: Vec::new(),
        review_due_date: None,
        review_decision: None,
        review_decision_reasons: None,
        review_protocol_number: None,
        reviewed_on: None,
        version: 1,
    };
    let clock = refresh(&mut a)?;
    desk.db
        .idempotent(FILE, new.idempotency_key, &fingerprint, move |uow| {
            Box::pin(async move {
                let person = Person {
                    fiscal_code: new.fiscal_code.as_str(),
                    first_name: &new.first_name,
                    last_name: &new.last_name,
                    email: &new.email,
                };
                store::insert(uow, &a, &person).await?;
                work::request(uow, &a, clock).await?;
                schedule_expiry(uow, &a).await?;
                let key = a.id.to_string();
                uow.emit(
                    &AccessFiled {
                        access_id: key.clone(),
                        municipality_istat_code: a.municipality.to_string(),
                        kind: a.kind.message() as i32,
                        due_date: a.due_date.map(|d| d.to_string()).unwrap_or_default(),
                    },
                    work::aggregate(&a, &key),
                )
                .await?;
                Ok(FileAccessResponse {
                    access: Some(message::record(&a, &[])),
                })
            })
        })
        .await
}
