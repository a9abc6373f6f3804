//! What an application concerns, as far as silence-assent is concerned: L. 241/1990
//! art. 20 c. 1 makes silence equal to assent on applications, and c. 4 lists the
//! matters where it does not apply. Each SUAP procedure carries its matter, so the
//! clock knows which outcome the end of the term brings.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Outcome;

/// The matter of an application, for L. 241/1990 art. 20 c. 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matter {
    /// Nothing that c. 4 excludes: silence-assent on expiry (c. 1).
    General,
    /// Cultural and landscape heritage (*patrimonio culturale e paesaggistico*).
    Heritage,
    /// The environment (*ambiente*).
    Environment,
    /// Protection from hydrogeological risk (*tutela dal rischio idrogeologico*).
    HydrogeologicalRisk,
    /// National defence (*difesa nazionale*).
    NationalDefence,
    /// Public safety (*pubblica sicurezza*).
    PublicSafety,
    /// Immigration, asylum and citizenship.
    Immigration,
    /// Health and public safety from harm (*salute e pubblica incolumità*).
    Health,
    /// EU law requires a formal measure.
    EuFormalMeasure,
    /// The law treats silence as rejection (*silenzio-rigetto*).
    SilenceIsRejection,
    /// Listed by a decree of the President of the Council of Ministers.
    ExcludedByDecree,
}

impl Matter {
    /// All identifiers, for help texts.
    pub const IDS: &'static [&'static str] = &[
        "general",
        "heritage",
        "environment",
        "hydrogeological_risk",
        "national_defence",
        "public_safety",
        "immigration",
        "health",
        "eu_formal_measure",
        "silence_is_rejection",
        "excluded_by_decree",
    ];

    /// A stable identifier (`environment`, `health`, …).
    pub fn id(&self) -> &'static str {
        match self {
            Matter::General => "general",
            Matter::Heritage => "heritage",
            Matter::Environment => "environment",
            Matter::HydrogeologicalRisk => "hydrogeological_risk",
            Matter::NationalDefence => "national_defence",
            Matter::PublicSafety => "public_safety",
            Matter::Immigration => "immigration",
            Matter::Health => "health",
            Matter::EuFormalMeasure => "eu_formal_measure",
            Matter::SilenceIsRejection => "silence_is_rejection",
            Matter::ExcludedByDecree => "excluded_by_decree",
        }
    }

    /// Parses an identifier.
    pub fn from_id(id: &str) -> Option<Matter> {
        Matter::IDS
            .iter()
            .position(|m| *m == id)
            .and_then(|i| ALL.get(i).copied())
    }

    /// What the end of the term brings for an application on this matter.
    pub fn outcome(&self) -> Outcome {
        match self {
            Matter::General => Outcome::SilenceAssent,
            Matter::SilenceIsRejection => Outcome::SilenceRejection,
            _ => Outcome::Breach,
        }
    }

    /// The rule behind [`Matter::outcome`].
    pub fn rule(&self) -> &'static str {
        match self {
            Matter::General => {
                "L. 241/1990 art. 20 c. 1: silenzio-assenso; su richiesta l'ufficio lo attesta entro 10 giorni (c. 2-bis) / silence-assent; on request the office attests it within 10 days (c. 2-bis)"
            }
            Matter::Heritage => {
                "L. 241/1990 art. 20 c. 4: niente silenzio-assenso sui beni culturali e paesaggistici; la decisione resta dovuta / no silence-assent on cultural and landscape heritage; the decision is still due"
            }
            Matter::Environment => {
                "L. 241/1990 art. 20 c. 4: niente silenzio-assenso sull'ambiente; la decisione resta dovuta / no silence-assent on the environment; the decision is still due"
            }
            Matter::HydrogeologicalRisk => {
                "L. 241/1990 art. 20 c. 4: niente silenzio-assenso sul rischio idrogeologico; la decisione resta dovuta / no silence-assent on hydrogeological risk; the decision is still due"
            }
            Matter::NationalDefence => {
                "L. 241/1990 art. 20 c. 4: niente silenzio-assenso sulla difesa nazionale; la decisione resta dovuta / no silence-assent on national defence; the decision is still due"
            }
            Matter::PublicSafety => {
                "L. 241/1990 art. 20 c. 4: niente silenzio-assenso sulla pubblica sicurezza; la decisione resta dovuta / no silence-assent on public safety; the decision is still due"
            }
            Matter::Immigration => {
                "L. 241/1990 art. 20 c. 4: niente silenzio-assenso su immigrazione, asilo e cittadinanza; la decisione resta dovuta / no silence-assent on immigration, asylum and citizenship; the decision is still due"
            }
            Matter::Health => {
                "L. 241/1990 art. 20 c. 4: niente silenzio-assenso su salute e pubblica incolumità; la decisione resta dovuta / no silence-assent on health and public safety from harm; the decision is still due"
            }
            Matter::EuFormalMeasure => {
                "L. 241/1990 art. 20 c. 4: il diritto UE richiede un provvedimento espresso; la decisione resta dovuta / EU law requires a formal measure; the decision is still due"
            }
            Matter::SilenceIsRejection => {
                "L. 241/1990 art. 20 c. 4: la legge qualifica il silenzio come rigetto / the law makes silence a rejection"
            }
            Matter::ExcludedByDecree => {
                "L. 241/1990 art. 20 c. 4: escluso con decreto del Presidente del Consiglio dei ministri; la decisione resta dovuta / excluded by decree of the President of the Council of Ministers; the decision is still due"
            }
        }
    }
}

/// In the order of [`Matter::IDS`].
const ALL: [Matter; 11] = [
    Matter::General,
    Matter::Heritage,
    Matter::Environment,
    Matter::HydrogeologicalRisk,
    Matter::NationalDefence,
    Matter::PublicSafety,
    Matter::Immigration,
    Matter::Health,
    Matter::EuFormalMeasure,
    Matter::SilenceIsRejection,
    Matter::ExcludedByDecree,
];

impl fmt::Display for Matter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for id in Matter::IDS {
            assert_eq!(Matter::from_id(id).map(|m| m.id()), Some(*id));
        }
        assert_eq!(Matter::from_id("tourism"), None);
    }

    /// L. 241/1990 art. 20 c. 4: every excluded matter ends without silence-assent.
    #[test]
    fn art_20_c_4_excludes_silence_assent() {
        for m in ALL {
            let assent = m.outcome() == Outcome::SilenceAssent;
            assert_eq!(assent, m == Matter::General, "{m}");
        }
    }
}
