//! One line per run: `chaos <fault>: acknowledged N, lost 0, duplicated 0, recovery X.Xs (…)`.

use std::time::Duration;

use super::oracle::Verdict;

/// What one run came to.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The fault's name (`kill-9`, `nats-down`, …).
    pub fault: String,
    /// Requests acknowledged during the run.
    pub acknowledged: usize,
    /// The oracle's verdict over the stack's whole state after the run.
    pub verdict: Verdict,
    /// The longest time from a fault to the stack serving again.
    pub recovery: Duration,
    /// Run-specific figures (restarts, redeliveries, drains).
    pub details: Vec<String>,
    /// What the run itself saw go wrong (500 answers, failed requests, slow drains).
    pub problems: Vec<String>,
}

impl RunReport {
    /// Whether the run found nothing wrong.
    pub fn clean(&self) -> bool {
        self.verdict.lost == 0
            && self.verdict.duplicated == 0
            && self.verdict.findings.is_empty()
            && self.problems.is_empty()
    }

    /// The one line.
    pub fn line(&self) -> String {
        let mut details = self.details.clone();
        details.push(format!(
            "{} events applied, {} dead letters",
            self.verdict.events_applied, self.verdict.dead_letters
        ));
        if !self.problems.is_empty() {
            details.push(format!("{} problems", self.problems.len()));
        }
        format!(
            "chaos {}: acknowledged {}, lost {}, duplicated {}, recovery {:.1}s ({})",
            self.fault,
            self.acknowledged,
            self.verdict.lost,
            self.verdict.duplicated,
            self.recovery.as_secs_f64(),
            details.join("; ")
        )
    }

    /// The findings and problems, one per line, for a failing run.
    pub fn explain(&self) -> String {
        self.verdict
            .findings
            .iter()
            .chain(&self.problems)
            .map(|l| format!("  {l}\n"))
            .collect()
    }
}
