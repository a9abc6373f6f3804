//! Opening an enrolment window: one unit of work — save, emit, commit; and listing the
//! municipality's windows, those open today for the counter.

use sportello_kit::{Aggregate, CallContext, IdempotencyKey, Role, ServiceError, domain};
use sportello_pa::calendar::rome;
use sportello_proto::education::v1::{
    EnrolmentWindowOpened, ListWindowsRequest, ListWindowsResponse, OpenWindowRequest,
    OpenWindowResponse,
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

/// The caller's municipality's windows; with `open_today`, those taking applications
/// today (Europe/Rome).
pub async fn list(
    office: &Office,
    context: &CallContext,
    request: &ListWindowsRequest,
) -> Result<ListWindowsResponse, ServiceError> {
    let mut roles = Role::OPERATORS.to_vec();
    roles.extend([Role::Manager, Role::Admin]);
    context.require_role(&roles)?;
    let municipality =
        domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
    context.ensure_municipality(municipality)?;
    let today = request
        .open_today
        .then(|| rome::date_of(office.db.clock().now()));
    let windows = store::windows_of(office.db.pool(), municipality, today).await?;
    Ok(ListWindowsResponse {
        windows: windows.iter().map(message::window).collect(),
    })
}
