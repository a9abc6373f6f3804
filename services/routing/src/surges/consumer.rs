//! Routing's durable inbox of education's windows and applications: a window opened
//! schedules its surge, an application filed is counted on its day. Departments and
//! routing meet only through events; the inbox records each event id with its effect, so
//! a redelivery changes nothing. An event routing cannot read is dead-lettered with its
//! reason; one whose database write failed is retried.

use futures::future::BoxFuture;
use sportello_kit::{ConsumerSpec, EventHandler, EventRecord, HandlerError, UnitOfWork};
use sportello_proto::education::v1::{ApplicationFiled, EnrolmentWindowOpened};

use super::{
    domain::{Filed, Window},
    flow::SurgeFlow,
};

/// What the consumer reads, on education's stream.
pub const SUBJECTS: &[&str] = &[
    "education.enrolment_window.opened",
    "education.application.filed",
];

/// The consumer of education's windows and applications.
pub fn spec() -> ConsumerSpec {
    ConsumerSpec::new("surge-education", "education", SUBJECTS)
}

/// Applies education's windows and applications.
#[derive(Debug, Clone)]
pub struct SurgeHandler(pub SurgeFlow);

fn rejected(kind: &'static str, error: impl std::fmt::Display) -> HandlerError {
    metrics::counter!("sportello_routing_surge_rejected_total", "event" => kind).increment(1);
    HandlerError::Reject(error.to_string())
}

impl EventHandler for SurgeHandler {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            match event.event_type.as_str() {
                "education.enrolment_window.opened" => {
                    let message: EnrolmentWindowOpened =
                        event.decode().map_err(|e| rejected("window", e))?;
                    let window = Window::parse(&message).map_err(|e| rejected("window", e))?;
                    self.0.schedule(uow, window).await?;
                    Ok(())
                }
                "education.application.filed" => {
                    let message: ApplicationFiled =
                        event.decode().map_err(|e| rejected("application", e))?;
                    let filed = Filed::parse(&message, event.time)
                        .map_err(|e| rejected("application", e))?;
                    self.0.record(uow, &filed).await?;
                    Ok(())
                }
                other => Err(HandlerError::Reject(format!(
                    "{other} is not a window or application event"
                ))),
            }
        })
    }
}
