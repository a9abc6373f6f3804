//! The occupation's event types (subjects `<prefix>.suap.occupation.*`).
//!
//! Emitted with `emit_as` rather than through the proto crate's catalogue, so this area
//! adds no line to a file other areas edit; moving them into the catalogue later changes
//! no subject.

/// An occupation was applied for.
pub const REQUESTED: &str = "suap.occupation.requested";
/// Granted; the canone awaits payment.
pub const GRANTED: &str = "suap.occupation.granted";
/// Paid: the permit is valid.
pub const VALIDATED: &str = "suap.occupation.validated";
/// Revoked: the place is free.
pub const REVOKED: &str = "suap.occupation.revoked";
/// Its period ended.
pub const EXPIRED: &str = "suap.occupation.expired";
/// A new version of a year's tariffs.
pub const TARIFFS_PUBLISHED: &str = "suap.occupation.tariffs_published";
