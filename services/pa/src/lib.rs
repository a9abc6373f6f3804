//! Italian public-administration rules as pure functions, for every Sportello service.
//!
//! * [`fiscal_code`]: the personal fiscal code (parse, decode, encode, omocodia, compare)
//!   and the 11-digit provisional code;
//! * [`birthplace`]: Belfiore codes of municipalities (ceased ones too) and countries;
//! * [`vat`]: the VAT number (*partita IVA*);
//! * [`pagopa`]: pagoPA notice numbers and IUVs;
//! * [`plate`]: vehicle plates, with every candidate when formats share a shape;
//! * [`calendar`]: national holidays, patron days, closures, working days, Europe/Rome;
//! * [`clock`]: statutory terms with suspensions and interruptions, and what their end
//!   brings (silence-assent, or not).
//!
//! Nothing here does I/O or reads the clock: "today" is always a parameter, so every
//! answer is a function of its inputs and every test is reproducible.

pub mod birthplace;
pub mod calendar;
pub mod clock;
pub mod fiscal_code;
pub mod pagopa;
pub mod plate;
pub mod vat;

pub use birthplace::{BelfioreCode, Birthplace};
pub use calendar::Calendar;
pub use clock::{ClockOptions, Deadline, Matter, Outcome, Procedure, Stop, Term, deadline};
pub use fiscal_code::{CodiceFiscale, PersonCode, Sex};
pub use pagopa::{Iuv, NoticeNumber};
pub use plate::{Plate, PlateKind, Recognition};
pub use vat::PartitaIva;
