//! A ranking (*graduatoria*): the applications in the order places are offered, and the
//! form it is published in.
//!
//! The order, every step documented so that anyone can check a position:
//! 1. regular applicants before early entrants (pre-school: DPR 89/2009 art. 2 c. 2 admits
//!    children who turn three between January and April only once the others are placed);
//! 2. the total score, higher first;
//! 3. on equal scores, the lower ISEE value first (a declared value before none);
//! 4. then the older child first (the earlier birth date);
//! 5. then the earlier filing (the protocol register's order);
//! 6. and last the application code, so the order is total and the same on every run.
//!
//! Published (on the municipality's site and as open data) a ranking shows only the
//! position, the application code and the total: no name, no birth date, no
//! per-criterion points (which would reveal a disability or an income band).

use std::cmp::Ordering;

use jiff::civil::Date;

use super::{
    age::Entry,
    criteria::{Points, Score},
};

/// An application as the ranking weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The application's public code (what the family reads on its receipt).
    pub code: String,
    /// Regular or early entrant.
    pub entry: Entry,
    /// Its score under the criteria's version.
    pub score: Score,
    /// The household's ISEE value in euro cents, if declared (ties only).
    pub isee_cents: Option<i64>,
    /// The child's birth date (ties only).
    pub birth: Date,
    /// The application's place in the protocol register's order (ties only).
    pub filed: i64,
}

/// A candidate's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// 1-based.
    pub position: u32,
    /// The candidate.
    pub candidate: Candidate,
}

fn entry_rank(entry: Entry) -> u8 {
    match entry {
        Entry::Regular => 0,
        Entry::Early => 1,
    }
}

/// The ranking's order between two candidates (see the module's documentation).
pub fn order(a: &Candidate, b: &Candidate) -> Ordering {
    entry_rank(a.entry)
        .cmp(&entry_rank(b.entry))
        .then_with(|| b.score.total.cmp(&a.score.total))
        .then_with(|| match (a.isee_cents, b.isee_cents) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| a.birth.cmp(&b.birth))
        .then_with(|| a.filed.cmp(&b.filed))
        .then_with(|| a.code.cmp(&b.code))
}

/// Ranks the candidates.
pub fn rank(mut candidates: Vec<Candidate>) -> Vec<Ranked> {
    candidates.sort_by(order);
    candidates
        .into_iter()
        .zip(1..)
        .map(|(candidate, position)| Ranked {
            position,
            candidate,
        })
        .collect()
}

/// One published row: nothing but the position, the code and the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedRow {
    /// 1-based position.
    pub position: u32,
    /// Application code.
    pub code: String,
    /// Total score.
    pub total: Points,
}

/// The published form of a ranking.
pub fn published(ranked: &[Ranked]) -> Vec<PublishedRow> {
    ranked
        .iter()
        .map(|r| PublishedRow {
            position: r.position,
            code: r.candidate.code.clone(),
            total: r.candidate.score.total,
        })
        .collect()
}

/// The published ranking as open data: CSV (RFC 4180, `;`-separated as Italian
/// spreadsheets read it), a header row, one row per place.
pub fn open_data_csv(rows: &[PublishedRow]) -> String {
    let mut csv = String::from("posizione;codice_domanda;punteggio\r\n");
    for row in rows {
        // Codes are generated ([A-Z0-9-]): nothing to quote.
        csv.push_str(&format!("{};{};{}\r\n", row.position, row.code, row.total));
    }
    csv
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;
    use crate::enrolment::criteria::{Declared, score, tests::sample};

    fn candidate(code: &str, declared: Declared, birth: Date, filed: i64) -> Candidate {
        Candidate {
            code: code.into(),
            entry: Entry::Regular,
            isee_cents: declared.isee_cents,
            score: score(&sample(), &declared),
            birth,
            filed,
        }
    }

    fn declared(working_parents: u8, isee_cents: Option<i64>) -> Declared {
        Declared {
            resident: true,
            working_parents,
            siblings_enrolled: 0,
            disability: false,
            isee_cents,
        }
    }

    /// Worked example: five applications under the sample criteria.
    /// - A: both working, ISEE €12,000 → 10 + 8 + 4 = 22
    /// - B: both working, ISEE €20,000 → 10 + 8 + 2 = 20
    /// - C: one working, ISEE €7,000 → 10 + 4 + 6 = 20 (ties with B: lower ISEE first)
    /// - D: both working, ISEE €12,000, younger than A → 22 (ties with A: older first)
    /// - E: early entrant with 30 points → after every regular applicant
    #[test]
    fn worked_example_with_ties() {
        let a = candidate("NI-0001", declared(2, Some(1_200_000)), date(2025, 3, 1), 4);
        let b = candidate("NI-0002", declared(2, Some(2_000_000)), date(2025, 1, 1), 1);
        let c = candidate("NI-0003", declared(1, Some(700_000)), date(2025, 6, 1), 3);
        let d = candidate("NI-0004", declared(2, Some(1_200_000)), date(2025, 5, 1), 2);
        let mut e = candidate("NI-0005", declared(2, Some(100_000)), date(2025, 2, 1), 5);
        e.entry = Entry::Early;
        e.score.total = 30;
        assert_eq!(a.score.total, 22);
        assert_eq!(b.score.total, 20);
        assert_eq!(c.score.total, 20);

        let ranked = rank(vec![e, d, c, b, a]);
        let codes: Vec<(u32, &str)> = ranked
            .iter()
            .map(|r| (r.position, r.candidate.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                (1, "NI-0001"),
                (2, "NI-0004"),
                (3, "NI-0003"),
                (4, "NI-0002"),
                (5, "NI-0005")
            ]
        );
    }

    #[test]
    fn equal_in_everything_but_filing_order_then_code() {
        let first = candidate("NI-0009", declared(2, None), date(2025, 3, 1), 1);
        let second = candidate("NI-0001", declared(2, None), date(2025, 3, 1), 2);
        let ranked = rank(vec![second.clone(), first.clone()]);
        assert_eq!(ranked[0].candidate, first);
        let mut same = second.clone();
        same.code = "NI-0000".into();
        let ranked = rank(vec![second, same]);
        assert_eq!(ranked[0].candidate.code, "NI-0000");
        // A declared ISEE goes before none on equal points.
        let undeclared = candidate("NI-0002", declared(2, None), date(2020, 1, 1), 1);
        let mut declared_high =
            candidate("NI-0003", declared(2, Some(9_000_000)), date(2025, 1, 1), 9);
        declared_high.score.total = undeclared.score.total;
        assert_eq!(
            rank(vec![undeclared, declared_high])[0].candidate.code,
            "NI-0003"
        );
    }

    #[test]
    fn the_published_form_shows_position_code_and_total_only() {
        let ranked = rank(vec![candidate(
            "NI-0001",
            Declared {
                resident: true,
                working_parents: 2,
                siblings_enrolled: 1,
                disability: true,
                isee_cents: Some(123_456),
            },
            date(2025, 3, 1),
            1,
        )]);
        let csv = open_data_csv(&published(&ranked));
        assert_eq!(
            csv,
            "posizione;codice_domanda;punteggio\r\n1;NI-0001;39\r\n"
        );
        for secret in ["2025", "1234", "disab", "104", "isee"] {
            assert!(!csv.to_lowercase().contains(secret), "{secret} in {csv}");
        }
    }
}
