//! A business's changes, each in one unit of work: lock by version, save, emit, commit.

use sportello_kit::{Aggregate, Db, ErrorKind, ServiceError};
use sportello_proto::suap::v1::BusinessUpdated;
use uuid::Uuid;

use super::{domain::NewBusiness, store};

/// Writes `changed` over business `id` if it is still at `version`; ABORTED otherwise,
/// nothing changed.
pub async fn update(
    db: &Db,
    id: Uuid,
    version: u64,
    changed: NewBusiness,
) -> Result<store::Business, ServiceError> {
    let expected = i64::try_from(version).unwrap_or(i64::MAX);
    let mut uow = db.begin().await?;
    let Some(version) = store::update(&mut uow, id, expected, &changed).await? else {
        return Err(ServiceError::new(
            ErrorKind::Aborted,
            "l'impresa è cambiata nel frattempo: rileggerla / the business changed meanwhile: \
             read it again",
        ));
    };
    let key = id.to_string();
    // Ids and the activity code only: a sole trader's name identifies a person.
    let event = BusinessUpdated {
        business_id: key.clone(),
        municipality_istat_code: changed.municipality.to_string(),
        ateco_code: changed.ateco_code.clone(),
        version: u64::try_from(version).unwrap_or_default(),
    };
    uow.emit(
        &event,
        Aggregate {
            kind: "suap.business",
            id: &key,
            version,
            municipality: changed.municipality,
        },
    )
    .await?;
    let created_at = store::find(uow.conn(), store::Find::Id(id))
        .await?
        .map(|b| b.created_at)
        .ok_or_else(|| ServiceError::internal("a business updated and then gone"))?;
    uow.commit().await?;
    Ok(store::Business {
        id,
        business: changed,
        version,
        created_at,
    })
}
