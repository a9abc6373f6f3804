//! The debt position as pagoPA's GPD knows it, parsed once at the edge.

use std::{fmt, str::FromStr};

use jiff::{Timestamp, civil::Date};
use sportello_pa::pagopa::{Iuv, NoticeNumber};

use crate::domain::MunicipalityCode;

/// A creditor organisation's fiscal code (*codice fiscale dell'ente creditore*): 11 digits.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct CreditorFiscalCode(String);

impl CreditorFiscalCode {
    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CreditorFiscalCode {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() == 11 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(
                "il codice fiscale di un ente ha 11 cifre / an organisation's fiscal code has 11 digits",
            )
        }
    }
}

impl fmt::Display for CreditorFiscalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A service's *codice segregazione*: two digits that open every IUV it creates (notice
/// numbers with aux digit 3), so that the IUVs of two departments of one creditor never
/// collide even though each draws its own sequence.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SegregationCode([u8; 2]);

impl SegregationCode {
    /// The two digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("00")
    }
}

impl FromStr for SegregationCode {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().as_bytes() {
            [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Ok(Self([*a, *b])),
            _ => Err("il codice segregazione ha 2 cifre / the segregation code has 2 digits"),
        }
    }
}

/// Whether the debtor is a natural person (`F`, *fisica*) or a legal one (`G`,
/// *giuridica*), as GPD's `type` says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DebtorKind {
    /// A person: the fiscal code is 16 characters.
    Person,
    /// A company or body: the fiscal code is 11 digits.
    Legal,
}

impl DebtorKind {
    /// GPD's letter.
    pub fn gpd_type(self) -> &'static str {
        match self {
            Self::Person => "F",
            Self::Legal => "G",
        }
    }
}

/// Who owes: personal data. It goes to pagoPA (which prints it on the notice) and nowhere
/// else — never into an event, a log line, a span or the service's own position table —
/// so `Debug` shows only the kind.
#[derive(Clone, PartialEq, Eq)]
pub struct Debtor {
    kind: DebtorKind,
    fiscal_code: String,
    full_name: String,
}

impl fmt::Debug for Debtor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debtor")
            .field("kind", &self.kind)
            .field("fiscal_code", &"<redacted>")
            .field("full_name", &"<redacted>")
            .finish()
    }
}

/// Why a debtor is refused; names the field, never echoes the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct DebtorError {
    /// `fiscal_code` or `full_name`.
    pub field: &'static str,
    /// Italian, then English.
    pub reason: &'static str,
}

impl Debtor {
    /// A debtor, checked only as far as GPD checks it: a 16-character personal or an
    /// 11-digit legal fiscal code (the caller has parsed a person's code with the PA
    /// library already), and a name of 1-70 characters.
    pub fn new(kind: DebtorKind, fiscal_code: &str, full_name: &str) -> Result<Self, DebtorError> {
        let code = fiscal_code.trim().to_ascii_uppercase();
        let code_ok = match kind {
            DebtorKind::Person => {
                code.len() == 16 && code.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            DebtorKind::Legal => code.len() == 11 && code.bytes().all(|b| b.is_ascii_digit()),
        };
        if !code_ok {
            return Err(DebtorError {
                field: "fiscal_code",
                reason: "16 caratteri per una persona, 11 cifre per un ente / 16 characters for a person, 11 digits for a body",
            });
        }
        let name = full_name.trim();
        if name.is_empty() || name.chars().count() > 70 {
            return Err(DebtorError {
                field: "full_name",
                reason: "da 1 a 70 caratteri / 1 to 70 characters",
            });
        }
        Ok(Self {
            kind,
            fiscal_code: code,
            full_name: name.to_owned(),
        })
    }

    /// Person or body.
    pub fn kind(&self) -> DebtorKind {
        self.kind
    }

    /// The fiscal code, for the request to pagoPA only.
    pub fn fiscal_code(&self) -> &str {
        &self.fiscal_code
    }

    /// The name, for the request to pagoPA only.
    pub fn full_name(&self) -> &str {
        &self.full_name
    }
}

/// The creditor as pagoPA knows it: its fiscal code, the name printed on notices and the
/// account the money goes to.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Creditor {
    /// The creditor's fiscal code.
    pub fiscal_code: CreditorFiscalCode,
    /// The IBAN registered with pagoPA for this creditor.
    pub iban: String,
    /// The name printed on the notice (`companyName`), e.g. "Comune della Spezia".
    pub name: String,
}

/// The one payment option of a position (Sportello never splits a payment into
/// instalments): amount, due date, reason and the IUV with its notice number.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentOption {
    /// In euro cents, at least 1.
    pub amount_cents: i64,
    /// The last day to pay (Europe/Rome).
    pub due_date: Date,
    /// The reason printed on the notice (`description`, at most 140 characters).
    pub description: String,
    /// The notice number; its IUV is the option's IUV.
    pub notice_number: NoticeNumber,
}

impl PaymentOption {
    /// The IUV inside the notice number.
    pub fn iuv(&self) -> Iuv {
        self.notice_number.iuv()
    }
}

/// A debt position (*posizione debitoria*) as it is sent to GPD.
#[derive(Clone, Debug)]
pub struct DebtPosition {
    /// The position's unique id at the creditor (IUPD).
    pub iupd: String,
    /// Who is owed.
    pub creditor: Creditor,
    /// Who owes (redacted in `Debug`).
    pub debtor: Debtor,
    /// The *tassonomia* code of the service the money is for (GPD's transfer
    /// `category`), e.g. `9/0101108TS/`.
    pub taxonomy: String,
    /// The payment option.
    pub option: PaymentOption,
}

/// The notice the person pays: what the department prints or sends.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Notice {
    /// The position's IUPD.
    pub iupd: String,
    /// The IUV.
    pub iuv: Iuv,
    /// The 18-digit notice number.
    pub notice_number: NoticeNumber,
    /// In euro cents.
    pub amount_cents: i64,
    /// The last day to pay (Europe/Rome).
    pub due_date: Date,
}

/// Where a position stands at pagoPA.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PositionStatus {
    /// Created, not yet payable (GPD `DRAFT`).
    Draft,
    /// Payable (GPD `PUBLISHED`, `VALID`).
    Open,
    /// Paid (GPD `PAID`, `PARTIALLY_PAID`, `REPORTED`).
    Paid,
    /// Withdrawn by the creditor (GPD `INVALID`).
    Invalidated,
    /// Past its due date and no longer payable (GPD `EXPIRED`).
    Expired,
}

impl PositionStatus {
    /// Reads GPD's status word.
    pub fn from_gpd(status: &str) -> Option<Self> {
        Some(match status {
            "DRAFT" => Self::Draft,
            "PUBLISHED" | "VALID" => Self::Open,
            "PAID" | "PARTIALLY_PAID" | "REPORTED" => Self::Paid,
            "INVALID" => Self::Invalidated,
            "EXPIRED" => Self::Expired,
            _ => return None,
        })
    }
}

/// A payment receipt: a PSP took the money for one notice.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Receipt {
    /// pagoPA's receipt id (`idReceipt`), unique per payment.
    pub receipt_id: String,
    /// The creditor.
    pub creditor: CreditorFiscalCode,
    /// The position's IUPD.
    pub iupd: String,
    /// The IUV paid.
    pub iuv: String,
    /// What was paid, in euro cents.
    pub amount_cents: i64,
    /// When the PSP took the payment.
    pub paid_at: Timestamp,
}

/// One page of receipts.
#[derive(Clone, Debug, Default)]
pub struct ReceiptPage {
    /// The receipts on this page.
    pub receipts: Vec<Receipt>,
    /// Whether a further page exists.
    pub more: bool,
}

/// What a position pays for: a kind of record of the creating service and its id.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Purpose {
    /// Lowercase words joined by underscores, e.g. `occupation`.
    pub kind: String,
    /// The record's id in the creating service.
    pub id: String,
}

impl Purpose {
    /// A purpose, checked: `kind` is 1-40 lowercase letters, digits or underscores
    /// starting with a letter; `id` is 1-64 visible ASCII characters.
    pub fn new(kind: &str, id: &str) -> Result<Self, &'static str> {
        let kind_ok = kind.len() <= 40
            && kind.starts_with(|c: char| c.is_ascii_lowercase())
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !kind_ok {
            return Err("purpose kind: lowercase letters, digits and underscores, at most 40");
        }
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("purpose id: 1 to 64 visible ASCII characters");
        }
        Ok(Self {
            kind: kind.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// A position of this service that has just been paid, as the department's callback
/// sees it: no debtor data.
#[derive(Clone, Debug)]
pub struct PaidPosition {
    /// The service's id of the position.
    pub id: uuid::Uuid,
    /// The creditor municipality.
    pub municipality: MunicipalityCode,
    /// What it paid for.
    pub purpose: Purpose,
    /// The IUPD.
    pub iupd: String,
    /// The IUV.
    pub iuv: String,
    /// The notice number.
    pub notice_number: String,
    /// What was paid, in euro cents.
    pub amount_cents: i64,
    /// When.
    pub paid_at: Timestamp,
    /// pagoPA's receipt id.
    pub receipt_id: String,
    /// The position's version after the payment.
    pub version: i64,
}
