//! Citizenship, as an ISO 3166-1 alpha-2 code, and the countries the register knows by
//! name. Each foreign country carries its Belfiore code, the code a person born there
//! has in their fiscal code (the PA rules library names it).

use sportello_kit::ServiceError;

/// A citizenship: an ISO 3166-1 alpha-2 code the register knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Citizenship(&'static Country);

/// A country.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Country {
    /// ISO 3166-1 alpha-2.
    pub iso: &'static str,
    /// Belfiore code of the country (none for Italy).
    pub belfiore: Option<&'static str>,
    /// Italian name, as certificates print it.
    pub name: &'static str,
}

macro_rules! countries {
    ($(($iso:literal, $belfiore:expr, $name:literal),)*) => {
        /// Every country the register knows, by ISO code.
        pub static COUNTRIES: &[Country] = &[$(Country { iso: $iso, belfiore: $belfiore, name: $name },)*];
    };
}

countries! {
    ("AL", Some("Z100"), "Albania"),
    ("AR", Some("Z600"), "Argentina"),
    ("AT", Some("Z102"), "Austria"),
    ("BD", Some("Z249"), "Bangladesh"),
    ("BE", Some("Z103"), "Belgio"),
    ("BG", Some("Z104"), "Bulgaria"),
    ("BR", Some("Z602"), "Brasile"),
    ("CH", Some("Z133"), "Svizzera"),
    ("CN", Some("Z210"), "Cina"),
    ("CO", Some("Z604"), "Colombia"),
    ("CU", Some("Z504"), "Cuba"),
    ("DE", Some("Z112"), "Germania"),
    ("DO", Some("Z505"), "Repubblica Dominicana"),
    ("DZ", Some("Z301"), "Algeria"),
    ("EC", Some("Z605"), "Ecuador"),
    ("EG", Some("Z336"), "Egitto"),
    ("ES", Some("Z131"), "Spagna"),
    ("FR", Some("Z110"), "Francia"),
    ("GB", Some("Z114"), "Regno Unito"),
    ("GH", Some("Z318"), "Ghana"),
    ("GR", Some("Z115"), "Grecia"),
    ("HR", Some("Z149"), "Croazia"),
    ("IE", Some("Z116"), "Irlanda"),
    ("IN", Some("Z222"), "India"),
    ("IT", None, "Italia"),
    ("LK", Some("Z209"), "Sri Lanka"),
    ("MA", Some("Z330"), "Marocco"),
    ("MD", Some("Z140"), "Moldova"),
    ("MK", Some("Z148"), "Macedonia del Nord"),
    ("NG", Some("Z335"), "Nigeria"),
    ("NL", Some("Z126"), "Paesi Bassi"),
    ("PE", Some("Z611"), "Perù"),
    ("PH", Some("Z216"), "Filippine"),
    ("PK", Some("Z236"), "Pakistan"),
    ("PL", Some("Z127"), "Polonia"),
    ("PT", Some("Z128"), "Portogallo"),
    ("RO", Some("Z129"), "Romania"),
    ("RS", Some("Z158"), "Serbia"),
    ("RU", Some("Z154"), "Federazione Russa"),
    ("SN", Some("Z343"), "Senegal"),
    ("TN", Some("Z352"), "Tunisia"),
    ("UA", Some("Z138"), "Ucraina"),
    ("US", Some("Z404"), "Stati Uniti d'America"),
    ("XK", Some("Z160"), "Kosovo"),
}

impl Citizenship {
    /// Italian citizenship.
    pub fn italian() -> Self {
        Self::by_iso("IT").unwrap_or(Self(&COUNTRIES[0]))
    }

    /// The country with this ISO code, if the register knows it.
    pub fn by_iso(iso: &str) -> Option<Self> {
        COUNTRIES.iter().find(|c| c.iso == iso).map(Self)
    }

    /// Parses the request field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ServiceError> {
        let iso = raw.trim().to_ascii_uppercase();
        Self::by_iso(&iso).ok_or_else(|| {
            ServiceError::invalid_field(
                field,
                "must be the ISO 3166-1 alpha-2 code of a country the register knows, e.g. IT",
            )
        })
    }

    /// The country.
    pub fn country(self) -> &'static Country {
        self.0
    }

    /// The ISO code.
    pub fn iso(self) -> &'static str {
        self.0.iso
    }

    /// Whether it is Italian.
    pub fn is_italian(self) -> bool {
        self.0.iso == "IT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_foreign_country_has_a_belfiore_code_the_pa_library_knows() {
        for country in COUNTRIES {
            let Some(code) = country.belfiore else {
                assert_eq!(country.iso, "IT");
                continue;
            };
            let code: sportello_pa::BelfioreCode = code.parse().unwrap();
            assert!(code.is_foreign(), "{}", country.iso);
            assert!(
                !sportello_pa::birthplace::by_code(code).is_empty(),
                "{}",
                country.iso
            );
        }
        let mut isos: Vec<_> = COUNTRIES.iter().map(|c| c.iso).collect();
        isos.sort_unstable();
        isos.dedup();
        assert_eq!(isos.len(), COUNTRIES.len(), "ISO codes are unique");
    }

    #[test]
    fn citizenship_parses_known_codes_only() {
        assert!(
            Citizenship::parse("citizenship", "it")
                .unwrap()
                .is_italian()
        );
        assert_eq!(
            Citizenship::parse("c", "RO").unwrap().country().name,
            "Romania"
        );
        let error = Citizenship::parse("citizenship", "XX").unwrap_err();
        assert_eq!(error.violations()[0].field, "citizenship");
    }
}
