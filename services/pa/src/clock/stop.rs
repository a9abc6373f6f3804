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
    /// art. 10-bis as amended by DL 76/2020). It has two dates: the day it is sent
    /// (the outgoing protocol date), which must fall within the term (for a change of
    /// residence, within the 45 days: DPR 223/1989 art. 18-bis c. 1) and from which
    /// the term is suspended; and the day the applicant receives it, from which the
    /// 10 days for observations count. The term runs again 10 days after the
    /// observations or, without them, when the 10-day window ends. Until the receipt
    /// is recorded no window runs and the term stays suspended.
    ReasonsAgainst {
        /// Day the notice was sent (outgoing protocol date).
        sent: Date,
        /// Day the applicant received it: PEC delivery receipt, return card, or handed
        /// over at the counter (`None`: not recorded yet).
        received: Option<Date>,
        /// Day the observations arrived (`None`: none so far).
        observations: Option<Date>,
    },
    /// SCIA order to conform (L. 241/1990 art. 19 c. 3): the reasoned order interrupts
    /// the control term, which starts again in full from the day the citizen reports
    /// the measures taken; it gives at least 30 days to take them, and without them the
    /// activity is prohibited when those days end.
    SciaConformOrder {
        /// Day of the order.
        from: Date,
        /// Days the order gives to take the measures (at least 30).
        days: u32,
        /// Day the citizen reported the measures (`None`: not yet).
        until: Option<Date>,
    },
    /// SUAP integration request (DPR 160/2010 art. 7 c. 1-2): allowed only within 30
    /// days of receipt; the 30-day decision term then runs from the later of the
    /// window's end and the integration's arrival.
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
    /// An irregular or incomplete request for access to documents, notified to the
    /// requester within 10 days of receipt: the term starts again from the day the
    /// corrected request arrives (DPR 184/2006 art. 6 c. 5).
    IrregularRequest {
        /// Day the requester was notified.
        notified: Date,
        /// Day the corrected request arrived (`None`: not yet; no term runs).
        corrected: Option<Date>,
    },
    /// Civic access: the counter-interested parties were sent the request; the term is
    /// suspended until their objection or, without one, until their 10 days from
    /// receipt end (D.Lgs 33/2013 art. 5 c. 5).
    CounterInterested {
        /// Day they received the communication.
        notified: Date,
        /// Day the (last) objection arrived (`None`: none).
        objection: Option<Date>,
    },
    /// Review of a civic access refused to protect personal data: the Garante is
    /// consulted and the term suspended until its opinion, at most 10 days (D.Lgs
    /// 33/2013 art. 5 c. 7).
    GaranteOpinion {
        /// Day the opinion was asked.
        asked: Date,
        /// Day it arrived (`None`: not yet; the 10 days apply).
        given: Option<Date>,
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
            Stop::IrregularRequest { .. } => "irregular-request",
            Stop::CounterInterested { .. } => "counter-interested",
            Stop::GaranteOpinion { .. } => "garante",
        }
    }

    /// All kind identifiers.
    pub const KIND_IDS: &'static [&'static str] = &[
        "information",
        "reasons-against",
        "scia-conform",
        "integration",
        "instruction",
        "irregular-request",
        "counter-interested",
        "garante",
    ];

    /// When it began: for a 10-bis notice, the day it was sent.
    pub fn from(&self) -> Date {
        match *self {
            Stop::InformationRequest { from, .. }
            | Stop::SciaConformOrder { from, .. }
            | Stop::SuapIntegration { from, .. }
            | Stop::InstructionRequest { from, .. } => from,
            Stop::ReasonsAgainst { sent, .. } => sent,
            Stop::IrregularRequest { notified, .. } | Stop::CounterInterested { notified, .. } => {
                notified
            }
            Stop::GaranteOpinion { asked, .. } => asked,
        }
    }

    /// When the other party answered, if it has: for a 10-bis notice, the day of the
    /// observations.
    pub fn until(&self) -> Option<Date> {
        match *self {
            Stop::InformationRequest { until, .. }
            | Stop::SciaConformOrder { until, .. }
            | Stop::SuapIntegration { until, .. }
            | Stop::InstructionRequest { until, .. } => until,
            Stop::ReasonsAgainst { observations, .. } => observations,
            Stop::IrregularRequest { corrected, .. } => corrected,
            Stop::CounterInterested { objection, .. } => objection,
            Stop::GaranteOpinion { given, .. } => given,
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
            Stop::IrregularRequest { .. } => "DPR 184/2006 art. 6 c. 5",
            Stop::CounterInterested { .. } => "D.Lgs 33/2013 art. 5 c. 5",
            Stop::GaranteOpinion { .. } => "D.Lgs 33/2013 art. 5 c. 7",
        }
    }

    /// What the clock waits for while this stop has no answer.
    pub fn awaiting(&self) -> &'static str {
        match self {
            Stop::InformationRequest { .. } => "the information requested",
            Stop::ReasonsAgainst { received: None, .. } => "the day the notice was received",
            Stop::ReasonsAgainst { .. } => "the applicant's observations",
            Stop::SciaConformOrder { .. } => "the report of the measures taken",
            Stop::SuapIntegration { .. } => "the integration",
            Stop::InstructionRequest { .. } => "the elements requested",
            Stop::IrregularRequest { .. } => "the corrected request",
            Stop::CounterInterested { .. } => "the counter-interested parties' objection",
            Stop::GaranteOpinion { .. } => "the Garante's opinion",
        }
    }
}

/// The applicant's window to present observations on a 10-bis notice
/// (L. 241/1990 art. 10-bis): 10 days from the day the notice was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ObservationWindow {
    /// Day the notice was sent.
    pub sent: Date,
    /// Day it was received; `None`: not recorded, and then no window runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<Date>,
    /// Last day for observations: receipt + 10 days, moved past a holiday like any term
    /// (art. 2963 c.c., art. 155 c.p.c.). `None` until the receipt is recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends: Option<Date>,
}
