//! The municipality's published criteria for ranking applications (*criteri di
//! graduatoria*), one version per service and school year, and the points an
//! application's facts and declarations earn under them.
//!
//! The facts come from the registry (residence, the family's members) and the
//! declarations from the applicants (working parents, the household's ISEE value with
//! its DSU protocol number: DPR 445/2000 art. 46-47, sampled for checks under art. 71);
//! a disability counts only on an L. 104/1992 certification, which is health data and
//! never leaves the service. Each criterion's points stay inside the service: published,
//! a ranking shows only the total (per-criterion points would reveal disability or
//! income).

use sportello_kit::ServiceError;

/// Whole points.
pub type Points = u32;

/// Points for a household whose ISEE value is at most `up_to_cents` (`None`: any value
/// above the previous band, and an ISEE not declared).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IncomeBand {
    /// Upper bound, in euro cents, inclusive; `None` for the last band.
    pub up_to_cents: Option<i64>,
    /// Points of the band.
    pub points: Points,
}

/// One version of a service's criteria for a school year (stored with its window as
/// JSON, in these field names).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Criteria {
    /// Version, from 1: a ranking records the version it was computed with.
    pub version: u32,
    /// The child resides in the municipality (a registry fact).
    pub resident: Points,
    /// Points by working parents declared: none, one, both (a single parent who works
    /// counts as both).
    pub working_parents: [Points; 3],
    /// Per brother or sister already attending the service.
    pub sibling_enrolled: Points,
    /// At most this many siblings count.
    pub max_siblings: u8,
    /// The child has an L. 104/1992 certification.
    pub disability: Points,
    /// Income bands, ascending; the last one unbounded.
    pub income_bands: Vec<IncomeBand>,
}

impl Criteria {
    /// Checks the bands: ascending, non-negative, the last one (and only it) unbounded.
    pub fn check(&self) -> Result<(), ServiceError> {
        let bad = |why: &str| ServiceError::invalid_field("criteria.income_bands", why.to_owned());
        let Some((last, bounded)) = self.income_bands.split_last() else {
            return Err(bad("almeno una fascia / at least one band"));
        };
        if last.up_to_cents.is_some() {
            return Err(bad(
                "l'ultima fascia non ha limite superiore / the last band is unbounded",
            ));
        }
        let mut previous = -1;
        for band in bounded {
            match band.up_to_cents {
                Some(up_to) if up_to > previous => previous = up_to,
                _ => {
                    return Err(bad(
                        "limiti crescenti, solo l'ultima fascia senza limite / bounds ascending, \
                         only the last band unbounded",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The points of an ISEE value (`None`: not declared, the last band's).
    pub fn income_points(&self, isee_cents: Option<i64>) -> Points {
        let band = match isee_cents {
            Some(value) => self
                .income_bands
                .iter()
                .find(|b| b.up_to_cents.is_none_or(|up_to| value <= up_to)),
            None => self.income_bands.last(),
        };
        band.map_or(0, |b| b.points)
    }
}

/// What an application declares, and the registry's facts about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// Resident in the municipality (from the registry).
    pub resident: bool,
    /// Working parents: 0, 1 or 2.
    pub working_parents: u8,
    /// Brothers or sisters already attending the service.
    pub siblings_enrolled: u8,
    /// An L. 104/1992 certification (health data).
    pub disability: bool,
    /// The household's ISEE value in euro cents, if declared.
    pub isee_cents: Option<i64>,
}

impl Declared {
    /// Checks the declarations, naming the field.
    pub fn check(&self) -> Result<(), ServiceError> {
        if self.working_parents > 2 {
            return Err(ServiceError::invalid_field(
                "working_parents",
                "0, 1 o 2 / 0, 1 or 2",
            ));
        }
        if self.isee_cents.is_some_and(|v| v < 0) {
            return Err(ServiceError::invalid_field(
                "isee_value_cents",
                "un valore ISEE non è negativo / an ISEE value is not negative",
            ));
        }
        Ok(())
    }
}

/// The points an application earns, in all and by criterion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// The total: what a published ranking shows.
    pub total: Points,
    /// Each criterion's points, for the back office's review and objections only.
    pub by_criterion: Vec<(&'static str, Points)>,
}

/// Scores `declared` under `criteria`.
pub fn score(criteria: &Criteria, declared: &Declared) -> Score {
    let siblings = declared.siblings_enrolled.min(criteria.max_siblings);
    let by_criterion = vec![
        (
            "resident",
            if declared.resident {
                criteria.resident
            } else {
                0
            },
        ),
        (
            "working_parents",
            criteria.working_parents[usize::from(declared.working_parents.min(2))],
        ),
        (
            "siblings_enrolled",
            criteria.sibling_enrolled * Points::from(siblings),
        ),
        (
            "disability",
            if declared.disability {
                criteria.disability
            } else {
                0
            },
        ),
        ("income", criteria.income_points(declared.isee_cents)),
    ];
    Score {
        total: by_criterion.iter().map(|(_, p)| p).sum(),
        by_criterion,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A sample of published criteria (shaped on municipal nursery regulations): 10 for
    /// residence, 0/4/8 by working parents, 3 per sibling (up to 2), 12 for a
    /// disability, income 6/4/2/0 up to €8,000, €15,000, €25,000 and above.
    pub(crate) fn sample() -> Criteria {
        Criteria {
            version: 1,
            resident: 10,
            working_parents: [0, 4, 8],
            sibling_enrolled: 3,
            max_siblings: 2,
            disability: 12,
            income_bands: vec![
                IncomeBand {
                    up_to_cents: Some(800_000),
                    points: 6,
                },
                IncomeBand {
                    up_to_cents: Some(1_500_000),
                    points: 4,
                },
                IncomeBand {
                    up_to_cents: Some(2_500_000),
                    points: 2,
                },
                IncomeBand {
                    up_to_cents: None,
                    points: 0,
                },
            ],
        }
    }

    fn declared() -> Declared {
        Declared {
            resident: true,
            working_parents: 2,
            siblings_enrolled: 0,
            disability: false,
            isee_cents: Some(1_200_000),
        }
    }

    #[test]
    fn worked_example_of_a_score() {
        // Resident 10 + both parents working 8 + ISEE €12,000 (second band) 4 = 22.
        let s = score(&sample(), &declared());
        assert_eq!(s.total, 22);
        assert_eq!(
            s.by_criterion,
            [
                ("resident", 10),
                ("working_parents", 8),
                ("siblings_enrolled", 0),
                ("disability", 0),
                ("income", 4)
            ]
        );
        // Three siblings count as two: 6; a disability 12; no ISEE declared: 0.
        let other = Declared {
            resident: false,
            working_parents: 1,
            siblings_enrolled: 3,
            disability: true,
            isee_cents: None,
        };
        assert_eq!(score(&sample(), &other).total, 4 + 6 + 12);
    }

    #[test]
    fn a_band_includes_its_bound() {
        let c = sample();
        assert_eq!(c.income_points(Some(800_000)), 6);
        assert_eq!(c.income_points(Some(800_001)), 4);
        assert_eq!(c.income_points(Some(0)), 6);
        assert_eq!(c.income_points(Some(9_999_999_999)), 0);
        assert_eq!(c.income_points(None), 0);
    }

    #[test]
    fn bad_criteria_and_declarations_are_named() {
        let mut c = sample();
        c.income_bands.swap(0, 1);
        assert_eq!(
            c.check().unwrap_err().violations()[0].field,
            "criteria.income_bands"
        );
        let mut c = sample();
        c.income_bands.pop();
        assert!(c.check().is_err());
        assert!(sample().check().is_ok());

        let mut d = declared();
        d.isee_cents = Some(-1);
        assert_eq!(
            d.check().unwrap_err().violations()[0].field,
            "isee_value_cents"
        );
        let mut d = declared();
        d.working_parents = 3;
        assert_eq!(
            d.check().unwrap_err().violations()[0].field,
            "working_parents"
        );
    }
}
