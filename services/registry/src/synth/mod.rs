//! A synthetic La Spezia: a deterministic generator of about 95,000 residents in realistic
//! families, loaded with `COPY`, for `make run`'s demo data and for the benchmarks.
//!
//! Households follow Liguria's shape (many people living alone, an old population, about
//! two people per family); names are Italian, with the city's foreign communities; most
//! people were born in the city or nearby, some in the south, some abroad; fiscal codes
//! are computed with the PA rules library (omocodia when two people would share one).
//! A small share are no longer resident (deceased, moved away, abroad in AIRE), so every
//! status is represented. Nothing here reads the clock: the same options give the same
//! city, ids included.

pub mod data;
pub mod load;
pub mod rng;

use std::collections::HashSet;

use jiff::{ToSpan, civil::Date};
use sportello_kit::{MunicipalityCode, PseudonymKey, RequesterRef};
use sportello_pa::{
    BelfioreCode, Sex,
    fiscal_code::{Person as CodePerson, encode},
};
use uuid::Uuid;

use self::{data::Community, rng::Rng};
use crate::domain::{Citizenship, Relationship, ResidentStatus};

pub use load::{LoadOutcome, ensure_loaded};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The municipality (its Belfiore code is where the city's children are born).
    pub municipality: MunicipalityCode,
    /// How many residents (people with status resident).
    pub residents: usize,
    /// The seed.
    pub seed: u64,
    /// The day ages and dates are counted back from.
    pub reference_day: Date,
}

impl Options {
    /// 95,000 residents of `municipality`, as of 1 January 2026.
    pub fn for_municipality(municipality: MunicipalityCode) -> Self {
        Self {
            municipality,
            residents: 95_000,
            seed: 2014,
            reference_day: jiff::civil::date(2026, 1, 1),
        }
    }
}

/// Why a city cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The PA library does not know the municipality, so not its Belfiore code either.
    #[error("municipality {0} is not in the table of municipalities")]
    UnknownMunicipality(MunicipalityCode),
}

/// A street of the city.
#[derive(Debug, Clone)]
pub struct Street {
    /// The municipality's code for it.
    pub code: String,
    /// "Via", "Piazza", …
    pub qualifier: &'static str,
    /// Its name.
    pub name: &'static str,
    /// CAP.
    pub postal_code: &'static str,
}

/// A person's identity.
#[derive(Debug, Clone)]
pub struct PersonRow {
    /// Record id.
    pub id: Uuid,
    /// Fiscal code.
    pub fiscal_code: String,
    /// requester_ref.
    pub requester_ref: String,
}

/// One state of a person's record.
#[derive(Debug, Clone)]
pub struct StateRow {
    /// Row id.
    pub id: Uuid,
    /// The person.
    pub resident_id: Uuid,
    /// First day in force.
    pub valid_from: Date,
    /// First day no longer in force.
    pub valid_to: Option<Date>,
    /// The state it follows.
    pub follows: Option<Uuid>,
    /// Surname.
    pub surname: String,
    /// Given names.
    pub given_names: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: Date,
    /// Belfiore code.
    pub birthplace: &'static str,
    /// ISO citizenship.
    pub citizenship: &'static str,
    /// Status.
    pub status: ResidentStatus,
    /// Family (resident states only).
    pub family_id: Option<Uuid>,
    /// Relationship (resident states only).
    pub relationship: Option<Relationship>,
    /// Index into [`City::streets`] (resident states only).
    pub street: Option<usize>,
    /// House number (resident states only).
    pub house_number: Option<String>,
    /// Destination (moved away, AIRE).
    pub destination: Option<&'static str>,
}

/// A generated city.
#[derive(Debug, Clone)]
pub struct City {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// Its streets.
    pub streets: Vec<Street>,
    /// Family ids.
    pub families: Vec<Uuid>,
    /// People.
    pub people: Vec<PersonRow>,
    /// Their states, each person's in date order.
    pub states: Vec<StateRow>,
}

impl City {
    /// How many people are resident now.
    pub fn residents(&self) -> usize {
        self.states
            .iter()
            .filter(|s| s.valid_to.is_none() && s.status == ResidentStatus::Resident)
            .count()
    }
}

/// A member of a household being drawn.
#[derive(Debug, Clone)]
struct Draft {
    surname: String,
    given_names: String,
    sex: Sex,
    birth: Date,
    birthplace: &'static str,
    citizenship: &'static str,
    relationship: Relationship,
}

struct Generator<'a> {
    rng: Rng,
    ids: Rng,
    options: &'a Options,
    home: BelfioreCode,
    home_code: &'static str,
    codes: HashSet<String>,
    key: &'a PseudonymKey,
    city: City,
}

/// Generates the city. `key` computes the requester_refs, as the service would.
pub fn generate(options: &Options, key: &PseudonymKey) -> Result<City, SynthError> {
    let place = sportello_pa::birthplace::by_istat(options.municipality.as_str())
        .ok_or(SynthError::UnknownMunicipality(options.municipality))?;
    let streets = data::STREETS
        .iter()
        .enumerate()
        .map(|(i, (qualifier, name, postal_code, _))| Street {
            code: format!("{:05}", i + 1),
            qualifier,
            name,
            postal_code,
        })
        .collect();
    let mut generator = Generator {
        rng: Rng::new(options.seed),
        ids: Rng::new(options.seed ^ 0x05EE_D1D5),
        options,
        home: place.code,
        home_code: place.code.as_str(),
        codes: HashSet::new(),
        key,
        city: City {
            municipality: options.municipality,
            streets,
            families: Vec::new(),
            people: Vec::new(),
            states: Vec::new(),
        },
    };
    let mut residents = 0;
    while residents < options.residents {
        let household = generator.household();
        residents += household.len();
        generator.settle(household);
    }
    let former = options.residents / 40;
    for _ in 0..former {
        generator.former_resident();
    }
    Ok(generator.city)
}

impl Generator<'_> {
    fn day_of_age(&mut self, age: i64) -> Date {
        let days = age * 365 + self.rng.range(0, 364);
        self.options
            .reference_day
            .checked_sub(days.days())
            .unwrap_or(self.options.reference_day)
    }

    /// An adult's age, weighted towards Liguria's old population.
    fn adult_age(&mut self) -> i64 {
        match self.rng.weighted([12, 19, 27, 28, 14].into_iter()) {
            0 => self.rng.range(20, 34),
            1 => self.rng.range(35, 49),
            2 => self.rng.range(50, 64),
            3 => self.rng.range(65, 79),
            _ => self.rng.range(80, 100),
        }
    }

    fn community(&mut self) -> Option<&'static Community> {
        if self.rng.chance(0.11) {
            let i = self.rng.weighted(data::COMMUNITIES.iter().map(|c| c.1));
            Some(&data::COMMUNITIES[i])
        } else {
            None
        }
    }

    fn given_name(&mut self, sex: Sex, community: Option<&'static Community>) -> String {
        let names = match (community, sex) {
            (Some(c), Sex::Male) => c.2,
            (Some(c), Sex::Female) => c.3,
            (None, Sex::Male) => data::MALE_NAMES,
            (None, Sex::Female) => data::FEMALE_NAMES,
        };
        (*self.rng.pick(names)).to_owned()
    }

    fn surname(&mut self, community: Option<&'static Community>) -> String {
        let names = community.map_or(data::SURNAMES, |c| c.4);
        (*self.rng.pick(names)).to_owned()
    }

    fn birthplace(&mut self, age: i64, community: Option<&'static Community>) -> &'static str {
        if let Some(c) = community {
            let born_here = age < 14 && self.rng.chance(0.55);
            if born_here {
                return self.home_code;
            }
            return Citizenship::by_iso(c.0)
                .and_then(|c| c.country().belfiore)
                .unwrap_or(self.home_code);
        }
        let born_here = match age {
            0..=17 => 0.85,
            18..=69 => 0.55,
            _ => 0.5,
        };
        if self.rng.chance(born_here) {
            self.home_code
        } else if self.rng.chance(0.06) {
            data::ITALIANS_BORN_ABROAD[self.rng.below(data::ITALIANS_BORN_ABROAD.len())]
        } else {
            let i = self
                .rng
                .weighted(data::ITALIAN_BIRTHPLACES.iter().map(|(_, w)| *w));
            data::ITALIAN_BIRTHPLACES[i].0
        }
    }

    fn person(
        &mut self,
        sex: Sex,
        age: i64,
        surname: String,
        community: Option<&'static Community>,
        relationship: Relationship,
    ) -> Draft {
        Draft {
            given_names: self.given_name(sex, community),
            surname,
            sex,
            birth: self.day_of_age(age),
            birthplace: self.birthplace(age, community),
            citizenship: community.map_or("IT", |c| c.0),
            relationship,
        }
    }

    fn sex(&mut self) -> Sex {
        if self.rng.chance(0.5) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// Children of a couple or a parent aged `parent_age`.
    fn children(
        &mut self,
        parent_age: i64,
        surname: &str,
        community: Option<&'static Community>,
        count: usize,
        into: &mut Vec<Draft>,
    ) {
        for _ in 0..count {
            // Mothers and fathers are 24 to 42 at a birth; grown children often stay.
            let age = (parent_age - self.rng.range(24, 42)).max(0);
            let sex = self.sex();
            let child = self.person(sex, age, surname.to_owned(), community, Relationship::Child);
            into.push(child);
        }
    }

    /// One household, head first.
    fn household(&mut self) -> Vec<Draft> {
        let community = self.community();
        let mut members = Vec::new();
        let kind = self.rng.weighted([37, 27, 21, 8, 3, 4].into_iter());
        match kind {
            // Living alone.
            0 => {
                let age = self.adult_age();
                let sex = self.sex();
                let surname = self.surname(community);
                members.push(self.person(sex, age, surname, community, Relationship::Head));
            }
            // A couple, with children (2) or without (1), or with a grandparent too (4).
            1 | 2 | 4 => {
                let age = if kind == 1 {
                    self.adult_age().max(24)
                } else {
                    self.rng.range(30, 64)
                };
                let same_sex = kind == 1 && self.rng.chance(0.02);
                let head_sex = self.sex();
                let partner_sex = match (same_sex, head_sex) {
                    (true, s) => s,
                    (false, Sex::Male) => Sex::Female,
                    (false, Sex::Female) => Sex::Male,
                };
                let head_surname = self.surname(community);
                let partner_surname = self.surname(community);
                let partner_relationship = if same_sex {
                    Relationship::CivilPartner
                } else if self.rng.chance(0.16) {
                    Relationship::Partner
                } else {
                    Relationship::Spouse
                };
                let partner_age = (age + self.rng.range(-6, 6)).max(20);
                let head = self.person(
                    head_sex,
                    age,
                    head_surname.clone(),
                    community,
                    Relationship::Head,
                );
                let partner = self.person(
                    partner_sex,
                    partner_age,
                    partner_surname.clone(),
                    community,
                    partner_relationship,
                );
                // Children take the father's surname.
                let family_surname = if head_sex == Sex::Male {
                    head_surname
                } else {
                    partner_surname
                };
                members.push(head);
                members.push(partner);
                if kind != 1 {
                    let count = self.rng.weighted([50, 40, 10].into_iter()) + 1;
                    self.children(
                        age.min(partner_age),
                        &family_surname,
                        community,
                        count,
                        &mut members,
                    );
                }
                if kind == 4 {
                    let grandparent_age = (age + self.rng.range(24, 34)).min(100);
                    let sex = self.sex();
                    let surname = self.surname(community);
                    let relationship = if self.rng.chance(0.5) {
                        Relationship::Parent
                    } else {
                        Relationship::ParentInLaw
                    };
                    let grandparent =
                        self.person(sex, grandparent_age, surname, community, relationship);
                    members.push(grandparent);
                }
            }
            // A parent alone with children.
            3 => {
                let age = self.rng.range(26, 60);
                let sex = if self.rng.chance(0.8) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let surname = self.surname(community);
                members.push(self.person(sex, age, surname.clone(), community, Relationship::Head));
                let count = self.rng.weighted([60, 40].into_iter()) + 1;
                self.children(age, &surname, community, count, &mut members);
            }
            // Siblings, or people sharing a flat.
            _ => {
                let age = self.adult_age().max(22);
                let siblings = self.rng.chance(0.6);
                let surname = self.surname(community);
                let sex = self.sex();
                members.push(self.person(sex, age, surname.clone(), community, Relationship::Head));
                let other_sex = self.sex();
                let (other_surname, relationship) = if siblings {
                    (surname, Relationship::Sibling)
                } else {
                    (self.surname(community), Relationship::Cohabitant)
                };
                let other_age = if siblings {
                    (age + self.rng.range(-8, 8)).max(18)
                } else {
                    self.rng.range(20, 40)
                };
                members.push(self.person(
                    other_sex,
                    other_age,
                    other_surname,
                    community,
                    relationship,
                ));
            }
        }
        members
    }

    fn street(&mut self) -> usize {
        self.rng.weighted(data::STREETS.iter().map(|s| s.3))
    }

    fn house_number(&mut self) -> String {
        let n = 1 + (self.rng.unit().powi(2) * 160.0) as u32;
        if self.rng.chance(0.06) {
            format!("{n}{}", *self.rng.pick(&["A", "B", "C", "D"]))
        } else {
            n.to_string()
        }
    }

    /// The day the household came to live where it lives: at least when its youngest
    /// adult turned 18 (or when its head did), at most the reference day.
    fn since(&mut self, members: &[Draft]) -> Date {
        let head_birth = members
            .first()
            .map_or(self.options.reference_day, |m| m.birth);
        let earliest = head_birth
            .checked_add(18.years())
            .unwrap_or(head_birth)
            .min(self.options.reference_day);
        let span = (self.options.reference_day - earliest).get_days().max(0);
        let back = (self.rng.unit().powi(2) * span as f64) as i64;
        self.options
            .reference_day
            .checked_sub(back.days())
            .unwrap_or(self.options.reference_day)
    }

    /// A fiscal code for `draft` that nobody else in the city has (omocodia otherwise).
    fn fiscal_code(&mut self, draft: &mut Draft) -> String {
        loop {
            let person = CodePerson {
                surname: &draft.surname,
                name: &draft.given_names,
                sex: draft.sex,
                birth_date: draft.birth,
                birthplace: draft.birthplace.parse().unwrap_or(self.home),
            };
            if let Ok(code) = encode(&person) {
                let taken = std::iter::once(code)
                    .chain(code.omocodia_variants())
                    .map(|c| c.as_str().to_owned())
                    .find(|c| !self.codes.contains(c));
                if let Some(free) = taken {
                    self.codes.insert(free.clone());
                    return free;
                }
            }
            // Unencodable or all variants taken (never seen in practice): another name.
            draft.given_names = self.given_name(draft.sex, None);
        }
    }

    fn identity(&mut self, draft: &mut Draft) -> PersonRow {
        let fiscal_code = self.fiscal_code(draft);
        PersonRow {
            id: self.ids.uuid(),
            requester_ref: RequesterRef::derive(self.key, self.options.municipality, &fiscal_code)
                .to_string(),
            fiscal_code,
        }
    }

    fn state(&mut self, person: &PersonRow, draft: &Draft, from: Date) -> StateRow {
        StateRow {
            id: self.ids.uuid(),
            resident_id: person.id,
            valid_from: from.max(draft.birth),
            valid_to: None,
            follows: None,
            surname: draft.surname.clone(),
            given_names: draft.given_names.clone(),
            sex: draft.sex,
            birth_date: draft.birth,
            birthplace: draft.birthplace,
            citizenship: draft.citizenship,
            status: ResidentStatus::Resident,
            family_id: None,
            relationship: None,
            street: None,
            house_number: None,
            destination: None,
        }
    }

    /// Gives a household a family record, an address and its members' records.
    fn settle(&mut self, mut members: Vec<Draft>) {
        let family = self.ids.uuid();
        let street = self.street();
        let number = self.house_number();
        let since = self.since(&members);
        self.city.families.push(family);
        for draft in &mut members {
            let person = self.identity(draft);
            let mut state = self.state(&person, draft, since);
            state.family_id = Some(family);
            state.relationship = Some(draft.relationship);
            state.street = Some(street);
            state.house_number = Some(number.clone());
            self.city.people.push(person);
            self.city.states.push(state);
        }
    }

    /// Someone who lived in the city alone and then died, moved away or went abroad.
    fn former_resident(&mut self) {
        let community = if self.rng.chance(0.05) {
            self.community()
        } else {
            None
        };
        let age = self.adult_age();
        let sex = self.sex();
        let surname = self.surname(community);
        let mut draft = self.person(sex, age, surname, community, Relationship::Head);
        let members = [draft.clone()];
        let since = self.since(&members);
        let span = i64::from((self.options.reference_day - since).get_days().max(2));
        let left = since
            .checked_add(self.rng.range(1, span - 1).days())
            .unwrap_or(self.options.reference_day);
        let person = self.identity(&mut draft);
        let family = self.ids.uuid();
        self.city.families.push(family);
        let mut lived = self.state(&person, &draft, since);
        lived.valid_to = Some(left);
        lived.family_id = Some(family);
        lived.relationship = Some(Relationship::Head);
        lived.street = Some(self.street());
        lived.house_number = Some(self.house_number());
        let mut after = self.state(&person, &draft, left);
        after.follows = Some(lived.id);
        match self.rng.weighted([45, 40, 15].into_iter()) {
            0 => after.status = ResidentStatus::Deceased,
            1 => {
                after.status = ResidentStatus::MovedAway;
                after.destination = Some(*self.rng.pick(data::DESTINATIONS));
            }
            _ if draft.citizenship == "IT" => {
                after.status = ResidentStatus::Aire;
                after.destination = Some(*self.rng.pick(data::AIRE_COUNTRIES));
            }
            _ => {
                after.status = ResidentStatus::MovedAway;
                after.destination = Some(*self.rng.pick(data::DESTINATIONS));
            }
        }
        if lived.valid_from >= left {
            // Came and went the same day: keep only where they went.
            after.follows = None;
            self.city.people.push(person);
            self.city.states.push(after);
            return;
        }
        self.city.people.push(person);
        self.city.states.push(lived);
        self.city.states.push(after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PseudonymKey {
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
            .parse()
            .unwrap()
    }

    fn small() -> Options {
        Options {
            residents: 3_000,
            ..Options::for_municipality("011015".parse().unwrap())
        }
    }

    #[test]
    fn the_same_options_give_the_same_city() {
        let a = generate(&small(), &key()).unwrap();
        let b = generate(&small(), &key()).unwrap();
        assert_eq!(a.people.len(), b.people.len());
        for (x, y) in a.people.iter().zip(&b.people) {
            assert_eq!((x.id, &x.fiscal_code), (y.id, &y.fiscal_code));
        }
    }

    #[test]
    fn the_city_looks_like_la_spezia() {
        let city = generate(&small(), &key()).unwrap();
        let residents = city.residents();
        assert!((3_000..3_010).contains(&residents), "{residents}");
        let per_family = residents as f64
            / city
                .states
                .iter()
                .filter(|s| s.relationship == Some(Relationship::Head) && s.valid_to.is_none())
                .count() as f64;
        assert!(
            (1.8..2.4).contains(&per_family),
            "{per_family} people per family"
        );
        let codes: HashSet<_> = city.people.iter().map(|p| &p.fiscal_code).collect();
        assert_eq!(codes.len(), city.people.len(), "fiscal codes are unique");
        for p in &city.people {
            assert!(
                p.fiscal_code.parse::<sportello_pa::CodiceFiscale>().is_ok(),
                "{}",
                p.fiscal_code
            );
        }
        let born_here = city
            .states
            .iter()
            .filter(|s| s.birthplace == "E463")
            .count();
        assert!(
            born_here * 2 > city.states.len(),
            "most were born in the city"
        );
        let foreign = city.states.iter().filter(|s| s.citizenship != "IT").count();
        assert!(
            foreign * 20 > city.states.len() && foreign * 5 < city.states.len(),
            "{foreign}"
        );
        for status in [
            ResidentStatus::Deceased,
            ResidentStatus::MovedAway,
            ResidentStatus::Aire,
        ] {
            assert!(city.states.iter().any(|s| s.status == status), "{status:?}");
        }
        assert!(city.states.iter().all(|s| s.valid_from >= s.birth_date));
        assert!(
            city.states
                .iter()
                .all(|s| s.valid_to.is_none_or(|to| to > s.valid_from))
        );
    }
}
