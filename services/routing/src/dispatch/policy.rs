//! Who is called next: the policy, as a pure function of the queue heads.
//!
//! Among the cases an operator may serve:
//!
//! 1. priority cases (disability, pregnancy, elderly, small children) go first, oldest
//!    first;
//! 2. **but** once an ordinary case has waited at least the site's bound B, no priority
//!    case that arrived after it is called before it — so priority never starves the
//!    ordinary queue: an ordinary ticket waits at most B plus the priority tickets that
//!    were already there when it arrived;
//! 3. otherwise first come, first served, across all the operator's queues.
//!
//! A checked-in appointment is a priority case whose arrival is its booked start: before
//! that time it is not called at all (the heads of the priority class are ordered by
//! arrival, so a future one is the last to become due), from then on it goes ahead of
//! walk-ins — within the same bound, so a walk-in who has waited B is not overtaken by
//! an appointment booked after they arrived.
//!
//! Only the oldest case of each class in each lane matters: within a class, cases are
//! served in arrival order, so the decision looks at two heads per lane.

use jiff::{SignedDuration, Timestamp};
use sportello_proto::routing::v1::DecisionReason;

/// A queue head: when it arrived and its identity (ties broken by id, which is
/// time-ordered).
pub type Head<K> = (Timestamp, K);

/// The decision: which head, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick<K> {
    /// The chosen case.
    pub case: K,
    /// When it arrived.
    pub arrival: Timestamp,
    /// Why.
    pub reason: DecisionReason,
    /// Whether it is a priority case.
    pub priority: bool,
}

/// Picks from the oldest priority head and the oldest ordinary head among the
/// operator's lanes. `bound` is the site's priority bound.
pub fn pick<K: Copy + Ord>(
    oldest_priority: Option<Head<K>>,
    oldest_ordinary: Option<Head<K>>,
    now: Timestamp,
    bound: SignedDuration,
) -> Option<Pick<K>> {
    let priority = |(arrival, case): Head<K>, reason| Pick {
        case,
        arrival,
        reason,
        priority: true,
    };
    let ordinary = |(arrival, case): Head<K>, reason| Pick {
        case,
        arrival,
        reason,
        priority: false,
    };
    // A priority head due later (an appointment before its time) is not yet callable.
    let oldest_priority = oldest_priority.filter(|(arrival, _)| *arrival <= now);
    match (oldest_priority, oldest_ordinary) {
        (None, None) => None,
        (None, Some(o)) => Some(ordinary(o, DecisionReason::Fifo)),
        (Some(p), None) => Some(priority(p, DecisionReason::PriorityFirst)),
        (Some(p), Some(o)) => {
            let overdue = now.duration_since(o.0) >= bound;
            if overdue && p > o {
                Some(ordinary(o, DecisionReason::BoundReached))
            } else if p < o {
                // Older than every ordinary case: first come, first served agrees.
                Some(priority(p, DecisionReason::Fifo))
            } else {
                Some(priority(p, DecisionReason::PriorityFirst))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH
            .checked_add(SignedDuration::from_mins(minutes))
            .unwrap()
    }

    const B: SignedDuration = SignedDuration::from_mins(20);

    #[test]
    fn priority_goes_first_within_the_bound() {
        let pick = pick(Some((at(10), 2)), Some((at(0), 1)), at(15), B).unwrap();
        assert_eq!((pick.case, pick.reason), (2, DecisionReason::PriorityFirst));
    }

    #[test]
    fn an_ordinary_case_past_the_bound_is_not_passed_by_a_later_priority_one() {
        let pick = pick(Some((at(10), 2)), Some((at(0), 1)), at(20), B).unwrap();
        assert_eq!((pick.case, pick.reason), (1, DecisionReason::BoundReached));
    }

    #[test]
    fn an_earlier_priority_case_still_goes_first() {
        let pick = pick(Some((at(0), 1)), Some((at(5), 2)), at(60), B).unwrap();
        assert_eq!((pick.case, pick.reason), (1, DecisionReason::Fifo));
    }

    #[test]
    fn fifo_when_only_one_class_waits() {
        assert_eq!(
            pick(None, Some((at(0), 1)), at(1), B).unwrap().reason,
            DecisionReason::Fifo
        );
        assert_eq!(
            pick(Some((at(0), 1)), None, at(1), B).unwrap().reason,
            DecisionReason::PriorityFirst
        );
        assert_eq!(pick::<u8>(None, None, at(1), B), None);
    }
}
