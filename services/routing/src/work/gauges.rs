//! What the back office holds now, as Prometheus gauges: `sportello_routing_work_items`
//! by department and state (waiting, offered, held, suspended). Counts per department,
//! never per person (DESIGN.md, Observability). Each replica reads the same database, so
//! each reports the same figures: a dashboard takes their maximum, not their sum.

use std::{collections::HashSet, time::Duration};

use sportello_kit::Db;
use tokio_util::sync::CancellationToken;

use super::store;

/// How often the figures are read by default.
pub const EVERY: Duration = Duration::from_secs(15);

/// The gauge's name.
pub const ITEMS: &str = "sportello_routing_work_items";

/// Sets the gauges from the database every `every` until `shutdown`. A department and
/// state seen before and absent now is set to 0, so a gauge never keeps a stale count.
pub async fn run(db: Db, every: Duration, shutdown: CancellationToken) {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match store::open_by_department_and_state(db.pool()).await {
            Ok(counts) => {
                let now: HashSet<(String, String)> = counts
                    .iter()
                    .map(|(d, s, _)| (d.clone(), s.clone()))
                    .collect();
                for (department, state, count) in counts {
                    metrics::gauge!(ITEMS, "department" => department, "state" => state)
                        .set(count as f64);
                }
                for (department, state) in seen.difference(&now) {
                    metrics::gauge!(ITEMS, "department" => department.clone(), "state" => state.clone())
                        .set(0.0);
                }
                seen.extend(now);
            }
            // The database is away: the gauges keep their last figures until it is back
            // (readiness says it is away).
            Err(error) => tracing::warn!(%error, "cannot read the back office's gauges"),
        }
    }
}
