//! The office's reply: registered in the protocol register as sent (DPR 445/2000 art. 53
//! c. 5), kept with the report, which closes — and, in the same unit of work, the work
//! completed in routing, the event that lets the citizen rate it, and the e-mail to send
//! when they left an address. The e-mail is a durable timer: a mail server down delays
//! it, never loses it, and never undoes the reply.

use futures::future::BoxFuture;
use sportello_kit::{
    CallContext, Role, ServiceError, Timer, TimerHandler, UnitOfWork,
    mail::{Address, Mail, MailError, Mailer},
    protocol::Outgoing,
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    routing::v1::OutgoingKind,
    urp::v1::{ReplyToReportRequest, ReplyToReportResponse, ReportClosed},
};

use super::{
    Desk,
    domain::{Kind, Reply, Status},
    message, store, work,
};
use crate::error::UrpError;

/// The idempotent operation of a reply.
const REPLY: &str = "urp.reply_to_report";
/// The timer that e-mails a reply.
pub const MAIL_TIMER: &str = "urp.reply_mail";

/// Replies to a report and closes it.
pub async fn reply(
    desk: &Desk,
    context: &CallContext,
    request: ReplyToReportRequest,
) -> Result<ReplyToReportResponse, ServiceError> {
    // The office answers: its specialists and its manager.
    if context.asserts_person() {
        context.require_role(&[Role::BackOffice, Role::Manager])?;
    }
    let reply = Reply::try_from(&request)?;
    let fingerprint = ReplyToReportRequest {
        idempotency_key: String::new(),
        ..request
    };
    if let Some(response) = desk
        .db
        .replay(REPLY, reply.idempotency_key, &fingerprint)
        .await?
    {
        return Ok(response);
    }
    let report = {
        let mut conn = desk.db.pool().acquire().await.map_err(ServiceError::from)?;
        store::find(
            &mut conn,
            context.municipality(),
            &super::domain::Lookup::Id(reply.report_id),
        )
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| UrpError::ReportNotFound(reply.report_id.to_string()))?
    };
    context.ensure_municipality(report.municipality)?;
    if report.status == Status::Closed {
        return Err(UrpError::Precondition(format!(
            "la segnalazione {} ha già avuto risposta (prot. {}) / report {} was already \
             replied to",
            report.code,
            report.reply_protocol_number.as_deref().unwrap_or_default(),
            report.code
        ))
        .into());
    }
    // The noun and its article: "alla segnalazione", "al reclamo".
    let to_the = match report.kind {
        Kind::Report => "alla segnalazione",
        Kind::Complaint => "al reclamo",
    };
    let letter = format!(
        "Risposta {to_the} n. {code} (prot. {protocol} del {received})\n\n{text}",
        code = report.code,
        protocol = report.protocol_number,
        received = rome::date_of(report.received_at),
        text = reply.text,
    );
    let sent = desk
        .protocol
        .register_outgoing(
            context,
            &Outgoing::of_procedure(
                report.municipality,
                &report.id.to_string(),
                OutgoingKind::Communication,
                report.requester_ref.as_deref().unwrap_or("anonimo"),
                &format!("Risposta {to_the} n. {}", report.code),
                &letter,
            ),
        )
        .await?;
    let emails = report.has_email && desk.mailer.is_some();
    desk.db
        .idempotent(REPLY, reply.idempotency_key, &fingerprint, move |uow| {
            Box::pin(async move {
                let Some(current) = store::lock(uow, reply.report_id)
                    .await
                    .map_err(ServiceError::from)?
                else {
                    return Err(UrpError::ReportNotFound(reply.report_id.to_string()).into());
                };
                // Two replies racing: the first closes, the second is told.
                if current.status == Status::Closed {
                    return Err(UrpError::Precondition(format!(
                        "la segnalazione {} ha già avuto risposta / was already replied to",
                        current.code
                    ))
                    .into());
                }
                let closed = store::close(uow, current.id, &letter, reply.outcome, &sent.number)
                    .await
                    .map_err(ServiceError::from)?;
                work::replied(uow, &closed).await?;
                let id = closed.id.to_string();
                uow.emit(
                    &ReportClosed {
                        report_id: id.clone(),
                        code: closed.code.clone(),
                        municipality_istat_code: closed.municipality.to_string(),
                        category_code: closed.category_code.clone(),
                        outcome: reply.outcome.message() as i32,
                        on_time: rome::date_of(uow.now()) <= closed.due_date,
                    },
                    work::aggregate(&closed, &id),
                )
                .await?;
                if emails {
                    let now = uow.now();
                    uow.schedule_timer(MAIL_TIMER, &id, now, serde_json::Value::Null)
                        .await
                        .map_err(ServiceError::from)?;
                }
                let refs = store::attachments(uow.conn(), closed.id)
                    .await
                    .map_err(ServiceError::from)?;
                Ok(ReplyToReportResponse {
                    report: Some(message::report(&closed, &refs)),
                })
            })
        })
        .await
}

/// E-mails a closed report's reply. A refusal by the server (a 5xx: the address does
/// not exist) is final — the citizen still reads the reply by code —, anything else is
/// retried by the timer worker with backoff.
#[derive(Debug, Clone)]
pub struct MailReply {
    /// The mailer.
    pub mailer: Option<Mailer>,
}

impl TimerHandler for MailReply {
    fn fire<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        timer: &'a Timer,
    ) -> BoxFuture<'a, Result<(), ServiceError>> {
        Box::pin(async move {
            let Some(mailer) = &self.mailer else {
                return Ok(());
            };
            let Ok(id) = uuid::Uuid::parse_str(&timer.key) else {
                return Ok(());
            };
            let Some((email, code, letter, number)) = store::reply_address(uow, id)
                .await
                .map_err(ServiceError::from)?
            else {
                return Ok(());
            };
            let Ok(to) = email.parse::<Address>() else {
                return Ok(());
            };
            let mail = Mail {
                to,
                // A report or a complaint alike: "your request".
                subject: format!("Risposta alla sua richiesta {code} (prot. {number})"),
                text: letter,
            };
            match mailer.send(mail).await {
                Ok(()) => store::set_emailed(uow, id)
                    .await
                    .map_err(ServiceError::from),
                Err(MailError::Refused { .. }) => {
                    tracing::warn!(report_id = %id, "the mail server refused the reply's address");
                    Ok(())
                }
                Err(error) => Err(ServiceError::unavailable("the mail server", error)),
            }
        })
    }
}
