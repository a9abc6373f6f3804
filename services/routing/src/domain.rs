//! The enumerations routing stores and exchanges, each with its one text form in the
//! database and its parsing from requests (where 0, "unspecified", is refused by name).

use sportello_kit::ServiceError;
use sportello_proto::{
    common::v1::Channel,
    routing::v1::{CaseStatus, IncomingKind, OutgoingKind, Presence, PriorityCategory, Tier},
};

/// A protobuf enumeration stored as text.
pub trait Stored: Sized + Copy {
    /// The text in the database.
    fn to_db(self) -> &'static str;
    /// From the text in the database.
    fn from_db(text: &str) -> Option<Self>;
    /// From a request's enum field: unknown numbers and 0 (unspecified) are refused,
    /// naming `field`.
    fn from_request(raw: i32, field: &str) -> Result<Self, ServiceError>;
}

macro_rules! stored {
    ($enum:ty { $($variant:ident => $text:literal),* $(,)? }) => {
        impl Stored for $enum {
            fn to_db(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Unspecified => "unspecified",
                }
            }
            fn from_db(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
            fn from_request(raw: i32, field: &str) -> Result<Self, ServiceError> {
                match Self::try_from(raw) {
                    Ok(Self::Unspecified) => Err(ServiceError::invalid_field(field, "is required")),
                    Ok(value) => Ok(value),
                    Err(_) => Err(ServiceError::invalid_field(field, format!("{raw} is not a valid value"))),
                }
            }
        }
    };
}

pub(crate) use stored;

stored!(Channel {
    Counter => "counter",
    Appointment => "appointment",
    Web => "web",
    Phone => "phone",
    Email => "email",
    Pec => "pec",
});

stored!(Tier {
    InfoDesk => "1",
    Polivalente => "2",
    Tecnico => "3",
    BackOffice => "4",
});

stored!(PriorityCategory {
    None => "none",
    Disability => "disability",
    Pregnancy => "pregnancy",
    Elderly => "elderly",
    SmallChildren => "small_children",
    Withheld => "withheld",
});

stored!(CaseStatus {
    Waiting => "waiting",
    Pending => "pending",
    Called => "called",
    Parked => "parked",
    Completed => "completed",
    NoShow => "no_show",
    Cancelled => "cancelled",
});

stored!(Presence {
    Offline => "offline",
    Available => "available",
    Busy => "busy",
    WrapUp => "wrap_up",
    Break => "break",
    BackOffice => "back_office",
});

stored!(IncomingKind {
    Application => "application",
    Declaration => "declaration",
    Scia => "scia",
    Complaint => "complaint",
    Request => "request",
    Integration => "integration",
    Opinion => "opinion",
    Observations => "observations",
});

stored!(OutgoingKind {
    NoticeOfReasonsAgainst => "notice_of_reasons_against",
    Rejection => "rejection",
    OrderToConform => "order_to_conform",
    Decision => "decision",
    Communication => "communication",
    Receipt => "receipt",
    OpinionRequest => "opinion_request",
});

/// A tier as its number, 1-4.
pub fn tier_number(tier: Tier) -> i16 {
    tier as i16
}

/// A tier from its number.
pub fn tier_from_number(n: i16) -> Option<Tier> {
    Tier::try_from(i32::from(n))
        .ok()
        .filter(|t| *t != Tier::Unspecified)
}

/// Whether a priority category goes ahead of ordinary tickets.
pub fn is_priority(category: PriorityCategory) -> bool {
    !matches!(
        category,
        PriorityCategory::None | PriorityCategory::Unspecified
    )
}

/// What an event says of a priority: whether there is one, never its ground. Disability
/// and pregnancy are health data (GDPR art. 9), and an event reaches every consumer of
/// the stream; the ground stays in routing's database, for the counter that checks it.
pub fn withheld(category: PriorityCategory) -> PriorityCategory {
    if is_priority(category) {
        PriorityCategory::Withheld
    } else {
        PriorityCategory::None
    }
}

/// Reads a stored enum, turning an unknown text into a decode error.
pub fn decode<T: Stored>(text: &str) -> Result<T, sqlx::Error> {
    T::from_db(text)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown stored value {text:?}").into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_text() {
        for channel in [Channel::Counter, Channel::Web, Channel::Pec] {
            assert_eq!(Channel::from_db(channel.to_db()), Some(channel));
        }
        for status in [CaseStatus::Waiting, CaseStatus::NoShow, CaseStatus::Called] {
            assert_eq!(CaseStatus::from_db(status.to_db()), Some(status));
        }
        assert_eq!(
            tier_from_number(tier_number(Tier::BackOffice)),
            Some(Tier::BackOffice)
        );
    }

    #[test]
    fn unspecified_and_unknown_values_are_refused_by_name() {
        let error = PriorityCategory::from_request(0, "priority_category").unwrap_err();
        assert_eq!(error.violations()[0].field, "priority_category");
        assert!(Channel::from_request(42, "channel").is_err());
    }
}
