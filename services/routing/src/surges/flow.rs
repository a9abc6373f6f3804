//! The surges' units of work: each locks what it changes (the surge, then each operator
//! in id order), decides, saves, emits through the outbox and commits with its caller
//! (the inbox's or the timer's unit of work, or its own for a roster).

use jiff::civil::Date;
use sportello_kit::{Aggregate, CallContext, Db, MunicipalityCode, ServiceError, UnitOfWork};
use sportello_proto::{
    Event,
    routing::v1::{
        OperatorSkillsChanged, SkillsChangeReason, SurgeDay, SurgeEnded, SurgeOverview,
        SurgeRosterSet, SurgeScheduled, SurgeStarted, SurgeStatus,
    },
};
use uuid::Uuid;

use super::{
    END_TIMER, ENROLMENT_SERVICE, ENROLMENT_SKILL, START_TIMER,
    domain::{self, Filed, Reskilled, Roster, Surge, Window},
    store,
};
use crate::{
    access::ensure_administers,
    catalogue::cache::CatalogueCache,
    error::RoutingError,
    operators::{self, domain::Operator},
};

/// The surges.
#[derive(Debug, Clone)]
pub struct SurgeFlow {
    /// The database.
    pub db: Db,
    /// The catalogue (the enrolment service's group and expected minutes).
    pub catalogue: CatalogueCache,
}

async fn emit_surge<E: Event>(
    uow: &mut UnitOfWork,
    event: &E,
    surge: &Surge,
) -> Result<(), ServiceError> {
    let id = surge.id.to_string();
    uow.emit(
        event,
        Aggregate {
            kind: "routing.surge",
            id: &id,
            version: surge.version,
            municipality: surge.window.municipality,
        },
    )
    .await?;
    Ok(())
}

async fn emit_skills(
    uow: &mut UnitOfWork,
    operator: &Operator,
    reason: SkillsChangeReason,
    surge: &Surge,
) -> Result<(), ServiceError> {
    let message = operator.to_message(None);
    let event = OperatorSkillsChanged {
        operator_id: operator.profile.id.clone(),
        municipality_istat_code: operator.profile.municipality.to_string(),
        skills: message.skills,
        reason: reason as i32,
        surge_id: surge.id.to_string(),
        version: message.version,
    };
    uow.emit(
        &event,
        Aggregate {
            kind: "routing.operator",
            id: &operator.profile.id,
            version: operator.version,
            municipality: operator.profile.municipality,
        },
    )
    .await?;
    Ok(())
}

impl SurgeFlow {
    /// Designates a skill's surge roster (administrators and managers of the
    /// municipality). Every operator named must be one of the municipality's.
    pub async fn set_roster(
        &self,
        context: &CallContext,
        roster: Roster,
    ) -> Result<Roster, ServiceError> {
        ensure_administers(context, roster.municipality)?;
        let known =
            store::operators_among(self.db.pool(), roster.municipality, &roster.operator_ids)
                .await?;
        if let Some(unknown) = roster.operator_ids.iter().find(|id| !known.contains(id)) {
            return Err(ServiceError::invalid_field(
                "roster.operator_ids",
                format!(
                    "{unknown} non è un operatore di questo comune / {unknown} is not an operator of this municipality"
                ),
            ));
        }
        let mut uow = self.db.begin().await?;
        let stored = store::save_roster(&mut uow, &roster).await?;
        let key = format!("{}/{}", stored.municipality, stored.skill);
        uow.emit(
            &SurgeRosterSet {
                roster: Some(stored.to_message()),
            },
            Aggregate {
                kind: "routing.surge_roster",
                id: &key,
                version: stored.version,
                municipality: stored.municipality,
            },
        )
        .await?;
        uow.commit().await?;
        tracing::info!(skill = %stored.skill, operators = stored.operator_ids.len(), "surge roster set");
        Ok(stored)
    }

    /// A skill's roster; an empty one at version 0 when none was set.
    pub async fn roster(
        &self,
        context: &CallContext,
        municipality: MunicipalityCode,
        skill: String,
    ) -> Result<Roster, ServiceError> {
        ensure_administers(context, municipality)?;
        Ok(store::roster(self.db.pool(), municipality, &skill)
            .await?
            .unwrap_or(Roster {
                municipality,
                skill,
                proficiency: 0,
                operator_ids: Vec::new(),
                version: 0,
            }))
    }

    /// Schedules the surge of a window just opened: one per window, whatever is
    /// redelivered or re-sent. A window whose first day has come starts at the timer
    /// worker's next pass. Returns whether a surge was scheduled now.
    pub async fn schedule(
        &self,
        uow: &mut UnitOfWork,
        window: Window,
    ) -> Result<bool, ServiceError> {
        let (starts_at, ends_at) = window.span()?;
        let surge = Surge {
            id: Uuid::now_v7(),
            window,
            skill: ENROLMENT_SKILL.to_owned(),
            starts_at,
            ends_at,
            status: SurgeStatus::Scheduled,
            operators: Vec::new(),
            version: 1,
        };
        if !store::insert(uow, &surge).await? {
            tracing::debug!(window_id = %surge.window.id, "window already has its surge");
            return Ok(false);
        }
        let key = surge.id.to_string();
        let payload = serde_json::json!({ "surge": key });
        uow.schedule_timer(START_TIMER, &key, starts_at, payload.clone())
            .await?;
        uow.schedule_timer(END_TIMER, &key, ends_at, payload)
            .await?;
        emit_surge(
            uow,
            &SurgeScheduled {
                surge: Some(surge.to_message()),
            },
            &surge,
        )
        .await?;
        tracing::info!(surge_id = %surge.id, window_id = %surge.window.id, %starts_at, %ends_at, "surge scheduled");
        Ok(true)
    }

    /// Counts an application filed in a window (once per application).
    pub async fn record(&self, uow: &mut UnitOfWork, filed: &Filed) -> Result<(), ServiceError> {
        store::record_application(uow, filed).await?;
        Ok(())
    }

    /// The surge starts: each operator of the roster (as it is now) gains the skill at
    /// the roster's proficiency; one who already holds it at least as high is left alone.
    /// What each had before is kept for the end.
    pub async fn start(&self, uow: &mut UnitOfWork, id: Uuid) -> Result<(), ServiceError> {
        let Some(mut surge) = store::lock(uow, id).await? else {
            return Err(ServiceError::internal(format!("surge {id} not found")));
        };
        if surge.status != SurgeStatus::Scheduled {
            return Ok(());
        }
        let roster = store::roster(uow.conn(), surge.window.municipality, &surge.skill).await?;
        let (granted, mut ids) =
            roster.map_or((0, Vec::new()), |r| (r.proficiency, r.operator_ids));
        // One lock order for every flow that takes several operators.
        ids.sort();
        for operator_id in ids {
            let operator = match operators::store::lock(uow, &operator_id).await {
                Ok(operator) if operator.profile.municipality == surge.window.municipality => {
                    operator
                }
                Ok(_) | Err(RoutingError::OperatorNotFound) => continue,
                Err(error) => return Err(error.into()),
            };
            let prior = domain::proficiency_in(&operator.profile.skills, &surge.skill);
            let changed = prior.is_none_or(|p| p < granted);
            if changed {
                let skills =
                    domain::with_skill(&operator.profile.skills, &surge.skill, Some(granted));
                let operator = operators::store::save_skills(uow, operator, skills).await?;
                emit_skills(uow, &operator, SkillsChangeReason::SurgeStarted, &surge).await?;
            }
            surge.operators.push(Reskilled {
                operator_id,
                prior,
                granted: prior.filter(|_| !changed).unwrap_or(granted),
                changed,
                restored: false,
            });
        }
        surge.status = SurgeStatus::Active;
        let surge = store::save(uow, surge).await?;
        emit_surge(
            uow,
            &SurgeStarted {
                surge: Some(surge.to_message()),
            },
            &surge,
        )
        .await?;
        tracing::info!(surge_id = %surge.id, operators = surge.operators.iter().filter(|o| o.changed).count(), "surge started");
        Ok(())
    }

    /// The surge ends: each operator it changed gets their prior proficiency back — unless
    /// an administrator changed the skill meanwhile (their edit stays), or another surge
    /// of the same skill still running found them holding it (it restores them when it
    /// ends).
    pub async fn end(&self, uow: &mut UnitOfWork, id: Uuid) -> Result<(), ServiceError> {
        let Some(mut surge) = store::lock(uow, id).await? else {
            return Err(ServiceError::internal(format!("surge {id} not found")));
        };
        if surge.status == SurgeStatus::Ended {
            return Ok(());
        }
        // A surge that never started (its start kept failing) ends without changes; its
        // start, if it fires later, finds it ended.
        let mut operators = std::mem::take(&mut surge.operators);
        operators.sort_by(|a, b| a.operator_id.cmp(&b.operator_id));
        for row in &mut operators {
            if !row.changed || row.restored {
                continue;
            }
            let operator = match operators::store::lock(uow, &row.operator_id).await {
                Ok(operator) => operator,
                Err(RoutingError::OperatorNotFound) => continue,
                Err(error) => return Err(error.into()),
            };
            if let Some(other) = store::active_sharing(uow, &surge, row).await? {
                store::hand_over(uow, other, row).await?;
                continue;
            }
            let now = domain::proficiency_in(&operator.profile.skills, &surge.skill);
            if now != Some(row.granted) {
                tracing::info!(surge_id = %surge.id, operator_id = %row.operator_id, "skill changed by an administrator during the surge: left as it is");
                continue;
            }
            let skills = domain::with_skill(&operator.profile.skills, &surge.skill, row.prior);
            let operator = operators::store::save_skills(uow, operator, skills).await?;
            emit_skills(uow, &operator, SkillsChangeReason::SurgeEnded, &surge).await?;
            row.restored = true;
        }
        surge.operators = operators;
        surge.status = SurgeStatus::Ended;
        let surge = store::save(uow, surge).await?;
        emit_surge(
            uow,
            &SurgeEnded {
                surge: Some(surge.to_message()),
            },
            &surge,
        )
        .await?;
        tracing::info!(surge_id = %surge.id, restored = surge.operators.iter().filter(|o| o.restored).count(), "surge ended");
        Ok(())
    }

    /// The municipality's surges for the manager: each with its operators and its
    /// window's days, applications filed against the counters' capacity
    /// ([`domain::capacity`]).
    pub async fn overview(
        &self,
        context: &CallContext,
        municipality: MunicipalityCode,
    ) -> Result<Vec<SurgeOverview>, ServiceError> {
        ensure_administers(context, municipality)?;
        let surges = store::list(self.db.pool(), municipality).await?;
        let windows: Vec<Uuid> = surges.iter().map(|s| s.window.id).collect();
        let mut filed = store::applications_per_day(self.db.pool(), municipality, &windows).await?;
        let catalogue = self.catalogue.get(municipality).await?;
        let service = catalogue.service(ENROLMENT_SERVICE).ok();
        let mut out = Vec::with_capacity(surges.len());
        for surge in surges {
            let (from, to) = (surge.window.opens_on, surge.window.closes_on);
            let sites = match service {
                Some(service) => {
                    store::site_openings(self.db.pool(), municipality, &service.group, from, to)
                        .await?
                }
                None => Vec::new(),
            };
            let minutes = service.map_or(0, |s| i64::from(s.expected_minutes));
            let per_day = filed.remove(&surge.window.id).unwrap_or_default();
            let days: Vec<SurgeDay> = days_between(from, to)
                .map(|day| SurgeDay {
                    date: day.to_string(),
                    applications: per_day
                        .get(&day)
                        .and_then(|n| u32::try_from(*n).ok())
                        .unwrap_or_default(),
                    capacity: u32::try_from(domain::capacity(day, &sites, minutes))
                        .unwrap_or(u32::MAX),
                })
                .collect();
            // Applications filed outside the window's days (late events) count in the total.
            let applications = per_day.values().sum::<i64>();
            out.push(SurgeOverview {
                surge: Some(surge.to_message()),
                days,
                applications: u32::try_from(applications).unwrap_or(u32::MAX),
            });
        }
        Ok(out)
    }
}

/// The days from `from` to `to`, both included.
fn days_between(from: Date, to: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), move |day| {
        day.tomorrow().ok().filter(|next| *next <= to)
    })
    .take_while(move |day| *day <= to)
}
