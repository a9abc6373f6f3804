//! Ending a permit at the holder's request — the vehicle sold, the permit no longer
//! needed —: under the permit's lock, a review in progress withdrawn, then the end
//! (its plates off the whitelist at once, its quota place and the household's plates
//! given back) and its event, in one unit of work.

use sportello_kit::{CallContext, IdempotencyKey, Role, ServiceError};
use sportello_proto::mobility::v1::{EndPermitRequest, EndPermitResponse};
use uuid::Uuid;

use super::{Desk, domain::State, lifecycle, message, store, work};
use crate::error::MobilityError;

const END: &str = "mobility.end_permit";

/// Ends the permit the request names.
pub async fn end(
    desk: &Desk,
    context: &CallContext,
    request: EndPermitRequest,
) -> Result<EndPermitResponse, ServiceError> {
    if context.asserts_person() {
        context.require_role(Role::OPERATORS)?;
    }
    let id = Uuid::parse_str(request.permit_id.trim()).map_err(|_| {
        ServiceError::invalid_field(
            "permit_id",
            "deve essere l'id di un permesso (UUID) / must be a permit's id (UUID)",
        )
    })?;
    let (cause, reason) = match request.cause.trim() {
        "given_up" => (
            "given_up",
            "rinunciato dal titolare / given up by the holder",
        ),
        "vehicle_sold" => (
            "vehicle_sold",
            "veicolo venduto, su richiesta del titolare / vehicle sold, at the holder's request",
        ),
        _ => {
            return Err(ServiceError::invalid_field(
                "cause",
                "deve essere given_up o vehicle_sold / must be given_up or vehicle_sold",
            ));
        }
    };
    let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
    let fingerprint = EndPermitRequest {
        idempotency_key: String::new(),
        ..request
    };
    let context = context.clone();
    desk.db
        .idempotent(END, key, &fingerprint, |uow| {
            Box::pin(async move {
                let permit = store::lock(uow, id)
                    .await?
                    .ok_or_else(|| MobilityError::PermitNotFound(id.to_string()))?;
                context.ensure_municipality(permit.municipality)?;
                if permit.state == State::Ended {
                    return Err(MobilityError::Precondition(format!(
                        "il permesso {n} è già cessato / permit {n} has ended already",
                        n = permit.number
                    ))
                    .into());
                }
                if permit.state == State::UnderReview {
                    work::withdrawn(uow, &permit).await?;
                }
                lifecycle::end(uow, &permit, cause, reason, None).await?;
                let ended = store::lock(uow, id)
                    .await?
                    .ok_or_else(|| ServiceError::internal("a permit just ended is gone"))?;
                Ok(EndPermitResponse {
                    permit: Some(message::permit(&ended)),
                })
            })
        })
        .await
}
