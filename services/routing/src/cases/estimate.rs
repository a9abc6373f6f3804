//! An honest wait estimate for a counter queue: what a ticket taken now is likely to
//! wait, from the queue's recent handling times and the operators present — and, when
//! the data is too thin for that, a plain statement of what the figure rests on instead.
//!
//! The model is deliberately simple, so an operator can check it by hand: the cases
//! ahead are shared among the operators present for the queue, each taking the median
//! (P50) or the 90th percentile (P90) of the recent handling times. It ignores
//! priority cases that may still arrive and operators who will come back from a break;
//! the basis says how many cases it learnt from.

/// At least this many recent handlings before their percentiles are trusted.
pub const MIN_SAMPLES: usize = 10;

/// What the queue looks like now.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// Cases waiting.
    pub waiting: u32,
    /// Operators present (available, serving or wrapping up) who may serve the queue.
    pub operators: u32,
    /// Recent handling times, seconds (call to close), any order.
    pub handled: Vec<f64>,
    /// The catalogue's expected minutes for the queue's services (their mean).
    pub expected_minutes: Option<f64>,
}

/// The estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// P50, seconds.
    pub p50: u32,
    /// P90, seconds.
    pub p90: u32,
    /// What it rests on, Italian / English.
    pub basis: String,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    // Nearest rank: the smallest value with at least q of the sample at or below it.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn seconds(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        x.round().min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Estimates the wait of a ticket taken now.
pub fn estimate(inputs: &Inputs) -> Estimate {
    if inputs.operators == 0 {
        return Estimate {
            p50: 0,
            p90: 0,
            basis: "nessuna stima: nessun operatore presente per questa coda / \
                    no estimate: no operator is present for this queue"
                .to_owned(),
        };
    }
    if inputs.waiting == 0 {
        return Estimate {
            p50: 0,
            p90: 0,
            basis: format!(
                "nessuno in attesa e {} operatori presenti: chiamata al primo operatore libero / \
                 nobody waiting and {} operators present: called by the first free operator",
                inputs.operators, inputs.operators
            ),
        };
    }
    let ahead = f64::from(inputs.waiting) / f64::from(inputs.operators);
    let mut handled: Vec<f64> = inputs
        .handled
        .iter()
        .copied()
        .filter(|h| h.is_finite() && *h >= 0.0)
        .collect();
    handled.sort_by(f64::total_cmp);
    if handled.len() >= MIN_SAMPLES {
        let (h50, h90) = (percentile(&handled, 0.5), percentile(&handled, 0.9));
        return Estimate {
            p50: seconds(ahead * h50),
            p90: seconds(ahead * h90),
            basis: format!(
                "{} in attesa, {} operatori presenti, tempi delle ultime {} pratiche / \
                 {} waiting, {} operators present, the last {} cases' handling times",
                inputs.waiting,
                inputs.operators,
                handled.len(),
                inputs.waiting,
                inputs.operators,
                handled.len()
            ),
        };
    }
    match inputs.expected_minutes {
        Some(minutes) if minutes > 0.0 => {
            let h = minutes * 60.0;
            Estimate {
                p50: seconds(ahead * h),
                // Without a spread to learn from, twice the catalogue's figure: a bound
                // the catalogue's own minutes rarely exceed, stated as such.
                p90: seconds(ahead * h * 2.0),
                basis: format!(
                    "solo {} pratiche recenti: stima dai {minutes:.0} minuti attesi del catalogo \
                     (P90 il doppio), {} operatori presenti / only {} recent cases: estimated \
                     from the catalogue's {minutes:.0} expected minutes (P90 twice that), {} \
                     operators present",
                    handled.len(),
                    inputs.operators,
                    handled.len(),
                    inputs.operators
                ),
            }
        }
        _ => Estimate {
            p50: 0,
            p90: 0,
            basis: format!(
                "nessuna stima: solo {} pratiche recenti e nessun tempo atteso in catalogo / \
                 no estimate: only {} recent cases and no expected time in the catalogue",
                handled.len(),
                handled.len()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(waiting: u32, operators: u32, handled: Vec<f64>) -> Inputs {
        Inputs {
            waiting,
            operators,
            handled,
            expected_minutes: Some(10.0),
        }
    }

    #[test]
    fn the_cases_ahead_are_shared_among_the_operators_present() {
        // Ten handlings: 60..=600 s; median (nearest rank) 300 s, P90 540 s.
        let handled: Vec<f64> = (1..=10).map(|i| f64::from(i) * 60.0).collect();
        let e = estimate(&inputs(6, 2, handled));
        assert_eq!((e.p50, e.p90), (3 * 300, 3 * 540));
        assert!(e.basis.contains("ultime 10 pratiche"), "{}", e.basis);
    }

    #[test]
    fn thin_data_falls_back_to_the_catalogue_and_says_so() {
        let e = estimate(&inputs(4, 2, vec![100.0, 200.0]));
        assert_eq!((e.p50, e.p90), (2 * 600, 2 * 1200));
        assert!(e.basis.contains("solo 2 pratiche recenti"), "{}", e.basis);
        assert!(e.basis.contains(" / only 2 recent cases"), "{}", e.basis);
    }

    #[test]
    fn never_blank_without_operators_or_data() {
        let none = estimate(&inputs(4, 0, vec![]));
        assert_eq!((none.p50, none.p90), (0, 0));
        assert!(none.basis.contains("nessun operatore presente"));
        let empty = estimate(&Inputs {
            expected_minutes: None,
            ..inputs(4, 1, vec![])
        });
        assert!(empty.basis.contains("nessun tempo atteso"));
        let nobody = estimate(&inputs(0, 3, vec![]));
        assert!(nobody.basis.contains("nessuno in attesa"));
    }
}
