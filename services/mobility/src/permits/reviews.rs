//! Facts change, permits follow: mobility consumes the registry's events (durable inbox)
//! about the people its permits depend on — a change of residence recorded (and its
//! rejection), a move away or abroad, a death — and puts each of their permits under
//! review: still valid for a grace of [`GRACE_DAYS`], handed to the back office as work
//! on that clock, ended by the grace timer unless the office keeps it. A rejected change
//! of residence withdraws the reviews it opened. A death also revokes the holder's
//! disabled badges at once ([`crate::badges::lifecycle::revoke_of_resident`]).

use futures::future::BoxFuture;
use jiff::ToSpan;
use prost::Message as _;
use sportello_kit::{
    Aggregate, ConsumerSpec, EventHandler, EventRecord, HandlerError, ServiceError, UnitOfWork,
    protocol::document_key,
};
use sportello_pa::calendar::rome;
use sportello_proto::{
    mobility::v1::PermitReviewOpened,
    registry::v1::{
        ResidenceChangeRecorded, ResidenceChangeRejected, ResidentStatus, ResidentStatusChanged,
    },
};
use uuid::Uuid;

use super::{
    domain::State,
    lifecycle,
    store::{self, Review},
    work,
};

/// The durable consumer of the registry's events.
pub const CONSUMER: &str = "mobility-registry";
/// What it reads.
pub const SUBJECTS: &[&str] = &[
    "registry.resident.status_changed",
    "registry.residence_change.recorded",
    "registry.residence_change.rejected",
];
/// How long a permit stays valid under review unless the office keeps it.
pub const GRACE_DAYS: i32 = 30;

/// The consumer's spec, declared in mobility's `ServiceSpec`.
pub fn consumer_spec() -> ConsumerSpec {
    ConsumerSpec::new(CONSUMER, "registry", SUBJECTS)
}

/// Registry events mobility could never apply.
const REJECTED: &str = "sportello_mobility_registry_events_rejected_total";

/// What a registry event means for a person's permits.
enum Change {
    /// Open a review of each live permit.
    Review {
        cause: &'static str,
        source: String,
        reason: String,
        residents: Vec<String>,
    },
    /// Withdraw the reviews `source` opened.
    Withdraw {
        source: String,
        residents: Vec<String>,
    },
}

fn change_of(event: &EventRecord) -> Result<Option<Change>, HandlerError> {
    let undecodable = |e: prost::DecodeError| {
        sportello_kit::work::reject(REJECTED, format!("undecodable registry event: {e}"))
    };
    let subject = event.event_type.as_str();
    Ok(if subject.ends_with("resident.status_changed") {
        let changed = ResidentStatusChanged::decode(event.data.clone()).map_err(undecodable)?;
        let day = &changed.effective_date;
        let (cause, italiano, english) = match ResidentStatus::try_from(changed.status) {
            Ok(ResidentStatus::MovedAway) => {
                ("moved_away", "trasferito in un altro comune", "moved away")
            }
            Ok(ResidentStatus::Aire) => (
                "moved_abroad",
                "trasferito all'estero (AIRE)",
                "moved abroad",
            ),
            Ok(ResidentStatus::Deceased) => ("deceased", "deceduto", "deceased"),
            _ => return Ok(None),
        };
        Some(Change::Review {
            cause,
            source: changed.resident_id.clone(),
            reason: format!(
                "anagrafe: titolare {italiano} dal {day} / registry: holder {english} on {day}"
            ),
            residents: vec![changed.resident_id],
        })
    } else if subject.ends_with("residence_change.recorded") {
        let recorded = ResidenceChangeRecorded::decode(event.data.clone()).map_err(undecodable)?;
        let day = &recorded.effective_date;
        Some(Change::Review {
            cause: "residence_changed",
            source: recorded.residence_change_id.clone(),
            reason: format!(
                "anagrafe: il titolare ha cambiato indirizzo dal {day}, verificare se risiede \
                 ancora nella zona / registry: the holder changed address on {day}, check they \
                 still live in the zone"
            ),
            residents: recorded.resident_ids,
        })
    } else if subject.ends_with("residence_change.rejected") {
        let rejected = ResidenceChangeRejected::decode(event.data.clone()).map_err(undecodable)?;
        Some(Change::Withdraw {
            source: rejected.residence_change_id,
            residents: rejected.resident_ids,
        })
    } else {
        None
    })
}

/// The day of a death the event records.
fn deceased_on(event: &EventRecord) -> Option<String> {
    ResidentStatusChanged::decode(event.data.clone())
        .ok()
        .map(|c| c.effective_date)
}

/// Puts permits under review when the registry's facts change, and revokes the badges of
/// a holder who died.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistryEvents;

impl EventHandler for RegistryEvents {
    fn handle<'a>(
        &'a self,
        uow: &'a mut UnitOfWork,
        event: &'a EventRecord,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let retry = |e: sqlx::Error| HandlerError::Retry(e.into());
            let failed = |e| sportello_kit::work::retry_or_reject(REJECTED, e);
            let change = change_of(event)?;
            // A death revokes the holder's badges at once: their plates leave the
            // whitelist now, not after a review.
            if let Some(Change::Review {
                cause: "deceased",
                residents,
                ..
            }) = &change
            {
                let day = deceased_on(event).unwrap_or_default();
                for resident in residents {
                    crate::badges::lifecycle::revoke_of_resident(uow, resident, &day)
                        .await
                        .map_err(failed)?;
                }
            }
            match change {
                None => Ok(()),
                Some(Change::Review {
                    cause,
                    source,
                    reason,
                    residents,
                }) => {
                    for resident in residents {
                        let permits = store::live_of_resident(uow.conn(), &resident)
                            .await
                            .map_err(retry)?;
                        for id in permits {
                            // One review per event and permit, whatever is redelivered.
                            let review = document_key(&[&event.id.to_string(), &id.to_string()]);
                            open(uow, id, review, cause, &source, &reason)
                                .await
                                .map_err(failed)?;
                        }
                    }
                    Ok(())
                }
                Some(Change::Withdraw { source, residents }) => {
                    for resident in residents {
                        let permits = store::reviewed_for(uow.conn(), &resident, &source)
                            .await
                            .map_err(retry)?;
                        for id in permits {
                            let Some(permit) = store::lock(uow, id).await.map_err(retry)? else {
                                continue;
                            };
                            // Under the lock: a grace that ran out meanwhile stays ended.
                            if permit.state != State::UnderReview
                                || permit.review_source.as_deref() != Some(source.as_str())
                            {
                                continue;
                            }
                            work::withdrawn(uow, &permit).await.map_err(failed)?;
                            work::close(uow, &permit, "change_rejected")
                                .await
                                .map_err(failed)?;
                        }
                    }
                    Ok(())
                }
            }
        })
    }
}

/// Opens the review `review` of permit `id`, in `uow`.
async fn open(
    uow: &mut UnitOfWork,
    id: Uuid,
    review: Uuid,
    cause: &str,
    source: &str,
    reason: &str,
) -> Result<(), ServiceError> {
    let Some(permit) = store::lock(uow, id).await? else {
        return Ok(());
    };
    // Ended meanwhile, or already under review for this very fact.
    if permit.state == State::Ended || permit.review_id == Some(review) {
        return Ok(());
    }
    let grace_until = rome::date_of(uow.now())
        .checked_add(GRACE_DAYS.days())
        .map_err(ServiceError::internal)?;
    let opened = Review {
        id: review,
        cause,
        source,
        reason,
        grace_until,
    };
    // A review already open for another fact is replaced: its work is withdrawn.
    if permit.state == State::UnderReview {
        work::withdrawn(uow, &permit).await?;
    }
    store::open_review(uow, id, &opened).await?;
    work::request(uow, &permit, &opened).await?;
    lifecycle::schedule_grace(uow, id, grace_until).await?;
    let key = id.to_string();
    uow.emit(
        &PermitReviewOpened {
            permit_id: key.clone(),
            municipality_istat_code: permit.municipality.to_string(),
            zone_code: permit.zone_code.clone(),
            cause: cause.to_owned(),
            grace_until: grace_until.to_string(),
        },
        Aggregate {
            kind: "mobility.permit",
            id: &key,
            version: permit.version + 1,
            municipality: permit.municipality,
        },
    )
    .await?;
    tracing::info!(permit_id = %id, cause, "permit under review");
    Ok(())
}
