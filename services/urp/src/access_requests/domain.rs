//! Access requests as the law frames them, parsed once at the edge: which access, what
//! is asked and why, who asks, and the grounds a refusal may rest on — the closed lists
//! of D.Lgs 33/2013 art. 5-bis and L. 241/1990 art. 24.

use sportello_kit::{IdempotencyKey, MunicipalityCode, ServiceError, domain, privacy};
use sportello_pa::fiscal_code::CodiceFiscale;
use sportello_proto::{
    common::v1::Channel,
    urp::v1::{
        AccessDecision, AccessKind, AccessState, FileAccessRequest, ReviewBy as ReviewByMessage,
        ReviewDecision as ReviewDecisionMessage,
    },
};
use uuid::Uuid;

macro_rules! named {
    ($name:ident { $($variant:ident = $id:literal => $message:path),* $(,)? } from $proto:ty) => {
        impl $name {
            /// Its stored name.
            pub const fn id(self) -> &'static str {
                match self { $(Self::$variant => $id,)* }
            }
            /// From its stored name.
            pub fn from_id(id: &str) -> Option<Self> {
                match id { $($id => Some(Self::$variant),)* _ => None }
            }
            /// Its protobuf value.
            pub fn message(self) -> $proto {
                match self { $(Self::$variant => $message,)* }
            }
            /// From its protobuf value (`UNSPECIFIED` and unknown values are none).
            pub fn from_message(value: i32) -> Option<Self> {
                let value = <$proto>::try_from(value).ok()?;
                $(if value == $message { return Some(Self::$variant); })*
                None
            }
        }
    };
}

/// Which access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Access to documents (L. 241/1990 art. 22).
    Documents,
    /// Simple civic access (D.Lgs 33/2013 art. 5 c. 1).
    CivicSimple,
    /// Generalised civic access (art. 5 c. 2).
    CivicGeneralised,
}

named!(Kind {
    Documents = "documents" => AccessKind::Documents,
    CivicSimple = "civic_simple" => AccessKind::CivicSimple,
    CivicGeneralised = "civic_generalised" => AccessKind::CivicGeneralised,
} from AccessKind);

impl Kind {
    /// Whether it is civic access (FOIA).
    pub const fn is_civic(self) -> bool {
        !matches!(self, Self::Documents)
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The term running.
    Received,
    /// Waiting for the corrected request.
    Irregular,
    /// Decided.
    Decided,
    /// Deemed refused by silence (documents).
    SilentlyRefused,
    /// Under review.
    UnderReview,
    /// Reviewed.
    Reviewed,
}

named!(State {
    Received = "received" => AccessState::Received,
    Irregular = "irregular" => AccessState::Irregular,
    Decided = "decided" => AccessState::Decided,
    SilentlyRefused = "silently_refused" => AccessState::SilentlyRefused,
    UnderReview = "under_review" => AccessState::UnderReview,
    Reviewed = "reviewed" => AccessState::Reviewed,
} from AccessState);

/// The office's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// In full.
    Granted,
    /// In part.
    PartiallyGranted,
    /// Refused.
    Refused,
    /// Deferred.
    Deferred,
    /// Published (simple civic access).
    Published,
}

named!(Decision {
    Granted = "granted" => AccessDecision::Granted,
    PartiallyGranted = "partially_granted" => AccessDecision::PartiallyGranted,
    Refused = "refused" => AccessDecision::Refused,
    Deferred = "deferred" => AccessDecision::Deferred,
    Published = "published" => AccessDecision::Published,
} from AccessDecision);

impl Decision {
    /// Whether it denies something, so it needs grounds and reasons.
    pub const fn limits(self) -> bool {
        matches!(
            self,
            Self::PartiallyGranted | Self::Refused | Self::Deferred
        )
    }

    /// Whether it lets the requester see something.
    pub const fn grants(self) -> bool {
        matches!(self, Self::Granted | Self::PartiallyGranted)
    }
}

/// Who asked for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewBy {
    /// The requester.
    Requester,
    /// A counter-interested party.
    CounterInterested,
}

named!(ReviewBy {
    Requester = "requester" => ReviewByMessage::Requester,
    CounterInterested = "counter_interested" => ReviewByMessage::CounterInterested,
} from ReviewByMessage);

/// The review's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    /// The decision stands.
    Confirmed,
    /// Overturned.
    Overturned,
    /// Partly overturned.
    PartlyOverturned,
}

named!(ReviewDecision {
    Confirmed = "confirmed" => ReviewDecisionMessage::Confirmed,
    Overturned = "overturned" => ReviewDecisionMessage::Overturned,
    PartlyOverturned = "partly_overturned" => ReviewDecisionMessage::PartlyOverturned,
} from ReviewDecisionMessage);

/// The grounds civic access may be refused or limited on (D.Lgs 33/2013 art. 5-bis):
/// public interests (c. 1), private interests (c. 2), the absolute exclusions (c. 3).
pub const CIVIC_GROUNDS: &[(&str, &str)] = &[
    ("5bis.1.a", "sicurezza pubblica e ordine pubblico"),
    ("5bis.1.b", "sicurezza nazionale"),
    ("5bis.1.c", "difesa e questioni militari"),
    ("5bis.1.d", "relazioni internazionali"),
    (
        "5bis.1.e",
        "politica e stabilità finanziaria ed economica dello Stato",
    ),
    (
        "5bis.1.f",
        "conduzione di indagini sui reati e loro perseguimento",
    ),
    ("5bis.1.g", "regolare svolgimento di attività ispettive"),
    ("5bis.2.a", "protezione dei dati personali"),
    ("5bis.2.b", "libertà e segretezza della corrispondenza"),
    (
        "5bis.2.c",
        "interessi economici e commerciali, proprietà intellettuale, diritto d'autore, segreti commerciali",
    ),
    (
        "5bis.3",
        "segreto di Stato e altri casi di divieto di accesso o divulgazione previsti dalla legge",
    ),
];

/// The ground for which the Garante for personal data is consulted on review (art. 5
/// c. 7).
pub const PERSONAL_DATA_GROUND: &str = "5bis.2.a";

/// The grounds access to documents may be refused or deferred on (L. 241/1990 art. 24
/// c. 1 and the cases of c. 6 a regulation names).
pub const DOCUMENT_GROUNDS: &[(&str, &str)] = &[
    (
        "24.1.a",
        "segreto di Stato e divieti di divulgazione previsti dalla legge",
    ),
    ("24.1.b", "procedimenti tributari"),
    (
        "24.1.c",
        "atti normativi, amministrativi generali, di pianificazione e programmazione",
    ),
    (
        "24.1.d",
        "procedimenti selettivi: informazioni di carattere psicoattitudinale su terzi",
    ),
    (
        "24.6.a",
        "sicurezza, difesa nazionale e relazioni internazionali",
    ),
    ("24.6.b", "politica monetaria e valutaria"),
    ("24.6.c", "ordine pubblico e prevenzione della criminalità"),
    (
        "24.6.d",
        "riservatezza di persone, gruppi e imprese (salvo il diritto di difesa, art. 24 c. 7)",
    ),
    (
        "24.6.e",
        "contrattazione collettiva e lavoro dei dipendenti",
    ),
];

/// The grounds for `kind`.
pub fn grounds_for(kind: Kind) -> &'static [(&'static str, &'static str)] {
    if kind.is_civic() {
        CIVIC_GROUNDS
    } else {
        DOCUMENT_GROUNDS
    }
}

/// Checks `raw` grounds against `kind`'s list, naming the wrong one and the right ones.
pub fn grounds(kind: Kind, raw: &[String]) -> Result<Vec<String>, ServiceError> {
    let list = grounds_for(kind);
    let mut out: Vec<String> = Vec::new();
    for (i, code) in raw.iter().enumerate() {
        let code = code.trim();
        if !list.iter().any(|(c, _)| *c == code) {
            let known: Vec<&str> = list.iter().map(|(c, _)| *c).collect();
            let law = if kind.is_civic() {
                "D.Lgs 33/2013 art. 5-bis"
            } else {
                "L. 241/1990 art. 24"
            };
            return Err(ServiceError::invalid_field(
                format!("grounds[{i}]"),
                format!(
                    "{code:?} non è un motivo di {law}; sono: {} / is not a ground of {law}",
                    known.join(", ")
                ),
            ));
        }
        if !out.iter().any(|c| c == code) {
            out.push(code.to_owned());
        }
    }
    Ok(out)
}

/// Free text of `min`-`max` characters, masked of personal data: what travels.
pub fn masked_text(field: &str, raw: &str, min: usize, max: usize) -> Result<String, ServiceError> {
    let text = raw.trim();
    let n = text.chars().count();
    if n < min || n > max {
        return Err(ServiceError::invalid_field(
            field,
            format!("da {min} a {max} caratteri / {min} to {max} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ServiceError::invalid_field(
            field,
            "contiene caratteri di controllo / holds control characters",
        ));
    }
    Ok(privacy::mask(text).0)
}

/// An access request's id field.
pub fn access_id(raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw.trim()).map_err(|_| {
        ServiceError::invalid_field(
            "access_id",
            "deve essere l'id di una richiesta di accesso (UUID) / must be an access request's \
             id (UUID)",
        )
    })
}

/// A request as filed, checked.
#[derive(Debug, Clone)]
pub struct NewAccess {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Which access.
    pub kind: Kind,
    /// What is asked, masked.
    pub subject: String,
    /// The interest (documents), masked.
    pub interest: String,
    /// The requester's fiscal code.
    pub fiscal_code: CodiceFiscale,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Where the answer goes.
    pub email: String,
    /// How it arrived.
    pub channel: Channel,
    /// The retry key.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl TryFrom<&FileAccessRequest> for NewAccess {
    type Error = ServiceError;

    fn try_from(r: &FileAccessRequest) -> Result<Self, Self::Error> {
        let kind = Kind::from_message(r.kind).ok_or_else(|| {
            ServiceError::invalid_field(
                "kind",
                "accesso agli atti (DOCUMENTS), civico semplice (CIVIC_SIMPLE) o generalizzato \
                 (CIVIC_GENERALISED) / DOCUMENTS, CIVIC_SIMPLE or CIVIC_GENERALISED",
            )
        })?;
        let interest = if kind == Kind::Documents {
            // L. 241/1990 art. 25 c. 2: the request must be reasoned.
            masked_text("interest", &r.interest, 10, 2000).map_err(|_| {
                ServiceError::invalid_field(
                    "interest",
                    "l'accesso agli atti richiede l'interesse diretto, concreto e attuale, da 10 \
                     a 2.000 caratteri (L. 241/1990 art. 25 c. 2) / access to documents needs the \
                     requester's interest, 10 to 2,000 characters",
                )
            })?
        } else {
            // Civic access needs no reason (D.Lgs 33/2013 art. 5 c. 3): none is kept.
            String::new()
        };
        let channel = match Channel::try_from(r.channel) {
            Ok(c @ (Channel::Counter | Channel::Web | Channel::Email | Channel::Pec)) => c,
            _ => {
                return Err(ServiceError::invalid_field(
                    "channel",
                    "sportello, web, e-mail o PEC / counter, web, email or pec",
                ));
            }
        };
        let Some(requester) = &r.requester else {
            return Err(ServiceError::invalid_field(
                "requester",
                "è obbligatorio: chi chiede l'accesso / is required: who asks",
            ));
        };
        let fiscal_code = requester
            .fiscal_code
            .trim()
            .to_ascii_uppercase()
            .parse::<CodiceFiscale>()
            .map_err(|e| ServiceError::invalid_field("requester.fiscal_code", e.to_string()))?;
        let email = requester.email.trim();
        if !email.is_empty() {
            email
                .parse::<sportello_kit::mail::Address>()
                .map_err(|e| ServiceError::invalid_field("requester.email", e.reason()))?;
        }
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &r.municipality_istat_code,
            )?,
            kind,
            subject: masked_text("subject", &r.subject, 10, 4000)?,
            interest,
            fiscal_code,
            first_name: domain::required_text("requester.first_name", &requester.first_name, 100)?,
            last_name: domain::required_text("requester.last_name", &requester.last_name, 100)?,
            email: email.to_owned(),
            channel,
            idempotency_key: IdempotencyKey::parse_optional(&r.idempotency_key)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sportello_proto::urp::v1::AccessRequester;

    fn request(kind: AccessKind) -> FileAccessRequest {
        FileAccessRequest {
            municipality_istat_code: "011015".into(),
            kind: kind as i32,
            subject: "Determine dirigenziali del 2026 sulla manutenzione delle strade".into(),
            interest: String::new(),
            requester: Some(AccessRequester {
                fiscal_code: "RSSMRA85T10A562S".into(),
                first_name: "Mario".into(),
                last_name: "Rossi".into(),
                email: String::new(),
            }),
            channel: Channel::Pec as i32,
            idempotency_key: String::new(),
        }
    }

    #[test]
    fn access_to_documents_needs_its_interest_and_civic_access_none() {
        let error = NewAccess::try_from(&request(AccessKind::Documents)).expect_err("interest");
        assert_eq!(error.violations()[0].field, "interest");
        let mut civic = request(AccessKind::CivicGeneralised);
        civic.interest = "qualunque motivo".into();
        let parsed = NewAccess::try_from(&civic).expect("civic");
        assert_eq!(parsed.interest, "", "no reason is kept for civic access");
    }

    #[test]
    fn grounds_are_the_laws_list_for_the_kind() {
        assert_eq!(
            grounds(
                Kind::CivicGeneralised,
                &["5bis.2.a".into(), "5bis.2.a".into()]
            )
            .expect("ok"),
            ["5bis.2.a"]
        );
        let error = grounds(Kind::Documents, &["5bis.2.a".into()]).expect_err("wrong list");
        assert_eq!(error.violations()[0].field, "grounds[0]");
        assert!(error.message().contains("24.6.d"), "{}", error.message());
    }

    #[test]
    fn a_fiscal_code_in_the_subject_is_masked() {
        let mut civic = request(AccessKind::CivicGeneralised);
        civic.subject = "Gli atti che riguardano RSSMRA85T10A562S del 2026".into();
        let parsed = NewAccess::try_from(&civic).expect("civic");
        assert!(!parsed.subject.contains("RSSMRA85T10A562S"));
    }
}
