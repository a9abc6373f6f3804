//! The procedures this SUAP takes — the *sportello imprese* guidance: for each, the law
//! behind it, how it is handled (SCIA, communication or ordinary procedure), the matter
//! that decides what silence brings, the documents to file and the bodies a SCIA unica
//! goes to at once. A table in code, not in the database: each row is a reading of the
//! law, reviewed like code (D.Lgs 222/2016 Table A is the national list of regimes).

use sportello_pa::{Matter, Procedure};

/// How an application is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// SCIA (L. 241/1990 art. 19): effective on filing, controls within 60 days.
    Scia,
    /// SCIA for building works: controls within 30 days (art. 19 c. 6-bis).
    SciaBuilding,
    /// A communication: effective on filing, no control clock.
    Communication,
    /// The ordinary procedure (DPR 160/2010 art. 7) on a matter.
    Ordinary(Matter),
}

impl Regime {
    /// The PA library's procedure for its clock; none for a communication.
    pub fn clock(self) -> Option<Procedure> {
        match self {
            Regime::Scia => Some(Procedure::Scia),
            Regime::SciaBuilding => Some(Procedure::SciaBuilding),
            Regime::Communication => None,
            Regime::Ordinary(matter) => Some(Procedure::SuapOrdinary { matter }),
        }
    }

    /// Stored text.
    pub fn id(self) -> &'static str {
        match self {
            Regime::Scia => "scia",
            Regime::SciaBuilding => "scia_building",
            Regime::Communication => "communication",
            Regime::Ordinary(_) => "ordinary",
        }
    }

    /// Whether it is a SCIA of either kind.
    pub fn is_scia(self) -> bool {
        matches!(self, Regime::Scia | Regime::SciaBuilding)
    }
}

/// One document of a checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Stable code.
    pub code: &'static str,
    /// What it is.
    pub title: &'static str,
    /// Whether the filing is incomplete without it.
    pub required: bool,
    /// Where the requirement comes from.
    pub basis: &'static str,
}

/// A procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcedureDef {
    /// Stable code.
    pub code: &'static str,
    /// Its name.
    pub title: &'static str,
    /// How it is handled.
    pub regime: Regime,
    /// The law behind it.
    pub legal_basis: &'static str,
    /// The documents to file.
    pub checklist: &'static [Item],
    /// The bodies a SCIA unica goes to at once (art. 19-bis c. 2), as office codes.
    pub forwarded_to: &'static [&'static str],
    /// What it costs, in words.
    pub costs: &'static str,
}

const SCIA_FORM: Item = Item {
    code: "scia_form",
    title: "Modulo SCIA unificato, firmato digitalmente",
    required: true,
    basis: "D.Lgs 126/2016 art. 2; moduli unificati (Accordo Conferenza Unificata 4 maggio 2017)",
};
const MORAL_REQUIREMENTS: Item = Item {
    code: "moral_requirements",
    title: "Dichiarazione dei requisiti morali del titolare e dei soci",
    required: true,
    basis: "D.Lgs 59/2010 art. 71",
};
const FLOOR_PLAN: Item = Item {
    code: "floor_plan",
    title: "Planimetria dei locali in scala 1:100",
    required: true,
    basis: "D.Lgs 114/1998 art. 7; regolamento comunale",
};
const MANDATE: Item = Item {
    code: "mandate",
    title: "Procura speciale, se presenta un intermediario",
    required: false,
    basis: "DPR 160/2010 art. 2 c. 2; DPR 445/2000 art. 38 c. 3-bis",
};
const COMMUNICATION_FORM: Item = Item {
    code: "communication_form",
    title: "Modulo di comunicazione unificato, firmato digitalmente",
    required: true,
    basis: "D.Lgs 114/1998 art. 26 c. 5; D.Lgs 222/2016 Tabella A",
};
const DEED: Item = Item {
    code: "deed",
    title: "Atto di cessione o affitto d'azienda (estremi)",
    required: true,
    basis: "D.Lgs 114/1998 art. 26 c. 5",
};
const HEALTH_NOTIFICATION: Item = Item {
    code: "health_notification",
    title: "Notifica sanitaria ai fini della registrazione",
    required: true,
    basis: "Reg. (CE) 852/2004 art. 6",
};
const TECHNICAL_ASSERTION: Item = Item {
    code: "technical_assertion",
    title: "Relazione di asseverazione del progettista abilitato",
    required: true,
    basis: "DPR 380/2001 art. 23 c. 1",
};
const DRAWINGS: Item = Item {
    code: "drawings",
    title: "Elaborati progettuali",
    required: true,
    basis: "DPR 380/2001 art. 23 c. 1",
};
const APPLICATION_FORM: Item = Item {
    code: "application_form",
    title: "Domanda di concessione di suolo pubblico, con marca da bollo",
    required: true,
    basis: "L. 160/2019 c. 816 ss.; DPR 642/1972 Tariffa art. 3",
};
const OCCUPATION_PLAN: Item = Item {
    code: "occupation_plan",
    title: "Planimetria quotata dell'occupazione e degli arredi",
    required: true,
    basis: "regolamento comunale del canone (L. 160/2019 c. 821)",
};
const PHOTOS: Item = Item {
    code: "photos",
    title: "Relazione tecnica e fotografie dello stato dei luoghi",
    required: true,
    basis: "regolamento comunale del canone (L. 160/2019 c. 821)",
};
const LANDSCAPE_REPORT: Item = Item {
    code: "landscape_report",
    title: "Relazione paesaggistica semplificata",
    required: true,
    basis: "D.Lgs 42/2004 art. 146; DPR 31/2017 art. 8",
};

/// Every procedure, by code.
pub static PROCEDURES: &[ProcedureDef] = &[
    ProcedureDef {
        code: "commercio.vicinato_apertura",
        title: "Apertura di un esercizio di vicinato",
        regime: Regime::Scia,
        legal_basis: "D.Lgs 114/1998 art. 7; L. 241/1990 art. 19; D.Lgs 222/2016 Tabella A",
        checklist: &[SCIA_FORM, MORAL_REQUIREMENTS, FLOOR_PLAN, MANDATE],
        forwarded_to: &[],
        costs: "Diritti di istruttoria secondo il tariffario comunale.",
    },
    ProcedureDef {
        code: "commercio.vicinato_trasferimento",
        title: "Trasferimento di sede di un esercizio di vicinato",
        regime: Regime::Scia,
        legal_basis: "D.Lgs 114/1998 art. 7; L. 241/1990 art. 19; D.Lgs 222/2016 Tabella A",
        checklist: &[SCIA_FORM, FLOOR_PLAN, MANDATE],
        forwarded_to: &[],
        costs: "Diritti di istruttoria secondo il tariffario comunale.",
    },
    ProcedureDef {
        code: "commercio.vicinato_subingresso",
        title: "Subingresso in un esercizio di vicinato (cessione o affitto d'azienda)",
        regime: Regime::Communication,
        legal_basis: "D.Lgs 114/1998 art. 26 c. 5; D.Lgs 222/2016 Tabella A",
        checklist: &[COMMUNICATION_FORM, DEED, MORAL_REQUIREMENTS, MANDATE],
        forwarded_to: &[],
        costs: "Nessuno.",
    },
    ProcedureDef {
        code: "commercio.vicinato_cessazione",
        title: "Cessazione di un esercizio di vicinato",
        regime: Regime::Communication,
        legal_basis: "D.Lgs 114/1998 art. 26 c. 5; D.Lgs 222/2016 Tabella A",
        checklist: &[COMMUNICATION_FORM, MANDATE],
        forwarded_to: &[],
        costs: "Nessuno.",
    },
    ProcedureDef {
        code: "somministrazione.apertura",
        title: "Apertura di un bar o ristorante in zona non tutelata (SCIA unica)",
        regime: Regime::Scia,
        legal_basis: "D.Lgs 59/2010 art. 64 c. 1; L. 241/1990 art. 19 e 19-bis c. 2; \
                      D.Lgs 222/2016 Tabella A",
        checklist: &[
            SCIA_FORM,
            MORAL_REQUIREMENTS,
            HEALTH_NOTIFICATION,
            FLOOR_PLAN,
            MANDATE,
        ],
        forwarded_to: &["asl"],
        costs: "Diritti di istruttoria secondo il tariffario comunale; diritti sanitari ASL.",
    },
    ProcedureDef {
        code: "edilizia.scia",
        title: "SCIA edilizia per opere interne ai locali dell'attività",
        regime: Regime::SciaBuilding,
        legal_basis: "DPR 380/2001 art. 22-23; L. 241/1990 art. 19 c. 6-bis",
        checklist: &[SCIA_FORM, TECHNICAL_ASSERTION, DRAWINGS, MANDATE],
        forwarded_to: &[],
        costs: "Diritti di segreteria secondo il tariffario comunale.",
    },
    ProcedureDef {
        code: "suolo.dehors",
        title: "Concessione di suolo pubblico per un dehors",
        regime: Regime::Ordinary(Matter::General),
        legal_basis: "L. 160/2019 c. 816-836; DPR 160/2010 art. 7; L. 241/1990 art. 20",
        checklist: &[APPLICATION_FORM, OCCUPATION_PLAN, PHOTOS, MANDATE],
        forwarded_to: &[],
        costs: "Marca da bollo da € 16,00 sulla domanda e sulla concessione; canone unico \
                patrimoniale secondo la tariffa della zona.",
    },
    ProcedureDef {
        code: "suolo.dehors_area_tutelata",
        title: "Concessione di suolo pubblico per un dehors in area tutelata",
        regime: Regime::Ordinary(Matter::Heritage),
        legal_basis: "L. 160/2019 c. 816-836; DPR 160/2010 art. 7; D.Lgs 42/2004 art. 21 e \
                      146; L. 241/1990 art. 20 c. 4",
        checklist: &[
            APPLICATION_FORM,
            OCCUPATION_PLAN,
            PHOTOS,
            LANDSCAPE_REPORT,
            MANDATE,
        ],
        forwarded_to: &[],
        costs: "Marca da bollo da € 16,00 sulla domanda e sulla concessione; canone unico \
                patrimoniale secondo la tariffa della zona.",
    },
];

/// The procedure with this code.
pub fn find(code: &str) -> Option<&'static ProcedureDef> {
    PROCEDURES.iter().find(|p| p.code == code)
}

impl ProcedureDef {
    /// The clock in words, Italian first.
    pub fn clock_text(&self) -> String {
        match self.regime {
            Regime::Scia => "Efficace dalla presentazione; controlli entro 60 giorni (L. 241/1990 \
                             art. 19 c. 3). / Effective on filing; controls within 60 days."
                .into(),
            Regime::SciaBuilding => "Efficace dalla presentazione; controlli entro 30 giorni \
                                     (L. 241/1990 art. 19 c. 6-bis). / Effective on filing; \
                                     controls within 30 days."
                .into(),
            Regime::Communication => String::new(),
            Regime::Ordinary(_) => "Integrazione richiedibile una sola volta entro 30 giorni; \
                                    decisione entro i 30 giorni successivi (DPR 160/2010 art. 7 \
                                    c. 1-2). / One integration request within 30 days; the \
                                    decision within the next 30 days."
                .into(),
        }
    }

    /// Whether it asks for public land: the filing carries the occupation, granted with
    /// the decision.
    pub fn occupies_land(&self) -> bool {
        self.code.starts_with("suolo.")
    }

    /// What the end of the term brings, with its rule.
    pub fn outcome_text(&self) -> &'static str {
        self.regime.clock().map_or("", |p| p.outcome_rule())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_every_checklist_has_a_required_document() {
        let mut codes: Vec<&str> = PROCEDURES.iter().map(|p| p.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), PROCEDURES.len());
        for p in PROCEDURES {
            assert!(p.checklist.iter().any(|i| i.required), "{}", p.code);
        }
    }

    #[test]
    fn a_transfer_of_ownership_and_a_closing_are_communications() {
        for code in [
            "commercio.vicinato_subingresso",
            "commercio.vicinato_cessazione",
        ] {
            assert_eq!(find(code).map(|p| p.regime), Some(Regime::Communication));
        }
    }

    #[test]
    fn silence_is_assent_on_an_ordinary_dehors_and_not_in_a_protected_area() {
        use sportello_pa::Outcome;
        let outcome = |code| {
            find(code)
                .and_then(|p| p.regime.clock())
                .map(|c| c.outcome())
        };
        assert_eq!(outcome("suolo.dehors"), Some(Outcome::SilenceAssent));
        assert_eq!(outcome("suolo.dehors_area_tutelata"), Some(Outcome::Breach));
    }
}
