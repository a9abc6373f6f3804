//! Opening an enrolment window: one unit of work — save, emit, commit.

use sportello_kit::{Aggregate, CallContext, IdempotencyKey, Role, ServiceError};
use sportello_proto::education::v1::{
    EnrolmentWindowOpened, OpenWindowRequest, OpenWindowResponse,
};

use super::{Office, domain::NewWindow, message, store};

/// Opens a window.
pub async fn open(
    office: &Office,
    context: &CallContext,
    request: OpenWindowRequest,
) -> Result<OpenWindowResponse, ServiceError> {
    context.require_role(&[Role::Admin, Role::BackOffice])?;
    let window = NewWindow::try_from(&request)?;
    context.ensure_municipality(window.municipality)?;
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = OpenWindowRequest {
        idempotency_key: String::new(),
        ..request
    };
    office
        .db
        .idempotent("education.open_window", key, &fingerprint, |uow| {
            Box::pin(async move {
                let window = store::insert_window(uow, window).await?;
                let id = window.id.0.to_string();
                let w = &window.window;
                let event = EnrolmentWindowOpened {
                    window_id: id.clone(),
                    municipality_istat_code: w.municipality.to_string(),
                    level: w.service.level() as i32,
                    school_year: i32::from(w.year.0),
                    opens_on: w.opens_on.to_string(),
                    closes_on: w.closes_on.to_string(),
                };
                uow.emit(
                    &event,
                    Aggregate {
                        kind: "education.enrolment_window",
                        id: &id,
                        version: window.version,
                        municipality: w.municipality,
                    },
                )
                .await?;
                Ok(OpenWindowResponse {
                    window: Some(message::window(&window)),
                })
            })
        })
        .await
}
