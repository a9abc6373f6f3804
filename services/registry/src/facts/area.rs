//! An area as stretches of streets, and whether an address is in it: the rule behind
//! `ResidesInArea`. A stretch covers the house numbers from its first to its last (0: the
//! street's start or end) on one side or both; "12A" and "12/BIS" are number 12.

use sportello_kit::{ServiceError, domain as kit};
use sportello_proto::common::v1::{Parity, StreetRange};

use crate::records::Address;

/// Most stretches one question may name.
const MOST: usize = 500;

/// One stretch, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    street_code: String,
    from: u32,
    to: Option<u32>,
    parity: Parity,
}

/// Parses the request's `area` field: at least one stretch, each with a street code and
/// its first number not after its last.
pub fn parse(area: &[StreetRange]) -> Result<Vec<Stretch>, ServiceError> {
    if area.is_empty() {
        return Err(ServiceError::invalid_field(
            "area",
            "serve almeno un tratto di via / at least one stretch of street is required",
        ));
    }
    if area.len() > MOST {
        return Err(ServiceError::invalid_field(
            "area",
            format!("al massimo {MOST} tratti di via / at most {MOST} stretches of street"),
        ));
    }
    area.iter()
        .enumerate()
        .map(|(i, range)| {
            let street_code = kit::required_text(
                &format!("area[{i}].street_code"),
                &range.street_code.to_ascii_uppercase(),
                12,
            )?;
            let to = (range.to_number != 0).then_some(range.to_number);
            if to.is_some_and(|to| to < range.from_number) {
                return Err(ServiceError::invalid_field(
                    format!("area[{i}].to_number"),
                    "non può precedere from_number / must not be before from_number",
                ));
            }
            let parity = Parity::try_from(range.parity).map_err(|_| {
                ServiceError::invalid_field(
                    format!("area[{i}].parity"),
                    "non è un lato valido / is not a parity",
                )
            })?;
            Ok(Stretch {
                street_code,
                from: range.from_number,
                to,
                parity,
            })
        })
        .collect()
}

/// The number a house number is counted as: its leading digits.
fn number_of(house_number: &str) -> Option<u32> {
    let digits: String = house_number
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl Stretch {
    /// Whether `address` is on this stretch.
    pub fn covers(&self, address: &Address) -> bool {
        if !address.street_code.eq_ignore_ascii_case(&self.street_code) {
            return false;
        }
        let Some(number) = number_of(address.house_number.as_str()) else {
            return false;
        };
        let side = match self.parity {
            Parity::Odd => number % 2 == 1,
            Parity::Even => number % 2 == 0,
            Parity::Unspecified => true,
        };
        side && number >= self.from && self.to.is_none_or(|to| number <= to)
    }
}

/// Whether `address` is on any of `stretches`.
pub fn covers(stretches: &[Stretch], address: &Address) -> bool {
    stretches.iter().any(|s| s.covers(address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::HouseNumber;

    fn at(street: &str, number: &str) -> Address {
        Address {
            street_id: uuid::Uuid::nil(),
            street_code: street.into(),
            qualifier: "Via".into(),
            street_name: "del Prione".into(),
            postal_code: "19121".into(),
            house_number: HouseNumber::from_db(number.into()),
        }
    }

    fn stretch(street: &str, from: u32, to: u32, parity: Parity) -> StreetRange {
        StreetRange {
            street_code: street.into(),
            from_number: from,
            to_number: to,
            parity: parity as i32,
        }
    }

    /// Via del Prione's odd side from 1 to 99, and the whole of Via Chiodo.
    #[test]
    fn a_zone_of_one_side_and_one_whole_street() {
        let zone = parse(&[
            stretch("prione", 1, 99, Parity::Odd),
            stretch("CHIODO", 0, 0, Parity::Unspecified),
        ])
        .unwrap();
        assert!(covers(&zone, &at("PRIONE", "45")));
        assert!(covers(&zone, &at("PRIONE", "45A")), "45A is number 45");
        assert!(covers(&zone, &at("PRIONE", "99/BIS")));
        assert!(!covers(&zone, &at("PRIONE", "44")), "the even side is out");
        assert!(!covers(&zone, &at("PRIONE", "101")), "past the last number");
        assert!(covers(&zone, &at("CHIODO", "1")));
        assert!(covers(&zone, &at("CHIODO", "320")));
        assert!(!covers(&zone, &at("MAZZINI", "1")));
    }

    #[test]
    fn bad_stretches_are_named() {
        let field = |area: &[StreetRange]| parse(area).unwrap_err().violations()[0].field.clone();
        assert_eq!(field(&[]), "area");
        assert_eq!(
            field(&[stretch("PRIONE", 20, 10, Parity::Unspecified)]),
            "area[0].to_number"
        );
        assert_eq!(
            field(&[stretch(" ", 0, 0, Parity::Unspecified)]),
            "area[0].street_code"
        );
    }
}
