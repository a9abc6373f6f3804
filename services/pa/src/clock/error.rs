//! Why a clock cannot be computed: the stops contradict the rules. Each message names
//! the stop and, where one applies, the rule it breaks.

use jiff::civil::Date;

/// Why a clock cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// A stop before the day of receipt.
    #[error("{kind} on {from} is before the day of receipt {received}")]
    BeforeReceipt {
        /// Stop kind.
        kind: &'static str,
        /// Its start.
        from: Date,
        /// Day of receipt.
        received: Date,
    },
    /// A stop that ends before it starts.
    #[error("{kind} ends on {until}, before it starts on {from}")]
    EndsBeforeStart {
        /// Stop kind.
        kind: &'static str,
        /// Start.
        from: Date,
        /// End.
        until: Date,
    },
    /// A stop kind the procedure does not have.
    #[error("{kind} does not apply to procedure {procedure}")]
    NotAllowed {
        /// Stop kind.
        kind: &'static str,
        /// Procedure id.
        procedure: &'static str,
    },
    /// A stop allowed only once, given twice.
    #[error("{kind} is allowed only once ({citation})")]
    OnlyOnce {
        /// Stop kind.
        kind: &'static str,
        /// The rule.
        citation: &'static str,
    },
    /// A stop after the term had already expired.
    #[error("{kind} on {from} comes after the term expired on {due}")]
    AfterExpiry {
        /// Stop kind.
        kind: &'static str,
        /// Its start.
        from: Date,
        /// When the term had ended.
        due: Date,
    },
    /// A 10-bis notice sent after the term ended.
    #[error("10-bis notice sent on {sent}, after the term ended on {due} ({citation})")]
    NoticeAfterTerm {
        /// The outgoing protocol date.
        sent: Date,
        /// When the term had ended.
        due: Date,
        /// The rule that wants it within the term.
        citation: &'static str,
    },
    /// A 10-bis notice received before it was sent.
    #[error("10-bis notice received on {received}, before it was sent on {sent}")]
    ReceivedBeforeSent {
        /// The outgoing protocol date.
        sent: Date,
        /// The day of receipt given.
        received: Date,
    },
    /// Observations on a 10-bis notice whose receipt is not recorded.
    #[error(
        "observations on the 10-bis notice arrived on {observations}, but the day the notice was received is not recorded (PEC delivery receipt, return card or counter): the 10-day window counts from it (L. 241/1990 art. 10-bis)"
    )]
    ObservationsWithoutReceipt {
        /// Day of the observations.
        observations: Date,
    },
    /// Observations dated before the notice was received.
    #[error(
        "observations on {observations} are before the 10-bis notice was received on {received}"
    )]
    ObservationsBeforeReceipt {
        /// Day of receipt.
        received: Date,
        /// Day of the observations.
        observations: Date,
    },
    /// A SCIA order to conform that gives less than 30 days.
    #[error(
        "the order to conform gives {days} days to take the measures; L. 241/1990 art. 19 c. 3 requires at least 30"
    )]
    ConformTermTooShort {
        /// Days the order gives.
        days: u32,
    },
    /// A SUAP integration asked after the 30-day window.
    #[error(
        "integration requested on {from}, after the 30-day window ended on {window_end} (DPR 160/2010 art. 7 c. 1)"
    )]
    IntegrationTooLate {
        /// Day of the request.
        from: Date,
        /// Last day it could be asked.
        window_end: Date,
    },
    /// Warning share outside 1-99.
    #[error(
        "irregular request notified on {notified}, after the 10 days ending {limit} (DPR 184/2006 art. 6 c. 5): the term was not restarted"
    )]
    IrregularNoticeTooLate {
        /// Day of the notice.
        notified: Date,
        /// Last day it could be given.
        limit: Date,
    },
    #[error("warning percent {0} is not 1-99")]
    WarningPercent(u8),
    /// A date beyond what the calendar handles.
    #[error("date out of range")]
    OutOfRange,
}
