//! The procedures Sportello knows, each with the rule that sets its term.

use serde::{Deserialize, Serialize};

use super::{Outcome, Term};

/// A procedure whose statutory clock runs from the day of receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "procedure", rename_all = "snake_case")]
pub enum Procedure {
    /// Any procedure on application: the term its rule sets, 30 days by default
    /// (L. 241/1990 art. 2 c. 2); breach on expiry unless the rule provides silence-assent.
    Generic {
        /// The term.
        term: Term,
        /// Silence equals assent on expiry (L. 241/1990 art. 20).
        silence_assent: bool,
    },
    /// Change of residence, registration: the registrar records the declaration within
    /// 2 working days (DL 5/2012 art. 5 c. 3, conv. L. 35/2012).
    ResidenceRegistration,
    /// Change of residence, checks: 45 days from the declaration; then silence-assent,
    /// unless a notice of reasons against (art. 10-bis) was sent (DL 5/2012 art. 5 c. 3).
    ResidenceCheck,
    /// SCIA: controls within 60 days of receipt; on expiry the power to prohibit lapses
    /// (L. 241/1990 art. 19 c. 3).
    Scia,
    /// SCIA for building works: 30 days (L. 241/1990 art. 19 c. 6-bis).
    SciaBuilding,
    /// SUAP ordinary procedure: integration may be asked only within 30 days of receipt
    /// (DPR 160/2010 art. 7 c. 1); decision within 30 days (c. 2), from the integration's
    /// receipt when one was asked.
    SuapOrdinary,
    /// An opinion from another body: 20 days, after which the requester may proceed
    /// without it (L. 241/1990 art. 16 c. 1-2).
    Opinion,
    /// Assent between administrations: 30 days, then silence-assent (L. 241/1990
    /// art. 17-bis c. 1-2); 90 days for environment, landscape, cultural heritage and
    /// health (c. 3).
    Assent {
        /// Environment, landscape, heritage or health.
        sensitive: bool,
    },
}

impl Procedure {
    /// A stable identifier (`scia`, `residence_check`, …).
    pub fn id(&self) -> &'static str {
        match self {
            Procedure::Generic { .. } => "generic",
            Procedure::ResidenceRegistration => "residence_registration",
            Procedure::ResidenceCheck => "residence_check",
            Procedure::Scia => "scia",
            Procedure::SciaBuilding => "scia_building",
            Procedure::SuapOrdinary => "suap_ordinary",
            Procedure::Opinion => "opinion",
            Procedure::Assent { sensitive: false } => "assent",
            Procedure::Assent { sensitive: true } => "assent_sensitive",
        }
    }

    /// Parses an identifier; `generic` gets the default 30 days.
    pub fn from_id(id: &str) -> Option<Procedure> {
        Some(match id {
            "generic" => Procedure::Generic {
                term: Term::Days(30),
                silence_assent: false,
            },
            "residence_registration" => Procedure::ResidenceRegistration,
            "residence_check" => Procedure::ResidenceCheck,
            "scia" => Procedure::Scia,
            "scia_building" => Procedure::SciaBuilding,
            "suap_ordinary" => Procedure::SuapOrdinary,
            "opinion" => Procedure::Opinion,
            "assent" => Procedure::Assent { sensitive: false },
            "assent_sensitive" => Procedure::Assent { sensitive: true },
            _ => return None,
        })
    }

    /// All identifiers, for help texts.
    pub const IDS: &'static [&'static str] = &[
        "generic",
        "residence_registration",
        "residence_check",
        "scia",
        "scia_building",
        "suap_ordinary",
        "opinion",
        "assent",
        "assent_sensitive",
    ];

    /// The term from receipt.
    pub fn term(&self) -> Term {
        match self {
            Procedure::Generic { term, .. } => *term,
            Procedure::ResidenceRegistration => Term::WorkingDays(2),
            Procedure::ResidenceCheck => Term::Days(45),
            Procedure::Scia => Term::Days(60),
            Procedure::SciaBuilding => Term::Days(30),
            Procedure::SuapOrdinary => Term::Days(30),
            Procedure::Opinion => Term::Days(20),
            Procedure::Assent { sensitive: false } => Term::Days(30),
            Procedure::Assent { sensitive: true } => Term::Days(90),
        }
    }

    /// What happens when the term expires with no decision.
    pub fn outcome(&self) -> Outcome {
        match self {
            Procedure::Generic {
                silence_assent: true,
                ..
            } => Outcome::SilenceAssent,
            Procedure::Generic {
                silence_assent: false,
                ..
            } => Outcome::Breach,
            Procedure::ResidenceRegistration => Outcome::Breach,
            Procedure::ResidenceCheck => Outcome::SilenceAssent,
            Procedure::Scia | Procedure::SciaBuilding => Outcome::ControlsLapsed,
            Procedure::SuapOrdinary => Outcome::SilenceAssent,
            Procedure::Opinion => Outcome::ProceedWithout,
            Procedure::Assent { .. } => Outcome::SilenceAssent,
        }
    }

    /// The rule that sets the term, for display and audit.
    pub fn citation(&self) -> &'static str {
        match self {
            Procedure::Generic { .. } => {
                "L. 241/1990 art. 2 c. 2 (30 days unless a rule sets another term)"
            }
            Procedure::ResidenceRegistration => {
                "DL 5/2012 art. 5 c. 3: registration within 2 working days"
            }
            Procedure::ResidenceCheck => {
                "DL 5/2012 art. 5 c. 3: checks within 45 days, then silence-assent unless a 10-bis notice was sent"
            }
            Procedure::Scia => "L. 241/1990 art. 19 c. 3: controls within 60 days of receipt",
            Procedure::SciaBuilding => {
                "L. 241/1990 art. 19 c. 6-bis: building SCIA, controls within 30 days"
            }
            Procedure::SuapOrdinary => {
                "DPR 160/2010 art. 7 c. 1-2: integration within 30 days of receipt; decision within 30 days"
            }
            Procedure::Opinion => "L. 241/1990 art. 16 c. 1: opinions within 20 days",
            Procedure::Assent { sensitive: false } => {
                "L. 241/1990 art. 17-bis c. 1: assent within 30 days"
            }
            Procedure::Assent { sensitive: true } => {
                "L. 241/1990 art. 17-bis c. 3: environment, landscape, heritage, health: 90 days"
            }
        }
    }
}
