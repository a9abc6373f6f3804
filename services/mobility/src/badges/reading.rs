//! Reading a badge's certification: the health data, for the mobility office only
//! (a person of the `mobilita` department who serves citizens), each read audited with
//! who, for which badge and the declared purpose — before the data are opened.

use sportello_kit::{CallContext, ErrorKind, Role, ServiceError};
use sportello_proto::mobility::v1::ReadCertificationResponse;
use uuid::Uuid;

use super::{BadgeOffice, domain::Certification, seal_context, store};

/// The department whose people may read certifications.
pub const MOBILITY_OFFICE: &str = "mobilita";

/// The certification of badge `id`, audited.
pub async fn read(
    office: &BadgeOffice,
    context: &CallContext,
    id: Uuid,
) -> Result<ReadCertificationResponse, ServiceError> {
    let allowed = context.asserts_person()
        && context.has_any_role(Role::OPERATORS)
        && context.department() == Some(MOBILITY_OFFICE);
    if !allowed {
        return Err(ServiceError::new(
            ErrorKind::PermissionDenied,
            "la certificazione sanitaria la legge solo l'ufficio mobilità / only the mobility \
             office reads the medical certification",
        ));
    }
    let keys = office.keys()?;
    let mut conn = office
        .db
        .pool()
        .acquire()
        .await
        .map_err(ServiceError::from)?;
    let badge = store::find(&mut conn, id).await?.ok_or_else(|| {
        ServiceError::new(
            ErrorKind::NotFound,
            format!("contrassegno {id} non trovato / badge {id} not found"),
        )
    })?;
    context.ensure_visible(badge.municipality)?;
    store::audit_read(
        &mut conn,
        badge.id,
        context.actor(),
        context.caller(),
        context.purpose(),
        office.db.clock().now(),
    )
    .await?;
    let plain = keys
        .open(&seal_context(badge.id), &badge.certification)
        .map_err(ServiceError::internal)?;
    let certification: Certification =
        serde_json::from_str(&plain).map_err(ServiceError::internal)?;
    Ok(ReadCertificationResponse {
        certification_reference: certification.reference,
        permanent: certification.permanent,
        certification_term: certification
            .term
            .map(|t| t.to_string())
            .unwrap_or_default(),
    })
}
