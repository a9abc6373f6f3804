//! The certificate types, whom each may be issued for, and how long each is valid.

use jiff::ToSpan;
use sportello_kit::ServiceError;
use sportello_proto::registry::v1::CertificateType as Wire;

use crate::domain::{Day, ResidentStatus};

/// What a certificate certifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateType {
    /// Residence.
    Residence,
    /// Family status (stato di famiglia).
    FamilyStatus,
    /// Registry birth certificate (certificato anagrafico di nascita).
    Birth,
    /// Citizenship.
    Citizenship,
    /// Existence (esistenza in vita).
    Existence,
    /// Residence and family status together.
    ResidenceFamily,
}

impl CertificateType {
    const ALL: [(Self, &'static str, Wire); 6] = [
        (Self::Residence, "residence", Wire::Residence),
        (Self::FamilyStatus, "family_status", Wire::FamilyStatus),
        (Self::Birth, "birth", Wire::Birth),
        (Self::Citizenship, "citizenship", Wire::Citizenship),
        (Self::Existence, "existence", Wire::Existence),
        (
            Self::ResidenceFamily,
            "residence_family",
            Wire::ResidenceFamily,
        ),
    ];

    /// The database's word for it.
    pub fn as_db(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or("residence", |(_, db, _)| db)
    }

    /// From the database's word.
    pub fn from_db(raw: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, db, _)| *db == raw)
            .map(|(t, _, _)| *t)
    }

    /// The wire enum.
    pub fn to_proto(self) -> Wire {
        Self::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or(Wire::Unspecified, |(_, _, w)| *w)
    }

    /// Parses the wire enum of field `field`.
    pub fn from_proto(field: &str, raw: i32) -> Result<Self, ServiceError> {
        let wire = Wire::try_from(raw).ok();
        Self::ALL
            .iter()
            .find(|(_, _, w)| Some(*w) == wire)
            .map(|(t, _, _)| *t)
            .ok_or_else(|| ServiceError::invalid_field(field, "is required"))
    }

    /// Whether it may be issued for a person with `status`. Residence and family
    /// certificates only for residents; birth, citizenship and existence also for
    /// Italians registered abroad (AIRE). Nothing for the deceased or those who moved
    /// away: their records are history, certified by other means.
    pub fn allowed_for(self, status: ResidentStatus) -> bool {
        match self {
            Self::Residence | Self::FamilyStatus | Self::ResidenceFamily => {
                status == ResidentStatus::Resident
            }
            Self::Birth | Self::Citizenship | Self::Existence => {
                matches!(status, ResidentStatus::Resident | ResidentStatus::Aire)
            }
        }
    }

    /// Why it may not be issued for a person of this citizenship, if it may not: the
    /// citizenship certificate attests Italian citizenship only — a foreign citizenship
    /// is certified by the person's own state (issue 11, point 14). Italian, then English.
    pub fn refused_for_citizenship(self, italian: bool) -> Option<&'static str> {
        (self == Self::Citizenship && !italian).then_some(
            "il certificato di cittadinanza attesta la cittadinanza italiana e si rilascia solo \
             ai cittadini italiani; per un cittadino straniero la cittadinanza risulta dal \
             passaporto o da un documento del suo Stato / a citizenship certificate attests \
             Italian citizenship and is issued only for Italian citizens; a foreign citizen's \
             citizenship is shown by their passport or a document of their state",
        )
    }

    /// Whether anyone may ask for it about anyone: residence and family-status
    /// certificates, DPR 223/1989 art. 33 c. 1 ("rilascia a chiunque ne faccia
    /// richiesta"). Other registry positions are attested "d'ordine del sindaco" (art. 33
    /// c. 2): here, for the person themselves only.
    pub fn anyone_may_ask(self) -> bool {
        matches!(
            self,
            Self::Residence | Self::FamilyStatus | Self::ResidenceFamily
        )
    }

    /// Why it is refused to an applicant other than the person (or to an unknown one),
    /// when it is: Italian, then English.
    pub fn refused_to_third_party(self) -> Option<String> {
        (!self.anyone_may_ask()).then(|| {
            format!(
                "applicant_ref: {} si rilascia solo alla persona stessa (ogni posizione diversa \
                 da residenza e stato di famiglia si attesta d'ordine del sindaco, DPR \
                 223/1989 art. 33 c. 2); il richiedente deve essere l'interessato / {} is \
                 issued to the person themselves only (positions other than residence and \
                 family status are attested on the mayor's order, DPR 223/1989 art. 33 c. 2); \
                 the applicant must be the person certified",
                self.italian_words(),
                self.words()
            )
        })
    }

    fn italian_words(self) -> &'static str {
        match self {
            Self::Residence => "il certificato di residenza",
            Self::FamilyStatus => "il certificato di stato di famiglia",
            Self::Birth => "il certificato anagrafico di nascita",
            Self::Citizenship => "il certificato di cittadinanza",
            Self::Existence => "il certificato di esistenza in vita",
            Self::ResidenceFamily => "il certificato di residenza e stato di famiglia",
        }
    }

    /// Whether it lists the person's family.
    pub fn lists_family(self) -> bool {
        matches!(self, Self::FamilyStatus | Self::ResidenceFamily)
    }

    /// The last day it is valid when issued on `issued`: six months for facts that can
    /// change, `None` (unlimited) for those that cannot (DPR 445/2000 art. 41 c. 1).
    pub fn valid_until(self, issued: Day) -> Option<Day> {
        match self {
            Self::Birth => None,
            _ => issued.checked_add(6.months()).ok(),
        }
    }

    /// The title printed on it.
    pub fn title(self) -> &'static str {
        match self {
            Self::Residence => "CERTIFICATO DI RESIDENZA",
            Self::FamilyStatus => "CERTIFICATO DI STATO DI FAMIGLIA",
            Self::Birth => "CERTIFICATO ANAGRAFICO DI NASCITA",
            Self::Citizenship => "CERTIFICATO DI CITTADINANZA",
            Self::Existence => "CERTIFICATO DI ESISTENZA IN VITA",
            Self::ResidenceFamily => "CERTIFICATO DI RESIDENZA E STATO DI FAMIGLIA",
        }
    }

    /// In words, for messages: "residence".
    pub fn words(self) -> &'static str {
        match self {
            Self::Residence => "a residence certificate",
            Self::FamilyStatus => "a family-status certificate",
            Self::Birth => "a birth certificate",
            Self::Citizenship => "a citizenship certificate",
            Self::Existence => "an existence certificate",
            Self::ResidenceFamily => "a residence and family-status certificate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn types_round_trip_and_validity_follows_art_41() {
        for (kind, db, wire) in CertificateType::ALL {
            assert_eq!(CertificateType::from_db(db), Some(kind));
            assert_eq!(
                CertificateType::from_proto("type", wire as i32).unwrap(),
                kind
            );
        }
        let issued = date(2026, 8, 31);
        assert_eq!(
            CertificateType::Residence.valid_until(issued),
            Some(date(2027, 2, 28))
        );
        assert_eq!(CertificateType::Birth.valid_until(issued), None);
        assert!(CertificateType::from_proto("type", 0).is_err());
    }

    #[test]
    fn anyone_may_ask_for_residence_and_family_status_only_art_33() {
        for kind in CertificateType::ALL.map(|(k, _, _)| k) {
            assert_eq!(
                kind.refused_to_third_party().is_none(),
                kind.anyone_may_ask(),
                "{kind:?}"
            );
        }
        assert!(CertificateType::Residence.anyone_may_ask());
        assert!(CertificateType::ResidenceFamily.anyone_may_ask());
        let why = CertificateType::Birth.refused_to_third_party().unwrap();
        assert!(why.contains("art. 33 c. 2"), "{why}");
    }

    #[test]
    fn status_decides_what_may_be_issued() {
        use ResidentStatus::*;
        assert!(CertificateType::Residence.allowed_for(Resident));
        assert!(!CertificateType::Residence.allowed_for(Aire));
        assert!(CertificateType::Existence.allowed_for(Aire));
        for kind in CertificateType::ALL.map(|(k, _, _)| k) {
            assert!(!kind.allowed_for(Deceased), "{kind:?}");
            assert!(!kind.allowed_for(MovedAway), "{kind:?}");
        }
    }
}
