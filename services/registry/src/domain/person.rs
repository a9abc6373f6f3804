//! A person's status, sex, relationship to the head of the family, and house number.

use sportello_kit::ServiceError;
use sportello_pa::Sex;
use sportello_proto::registry::v1 as pb;

/// A person's state in the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResidentStatus {
    /// Resident in the municipality.
    Resident,
    /// Moved to another municipality.
    MovedAway,
    /// Deceased.
    Deceased,
    /// Living abroad, in the register of Italians resident abroad.
    Aire,
}

impl ResidentStatus {
    /// The database's word for it.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::MovedAway => "moved_away",
            Self::Deceased => "deceased",
            Self::Aire => "aire",
        }
    }

    /// From the database's word.
    pub fn from_db(raw: &str) -> Option<Self> {
        Some(match raw {
            "resident" => Self::Resident,
            "moved_away" => Self::MovedAway,
            "deceased" => Self::Deceased,
            "aire" => Self::Aire,
            _ => return None,
        })
    }

    /// The wire enum.
    pub fn to_proto(self) -> pb::ResidentStatus {
        match self {
            Self::Resident => pb::ResidentStatus::Resident,
            Self::MovedAway => pb::ResidentStatus::MovedAway,
            Self::Deceased => pb::ResidentStatus::Deceased,
            Self::Aire => pb::ResidentStatus::Aire,
        }
    }

    /// Parses the wire enum of field `field`.
    pub fn from_proto(field: &str, raw: i32) -> Result<Self, ServiceError> {
        match pb::ResidentStatus::try_from(raw) {
            Ok(pb::ResidentStatus::Resident) => Ok(Self::Resident),
            Ok(pb::ResidentStatus::MovedAway) => Ok(Self::MovedAway),
            Ok(pb::ResidentStatus::Deceased) => Ok(Self::Deceased),
            Ok(pb::ResidentStatus::Aire) => Ok(Self::Aire),
            _ => Err(ServiceError::invalid_field(field, "is required")),
        }
    }

    /// In words, for messages: "deceased".
    pub fn words(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::MovedAway => "moved away",
            Self::Deceased => "deceased",
            Self::Aire => "registered abroad (AIRE)",
        }
    }
}

/// The wire enum of a sex.
pub fn sex_to_proto(sex: Sex) -> pb::Sex {
    match sex {
        Sex::Male => pb::Sex::Male,
        Sex::Female => pb::Sex::Female,
    }
}

/// Parses the wire enum of field `field`.
pub fn sex_from_proto(field: &str, raw: i32) -> Result<Sex, ServiceError> {
    match pb::Sex::try_from(raw) {
        Ok(pb::Sex::Male) => Ok(Sex::Male),
        Ok(pb::Sex::Female) => Ok(Sex::Female),
        _ => Err(ServiceError::invalid_field(field, "must be MALE or FEMALE")),
    }
}

/// A member's relationship to the head of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is named after the proto's, which documents it
pub enum Relationship {
    Head,
    Spouse,
    CivilPartner,
    Partner,
    Child,
    Stepchild,
    Grandchild,
    Parent,
    ParentInLaw,
    Sibling,
    ChildInLaw,
    Grandparent,
    OtherRelative,
    Cohabitant,
}

impl Relationship {
    const ALL: [(Self, &'static str, pb::Relationship); 14] = [
        (Self::Head, "head", pb::Relationship::Head),
        (Self::Spouse, "spouse", pb::Relationship::Spouse),
        (
            Self::CivilPartner,
            "civil_partner",
            pb::Relationship::CivilPartner,
        ),
        (Self::Partner, "partner", pb::Relationship::Partner),
        (Self::Child, "child", pb::Relationship::Child),
        (Self::Stepchild, "stepchild", pb::Relationship::Stepchild),
        (Self::Grandchild, "grandchild", pb::Relationship::Grandchild),
        (Self::Parent, "parent", pb::Relationship::Parent),
        (
            Self::ParentInLaw,
            "parent_in_law",
            pb::Relationship::ParentInLaw,
        ),
        (Self::Sibling, "sibling", pb::Relationship::Sibling),
        (
            Self::ChildInLaw,
            "child_in_law",
            pb::Relationship::ChildInLaw,
        ),
        (
            Self::Grandparent,
            "grandparent",
            pb::Relationship::Grandparent,
        ),
        (
            Self::OtherRelative,
            "other_relative",
            pb::Relationship::OtherRelative,
        ),
        (Self::Cohabitant, "cohabitant", pb::Relationship::Cohabitant),
    ];

    /// The database's word for it.
    pub fn as_db(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _, _)| *r == self)
            .map_or("other_relative", |(_, db, _)| db)
    }

    /// From the database's word.
    pub fn from_db(raw: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, db, _)| *db == raw)
            .map(|(r, _, _)| *r)
    }

    /// The wire enum.
    pub fn to_proto(self) -> pb::Relationship {
        Self::ALL
            .iter()
            .find(|(r, _, _)| *r == self)
            .map_or(pb::Relationship::Unspecified, |(_, _, p)| *p)
    }

    /// The wire enum, or `None` when unspecified or unknown.
    pub fn from_proto(raw: i32) -> Option<Self> {
        let wire = pb::Relationship::try_from(raw).ok()?;
        Self::ALL
            .iter()
            .find(|(_, _, p)| *p == wire)
            .map(|(r, _, _)| *r)
    }

    /// As the family-status certificate prints it, agreeing with the member's sex.
    pub fn italian(self, sex: Sex) -> &'static str {
        let female = sex == Sex::Female;
        match self {
            Self::Head if female => "intestataria",
            Self::Head => "intestatario",
            Self::Spouse => "coniuge",
            Self::CivilPartner if female => "unita civilmente",
            Self::CivilPartner => "unito civilmente",
            Self::Partner => "convivente di fatto",
            Self::Child if female => "figlia",
            Self::Child => "figlio",
            Self::Stepchild if female => "figlia del coniuge",
            Self::Stepchild => "figlio del coniuge",
            Self::Grandchild => "nipote",
            Self::Parent if female => "madre",
            Self::Parent => "padre",
            Self::ParentInLaw if female => "suocera",
            Self::ParentInLaw => "suocero",
            Self::Sibling if female => "sorella",
            Self::Sibling => "fratello",
            Self::ChildInLaw if female => "nuora",
            Self::ChildInLaw => "genero",
            Self::Grandparent if female => "nonna",
            Self::Grandparent => "nonno",
            Self::OtherRelative => "altro parente o affine",
            Self::Cohabitant => "convivente",
        }
    }
}

/// A house number (numero civico): digits, then a letter or a `/` suffix, upper case:
/// "12", "12A", "3/BIS".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseNumber(String);

impl HouseNumber {
    /// Parses the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ServiceError> {
        let text: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let digits = text.chars().take_while(char::is_ascii_digit).count();
        let rest = &text[digits..];
        let rest_ok = rest.is_empty()
            || (rest.len() == 1 && rest.chars().all(|c| c.is_ascii_uppercase()))
            || rest.strip_prefix('/').is_some_and(|s| {
                (1..=4).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric())
            });
        if !(1..=5).contains(&digits) || text.starts_with('0') || !rest_ok {
            return Err(ServiceError::invalid_field(
                field,
                "must be a house number: digits, then a letter or a suffix such as /BIS",
            ));
        }
        Ok(Self(text))
    }

    /// Trusted text from the database.
    pub fn from_db(raw: String) -> Self {
        Self(raw)
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_relationship_round_trips() {
        for (relationship, db, wire) in Relationship::ALL {
            assert_eq!(Relationship::from_db(db), Some(relationship));
            assert_eq!(Relationship::from_proto(wire as i32), Some(relationship));
            assert_eq!(relationship.as_db(), db);
        }
        assert_eq!(Relationship::from_proto(0), None);
        assert_eq!(Relationship::Child.italian(Sex::Female), "figlia");
    }

    #[test]
    fn house_numbers_are_normalised() {
        for (raw, want) in [
            ("12", "12"),
            (" 12a ", "12A"),
            ("3/bis", "3/BIS"),
            ("7 B", "7B"),
        ] {
            assert_eq!(HouseNumber::parse("n", raw).unwrap().as_str(), want);
        }
        for bad in ["", "0", "012", "A12", "12AB", "123456", "3/", "3/BISSS"] {
            assert!(HouseNumber::parse("n", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            ResidentStatus::Resident,
            ResidentStatus::MovedAway,
            ResidentStatus::Deceased,
            ResidentStatus::Aire,
        ] {
            assert_eq!(ResidentStatus::from_db(status.as_db()), Some(status));
            assert_eq!(
                ResidentStatus::from_proto("status", status.to_proto() as i32).unwrap(),
                status
            );
        }
    }
}
