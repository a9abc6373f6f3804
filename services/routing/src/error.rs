//! Routing's error table: every failure of routing, and the kind callers see — one place,
//! so gRPC codes (and the gateway's HTTP statuses) stay consistent.

use sportello_kit::{ErrorKind, MunicipalityCode, ServiceError};

/// A routing failure.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// A request field is invalid.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A site with this code already exists in the municipality.
    #[error("site {code} already exists in municipality {municipality}")]
    SiteExists {
        /// The municipality.
        municipality: MunicipalityCode,
        /// The site's code.
        code: String,
    },
    /// No such site.
    #[error("site not found")]
    SiteNotFound,
    /// No such counter at the site.
    #[error("counter {0} does not exist at this site")]
    CounterNotFound(i16),
    /// Someone else works at that counter.
    #[error("counter {0} is taken by another operator")]
    CounterTaken(i16),
    /// The record changed since the caller read it.
    #[error("the {what} was changed by someone else: read it again")]
    StaleVersion {
        /// What kind of record.
        what: &'static str,
    },
    /// No such service type in the municipality's catalogue.
    #[error("unknown service {0}")]
    UnknownService(String),
    /// The service type is not offered now.
    #[error("service {0} is not offered now")]
    ServiceInactive(String),
    /// The service cannot be requested through that channel.
    #[error("service {service} cannot be requested by {channel}")]
    ChannelNotAllowed {
        /// The service.
        service: String,
        /// The channel.
        channel: &'static str,
    },
    /// No such service group in the municipality.
    #[error("unknown service group {0}")]
    UnknownGroup(String),
    /// Another group already uses the letter.
    #[error("ticket letter {0} is already used by another service group")]
    LetterTaken(String),
    /// The site does not serve the group.
    #[error("service group {0} is not served at this site")]
    GroupNotServed(String),
    /// No such operator.
    #[error("operator not found")]
    OperatorNotFound,
    /// No such back-office item.
    #[error("work item not found")]
    WorkNotFound,
    /// The item is offered to another specialist.
    #[error("this item is offered to another specialist")]
    OfferedToAnother,
    /// The item is not offered to the caller now (the offer lapsed, or was never made).
    #[error("this item is not offered to you now: the offer lapsed or went to someone else")]
    NoOffer,
    /// The caller does not hold the item.
    #[error("only the specialist who holds this item can do this")]
    NotHolder,
    /// The item is closed.
    #[error("this item is already {0}")]
    WorkClosed(&'static str),
    /// The specialist holds as many items as they may.
    #[error("you hold {0} items, your capacity: complete one first")]
    AtCapacity(i64),
    /// The operator id belongs to another municipality: an operator never moves.
    #[error("operator {0} belongs to another municipality: an operator never moves to another one")]
    OperatorOfAnotherMunicipality(String),
    /// The operator has no seat.
    #[error("the operator is not seated at a counter: sit at one first")]
    NotSeated,
    /// The operator's presence does not allow the action.
    #[error("the operator is {presence}: {hint}")]
    WrongPresence {
        /// Presence now.
        presence: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// The operator lacks the skill, proficiency or tier the service needs.
    #[error("the operator may not serve {0}: skill, proficiency or tier missing")]
    LacksSkill(String),
    /// The operator holds another case.
    #[error("the operator already holds another case: complete, park or transfer it first")]
    AlreadyHolding,
    /// No such case.
    #[error("case not found")]
    CaseNotFound,
    /// The case is held by someone else, or by nobody.
    #[error("the operator does not hold this case")]
    NotHolding,
    /// The case's status does not allow the action.
    #[error("the case is {status}: {hint}")]
    WrongStatus {
        /// Status now.
        status: &'static str,
        /// What is allowed.
        hint: &'static str,
    },
    /// The case or ticket belongs to another site.
    #[error("the ticket is at another site")]
    OtherSite,
    /// Recalled as often as the site allows.
    #[error("already called {0} times, the site's limit: mark it a no-show")]
    RecallLimit(i16),
    /// Not yet called as often as the site requires before a no-show.
    #[error("called {calls} of {required} times: call again before marking a no-show")]
    NoShowTooEarly {
        /// Calls made.
        calls: i16,
        /// Calls required.
        required: i16,
    },
    /// No such ticket.
    #[error("ticket not found")]
    TicketNotFound,
    /// All 999 numbers of a letter were used today.
    #[error("no ticket numbers left today for letter {0}")]
    TicketsExhausted(String),
    /// No such registration.
    #[error("registration not found")]
    RegistrationNotFound,
    /// Voided already.
    #[error("the registration was voided already")]
    AlreadyVoided,
    /// The slot was booked by someone else first (the exclusion constraints decided).
    #[error(
        "questo orario è già stato prenotato: sceglierne un altro / this slot is already booked: choose another"
    )]
    SlotTaken,
    /// A booking cap is reached.
    #[error(
        "limite di prenotazioni raggiunto ({rule} = {limit}) / booking cap reached ({rule} = {limit})"
    )]
    CapReached {
        /// The rule, as BookingRules names it.
        rule: &'static str,
        /// Its value.
        limit: i64,
    },
    /// No such booking (or not the caller's).
    #[error("prenotazione non trovata / booking not found")]
    BookingNotFound,
    /// The booking's status does not allow the action.
    #[error("la prenotazione è {status}: {hint}")]
    BookingState {
        /// Status now, as stored.
        status: &'static str,
        /// What to do, Italian and English.
        hint: &'static str,
    },
    /// The person is already in line for the service.
    #[error(
        "sei già in lista d'attesa per questo servizio / already on the waiting list for this service"
    )]
    AlreadyWaiting,
    /// No such place in a waitlist (or not the caller's).
    #[error("posto in lista d'attesa non trovato / waiting-list entry not found")]
    WaitlistNotFound,
    /// Outside the check-in window.
    #[error("{0}")]
    CheckInWindow(String),
    /// Online booking needs the e-mail seam (`SMTP_URL`).
    #[error("e-mail is not configured (SMTP_URL)")]
    MailNotConfigured,
    /// A correspondent's name could not be sealed or opened (a key missing from
    /// `PROTOCOL_NAME_KEYS`, a tampered value). Internal: the cause is logged, never
    /// the name.
    #[error(transparent)]
    Sealing(#[from] crate::protocol::sealed::SealError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl RoutingError {
    /// A name that could not be sealed or opened.
    pub fn sealing(error: crate::protocol::sealed::SealError) -> Self {
        Self::Sealing(error)
    }

    /// A booking whose status forbids the action.
    pub fn booking_is(
        status: sportello_proto::routing::v1::BookingStatus,
        hint: &'static str,
    ) -> Self {
        Self::BookingState {
            status: crate::domain::Stored::to_db(status),
            hint,
        }
    }

    /// An invalid field.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    fn kind(&self) -> ErrorKind {
        use RoutingError::*;
        match self {
            Invalid { .. } => ErrorKind::InvalidArgument,
            SiteNotFound | CounterNotFound(_) | UnknownService(_) | UnknownGroup(_)
            | OperatorNotFound | CaseNotFound | TicketNotFound | RegistrationNotFound
            | WorkNotFound | BookingNotFound | WaitlistNotFound => ErrorKind::NotFound,
            SiteExists { .. } | LetterTaken(_) | SlotTaken | AlreadyWaiting => {
                ErrorKind::AlreadyExists
            }
            CapReached { .. } => ErrorKind::ResourceExhausted,
            MailNotConfigured => ErrorKind::Unavailable,
            StaleVersion { .. } => ErrorKind::Aborted,
            LacksSkill(_)
            | NotHolding
            | OperatorOfAnotherMunicipality(_)
            | OfferedToAnother
            | NotHolder => ErrorKind::PermissionDenied,
            TicketsExhausted(_) => ErrorKind::ResourceExhausted,
            CounterTaken(_)
            | ServiceInactive(_)
            | ChannelNotAllowed { .. }
            | GroupNotServed(_)
            | NotSeated
            | WrongPresence { .. }
            | AlreadyHolding
            | WrongStatus { .. }
            | OtherSite
            | RecallLimit(_)
            | NoShowTooEarly { .. }
            | AlreadyVoided
            | NoOffer
            | WorkClosed(_)
            | AtCapacity(_)
            | BookingState { .. }
            | CheckInWindow(_) => ErrorKind::FailedPrecondition,
            Sealing(_) | Db(_) => ErrorKind::Internal,
        }
    }
}

impl From<RoutingError> for ServiceError {
    fn from(error: RoutingError) -> Self {
        match error {
            RoutingError::Db(db) => db.into(),
            RoutingError::Sealing(error) => ServiceError::internal(error),
            RoutingError::Invalid { field, reason } => ServiceError::invalid_field(field, reason),
            other => ServiceError::new(other.kind(), other.to_string()),
        }
    }
}

impl From<RoutingError> for tonic::Status {
    fn from(error: RoutingError) -> Self {
        ServiceError::from(error).into()
    }
}
