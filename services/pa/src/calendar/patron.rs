//! Patron-saint days (*festa del santo patrono*) of some municipalities, keyed by ISTAT
//! code.
//!
//! The patron day is a local holiday, not a national one: the collective agreements
//! (for municipal staff, the CCNL Funzioni locali) make it a paid holiday in the
//! municipality, so its offices are closed. There is no national register of patron days, so
//! this table was compiled by hand from each municipality's published calendar for the
//! Ligurian provincial capitals and Italy's largest cities; ISTAT codes checked against
//! ISTAT's list of municipalities (see `data/README.md`). A municipality not listed can
//! be given its day with [`super::Calendar::with_patron_day`].

/// One municipality's patron day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatronDay {
    /// ISTAT code of the municipality.
    pub istat: &'static str,
    /// Municipality.
    pub municipality: &'static str,
    /// Month 1-12.
    pub month: i8,
    /// Day of month.
    pub day: i8,
    /// The saint (or feast) celebrated.
    pub saint: &'static str,
}

const fn p(
    istat: &'static str,
    municipality: &'static str,
    month: i8,
    day: i8,
    saint: &'static str,
) -> PatronDay {
    PatronDay {
        istat,
        municipality,
        month,
        day,
        saint,
    }
}

/// The table, by ISTAT code.
pub static PATRON_DAYS: &[PatronDay] = &[
    // Liguria: the four provincial capitals.
    p(
        "008031",
        "Imperia",
        11,
        26,
        "San Leonardo da Porto Maurizio",
    ),
    p(
        "009056",
        "Savona",
        3,
        18,
        "Nostra Signora della Misericordia",
    ),
    p("010025", "Genova", 6, 24, "San Giovanni Battista"),
    p("011015", "La Spezia", 3, 19, "San Giuseppe"),
    // The largest cities.
    p("001272", "Torino", 6, 24, "San Giovanni Battista"),
    p("015146", "Milano", 12, 7, "Sant'Ambrogio"),
    p("017029", "Brescia", 2, 15, "Santi Faustino e Giovita"),
    p("023091", "Verona", 5, 21, "San Zeno"),
    p("027042", "Venezia", 4, 25, "San Marco"),
    p("028060", "Padova", 6, 13, "Sant'Antonio"),
    p("032006", "Trieste", 11, 3, "San Giusto"),
    p("034027", "Parma", 1, 13, "Sant'Ilario"),
    p("035033", "Reggio nell'Emilia", 11, 24, "San Prospero"),
    p("036023", "Modena", 1, 31, "San Geminiano"),
    p("037006", "Bologna", 10, 4, "San Petronio"),
    p("039014", "Ravenna", 7, 23, "Sant'Apollinare"),
    p("048017", "Firenze", 6, 24, "San Giovanni Battista"),
    p("049009", "Livorno", 5, 22, "Santa Giulia"),
    p("054039", "Perugia", 1, 29, "San Costanzo"),
    p("058091", "Roma", 6, 29, "Santi Pietro e Paolo"),
    p("063049", "Napoli", 9, 19, "San Gennaro"),
    p("072006", "Bari", 12, 6, "San Nicola"),
    p("073027", "Taranto", 5, 10, "San Cataldo"),
    p("080063", "Reggio di Calabria", 4, 23, "San Giorgio"),
    p("082053", "Palermo", 7, 15, "Santa Rosalia"),
    p("083048", "Messina", 6, 3, "Madonna della Lettera"),
    p("087015", "Catania", 2, 5, "Sant'Agata"),
    p("092009", "Cagliari", 10, 30, "San Saturnino"),
    p("100005", "Prato", 12, 26, "Santo Stefano"),
];

/// The patron day of a municipality, if the table has it.
pub fn patron_day(istat: &str) -> Option<PatronDay> {
    PATRON_DAYS.iter().copied().find(|p| p.istat == istat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn la_spezia_is_19_march() {
        let p = patron_day("011015").unwrap();
        assert_eq!((p.month, p.day), (3, 19));
    }

    #[test]
    fn codes_match_the_municipality_table() {
        for p in PATRON_DAYS {
            let b = crate::birthplace::by_istat(p.istat).unwrap_or_else(|| panic!("{}", p.istat));
            assert_eq!(
                crate::birthplace::fold_name(b.name),
                crate::birthplace::fold_name(p.municipality)
            );
            assert!(jiff::civil::Date::new(2024, p.month, p.day).is_ok());
        }
    }
}
