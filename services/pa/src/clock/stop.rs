//! What stops a statutory clock: suspensions (the clock pauses and resumes with the
//! days it had left) and interruptions (the term starts again in full, or with the
//! term the rule gives, from a new day). Each kind carries its own rule.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// One event that stops the clock. Dates are the days things happened, in Rome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Stop {
    /// Suspension for information or certificates the office cannot obtain by itself:
    /// at most once, at most 30 days; the clock resumes when they arrive or, at the
    /// latest, after 30 days by itself (L. 241/1990 art. 2 c. 7).
    InformationRequest {
        /// Day the request was sent.
        from: Date,
        /// Day the information arrived (`None`: not yet; the 30 days apply).
        until: Option<Date>,
    },
    /// Notice of reasons against granting (*preavviso di rigetto*, L. 241/1990
    /// art. 10-bis as amended by DL 76/2020): suspends the term, which runs again
    /// 10 days after the citizen's observations or, without them, when the 10-day
    /// window for them ends.
    ReasonsAgainst {
        /// Day the citizen received the notice.
        from: Date,
        /// Day the observations arrived (`None`: none within the window).
        until: Option<Date>,
    },
    /// SCIA order to conform (L. 241/1990 art. 19 c. 3): the reasoned order interrupts
    /// the control term, which starts again in full from the day the citizen reports
    /// the measures taken.
    SciaConformOrder {
        /// Day of the order.
        from: Date,
        /// Day the citizen reported the measures (`None`: not yet).
        until: Option<Date>,
    },
    /// SUAP integration request (DPR 160/2010 art. 7 c. 1-2): allowed only within 30
    /// days of receipt; the 30-day decision term restarts from the integration's receipt.
    SuapIntegration {
        /// Day of the request.
        from: Date,
        /// Day the integration arrived (`None`: not yet).
        until: Option<Date>,
    },
    /// Request for further elements by the body asked for an opinion or an assent:
    /// interrupts once; the opinion is then due within 15 days of the elements
    /// (L. 241/1990 art. 16 c. 4), the assent within 30 (art. 17-bis c. 1).
    InstructionRequest {
        /// Day of the request.
        from: Date,
        /// Day the elements arrived (`None`: not yet).
        until: Option<Date>,
    },
}

impl Stop {
    /// A stable identifier, as used on the command line.
    pub fn kind_id(&self) -> &'static str {
        match self {
            Stop::InformationRequest { .. } => "information",
            Stop::ReasonsAgainst { .. } => "reasons-against",
            Stop::SciaConformOrder { .. } => "scia-conform",
            Stop::SuapIntegration { .. } => "integration",
            Stop::InstructionRequest { .. } => "instruction",
        }
    }

    /// All kind identifiers.
    pub const KIND_IDS: &'static [&'static str] = &[
        "information",
        "reasons-against",
        "scia-conform",
        "integration",
        "instruction",
    ];

    /// Builds a stop from its identifier and dates.
    pub fn from_kind(kind: &str, from: Date, until: Option<Date>) -> Option<Stop> {
        Some(match kind {
            "information" => Stop::InformationRequest { from, until },
            "reasons-against" | "10-bis" => Stop::ReasonsAgainst { from, until },
            "scia-conform" => Stop::SciaConformOrder { from, until },
            "integration" => Stop::SuapIntegration { from, until },
            "instruction" => Stop::InstructionRequest { from, until },
            _ => return None,
        })
    }

    /// When it began.
    pub fn from(&self) -> Date {
        match *self {
            Stop::InformationRequest { from, .. }
            | Stop::ReasonsAgainst { from, .. }
            | Stop::SciaConformOrder { from, .. }
            | Stop::SuapIntegration { from, .. }
            | Stop::InstructionRequest { from, .. } => from,
        }
    }

    /// When it ended, if it has.
    pub fn until(&self) -> Option<Date> {
        match *self {
            Stop::InformationRequest { until, .. }
            | Stop::ReasonsAgainst { until, .. }
            | Stop::SciaConformOrder { until, .. }
            | Stop::SuapIntegration { until, .. }
            | Stop::InstructionRequest { until, .. } => until,
        }
    }

    /// The rule it applies.
    pub fn citation(&self) -> &'static str {
        match self {
            Stop::InformationRequest { .. } => "L. 241/1990 art. 2 c. 7",
            Stop::ReasonsAgainst { .. } => "L. 241/1990 art. 10-bis",
            Stop::SciaConformOrder { .. } => "L. 241/1990 art. 19 c. 3",
            Stop::SuapIntegration { .. } => "DPR 160/2010 art. 7 c. 1-2",
            Stop::InstructionRequest { .. } => "L. 241/1990 art. 16 c. 4 / art. 17-bis c. 1",
        }
    }
}
