//! The procedures Sportello knows, each with the rule that sets its term and the rule
//! that says what the end of the term brings.

use serde::{Deserialize, Serialize};

use super::{Matter, Outcome, Term};

/// A procedure whose statutory clock runs from the day of receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "procedure", rename_all = "snake_case")]
pub enum Procedure {
    /// Any procedure on application: the term its rule sets, 30 days by default
    /// (L. 241/1990 art. 2 c. 2); breach on expiry unless the rule provides silence-assent.
    Generic {
        /// The term.
        term: Term,
        /// Silence equals assent on expiry (L. 241/1990 art. 20).
        silence_assent: bool,
    },
    /// Change of residence, registration: the registrar records the declaration within
    /// 2 working days (DL 5/2012 art. 5 c. 3, conv. L. 35/2012).
    ResidenceRegistration,
    /// Change of residence, checks: 45 days from the declaration; then silence-assent,
    /// unless a notice of reasons against (art. 10-bis) was sent within them (DPR
    /// 223/1989 art. 18-bis c. 1; DL 5/2012 art. 5 c. 5 — c. 3 is the 2-day registration).
    ResidenceCheck,
    /// Access to administrative documents (L. 241/1990 art. 22-25, DPR 184/2006): 30
    /// days from the request (art. 25 c. 4; DPR 184/2006 art. 6 c. 4), silence is
    /// refusal; an irregular or incomplete request notified within 10 days restarts the
    /// term from the corrected one (DPR 184/2006 art. 6 c. 5).
    DocumentAccess,
    /// Civic access (D.Lgs 33/2013 art. 5 c. 1-2, simple and generalised): 30 days
    /// (c. 6), suspended while counter-interested parties have their 10 days to object
    /// (c. 5); without an answer the requester may ask for review (c. 7).
    CivicAccess,
    /// Review of a civic access by the transparency officer (RPCT, D.Lgs 33/2013 art. 5
    /// c. 7): 20 days, suspended up to 10 while the Garante for personal data is
    /// consulted.
    CivicAccessReview,
    /// SCIA: controls within 60 days of receipt; on expiry the power to prohibit lapses
    /// (L. 241/1990 art. 19 c. 3).
    Scia,
    /// SCIA for building works: 30 days (L. 241/1990 art. 19 c. 6-bis).
    SciaBuilding,
    /// SUAP ordinary procedure (DPR 160/2010 art. 7): integration may be asked only
    /// within 30 days of receipt (c. 1); the decision is due 30 days after that window
    /// ends (c. 2), or after the integration arrives when that is later. What the end
    /// of the term brings depends on the matter (L. 241/1990 art. 20 c. 1 and c. 4).
    SuapOrdinary {
        /// What the application concerns.
        matter: Matter,
    },
    /// An opinion from another body: 20 days, after which the requester may proceed
    /// without it (L. 241/1990 art. 16 c. 1-2).
    Opinion,
    /// An opinion from a body protecting the environment, the landscape, the territory
    /// or health: art. 16 c. 1-2 do not apply (c. 3), so its term is the one its own
    /// rule sets and the requester may never proceed without it.
    ProtectedOpinion {
        /// The term the body's own rule sets.
        term: Term,
    },
    /// Assent between administrations: 30 days, then silence-assent (L. 241/1990
    /// art. 17-bis c. 1-2); 90 days for environment, landscape, cultural heritage and
    /// health (c. 3).
    Assent {
        /// Environment, landscape, heritage or health.
        sensitive: bool,
    },
    /// The attestation that silence-assent has formed, asked by the applicant: due
    /// within 10 days of the request, after which the applicant's own declaration
    /// replaces it (L. 241/1990 art. 20 c. 2-bis).
    SilenceAssentAttestation,
}

/// Why a procedure identifier cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcedureError {
    /// Not a known identifier.
    #[error("unknown procedure {0}; one of {ids}", ids = Procedure::IDS.join(", "))]
    Unknown(String),
    /// The procedure's term comes from its own rule, which the caller must give.
    #[error("procedure {0} needs its term (days or months): {1}")]
    TermRequired(&'static str, &'static str),
    /// The procedure has a statutory term; a caller's term would contradict it.
    #[error(
        "procedure {0} has a statutory term; a term can be given only to generic or opinion_protected"
    )]
    TermNotAllowed(&'static str),
}

impl Procedure {
    /// A stable identifier (`scia`, `residence_check`, …).
    pub fn id(&self) -> &'static str {
        match self {
            Procedure::Generic { .. } => "generic",
            Procedure::ResidenceRegistration => "residence_registration",
            Procedure::ResidenceCheck => "residence_check",
            Procedure::Scia => "scia",
            Procedure::SciaBuilding => "scia_building",
            Procedure::SuapOrdinary { .. } => "suap_ordinary",
            Procedure::Opinion => "opinion",
            Procedure::ProtectedOpinion { .. } => "opinion_protected",
            Procedure::Assent { sensitive: false } => "assent",
            Procedure::Assent { sensitive: true } => "assent_sensitive",
            Procedure::SilenceAssentAttestation => "silence_assent_attestation",
            Procedure::DocumentAccess => "document_access",
            Procedure::CivicAccess => "civic_access",
            Procedure::CivicAccessReview => "civic_access_review",
        }
    }

    /// Parses an identifier whose term the law fixes; `generic` gets the default
    /// 30 days and `suap_ordinary` the general matter. `opinion_protected` needs a
    /// term: use [`Procedure::parse`].
    pub fn from_id(id: &str) -> Option<Procedure> {
        Procedure::parse(id, None).ok()
    }

    /// Parses an identifier with the term the caller gives, if any: only `generic`
    /// (30 days when none is given, L. 241/1990 art. 2 c. 2) and `opinion_protected`
    /// (art. 16 c. 3 leaves the term to the body's own rule, so one is required) take
    /// it. `suap_ordinary` gets the general matter; set another with
    /// `Procedure::SuapOrdinary { matter }`.
    pub fn parse(id: &str, term: Option<Term>) -> Result<Procedure, ProcedureError> {
        let fixed = match id {
            "generic" => {
                return Ok(Procedure::Generic {
                    term: term.unwrap_or(Term::Days(30)),
                    silence_assent: false,
                });
            }
            "opinion_protected" => {
                return match term {
                    Some(term) => Ok(Procedure::ProtectedOpinion { term }),
                    None => Err(ProcedureError::TermRequired(
                        "opinion_protected",
                        "L. 241/1990 art. 16 c. 3 leaves it to the body's own rule",
                    )),
                };
            }
            "residence_registration" => Procedure::ResidenceRegistration,
            "residence_check" => Procedure::ResidenceCheck,
            "scia" => Procedure::Scia,
            "scia_building" => Procedure::SciaBuilding,
            "suap_ordinary" => Procedure::SuapOrdinary {
                matter: Matter::General,
            },
            "opinion" => Procedure::Opinion,
            "assent" => Procedure::Assent { sensitive: false },
            "assent_sensitive" => Procedure::Assent { sensitive: true },
            "silence_assent_attestation" => Procedure::SilenceAssentAttestation,
            "document_access" => Procedure::DocumentAccess,
            "civic_access" => Procedure::CivicAccess,
            "civic_access_review" => Procedure::CivicAccessReview,
            other => return Err(ProcedureError::Unknown(other.to_string())),
        };
        match term {
            Some(_) => Err(ProcedureError::TermNotAllowed(fixed.id())),
            None => Ok(fixed),
        }
    }

    /// All identifiers, for help texts.
    pub const IDS: &'static [&'static str] = &[
        "generic",
        "residence_registration",
        "residence_check",
        "scia",
        "scia_building",
        "suap_ordinary",
        "opinion",
        "opinion_protected",
        "assent",
        "assent_sensitive",
        "silence_assent_attestation",
        "document_access",
        "civic_access",
        "civic_access_review",
    ];

    /// The term: from receipt, or for the SUAP ordinary procedure from the end of the
    /// integration window.
    pub fn term(&self) -> Term {
        match self {
            Procedure::Generic { term, .. } | Procedure::ProtectedOpinion { term } => *term,
            Procedure::ResidenceRegistration => Term::WorkingDays(2),
            Procedure::ResidenceCheck => Term::Days(45),
            Procedure::Scia => Term::Days(60),
            Procedure::SciaBuilding => Term::Days(30),
            Procedure::SuapOrdinary { .. } => Term::Days(30),
            Procedure::Opinion => Term::Days(20),
            Procedure::Assent { sensitive: false } => Term::Days(30),
            Procedure::Assent { sensitive: true } => Term::Days(90),
            Procedure::SilenceAssentAttestation => Term::Days(10),
            Procedure::DocumentAccess | Procedure::CivicAccess => Term::Days(30),
            Procedure::CivicAccessReview => Term::Days(20),
        }
    }

    /// What happens when the term expires with no decision.
    pub fn outcome(&self) -> Outcome {
        match self {
            Procedure::Generic {
                silence_assent: true,
                ..
            } => Outcome::SilenceAssent,
            Procedure::Generic {
                silence_assent: false,
                ..
            } => Outcome::Breach,
            Procedure::ResidenceRegistration => Outcome::Breach,
            Procedure::ResidenceCheck => Outcome::SilenceAssent,
            Procedure::Scia | Procedure::SciaBuilding => Outcome::ControlsLapsed,
            Procedure::SuapOrdinary { matter } => matter.outcome(),
            Procedure::Opinion => Outcome::ProceedWithout,
            Procedure::ProtectedOpinion { .. } => Outcome::OpinionStillRequired,
            Procedure::Assent { .. } => Outcome::SilenceAssent,
            Procedure::SilenceAssentAttestation => Outcome::SelfDeclaration,
            Procedure::DocumentAccess => Outcome::SilenceRejection,
            Procedure::CivicAccess | Procedure::CivicAccessReview => Outcome::Breach,
        }
    }

    /// The rule behind [`Procedure::outcome`], for display and audit.
    pub fn outcome_rule(&self) -> &'static str {
        match self {
            Procedure::Generic {
                silence_assent: true,
                ..
            } => {
                "L. 241/1990 art. 20 c. 1: silenzio-assenso; su richiesta l'ufficio lo attesta entro 10 giorni (c. 2-bis) / silence-assent; on request the office attests it within 10 days (c. 2-bis)"
            }
            Procedure::Generic {
                silence_assent: false,
                ..
            }
            | Procedure::ResidenceRegistration => {
                "L. 241/1990 art. 2 c. 8-9: l'ufficio resta tenuto a decidere / the office remains bound to decide"
            }
            Procedure::ResidenceCheck => {
                "DPR 223/1989 art. 18-bis c. 1, DL 5/2012 art. 5 c. 5, L. 241/1990 art. 20: silenzio-assenso salvo preavviso di rigetto (art. 10-bis) inviato entro il termine; su richiesta l'ufficio lo attesta entro 10 giorni (art. 20 c. 2-bis) / silence-assent unless a 10-bis notice was sent within the term; on request the office attests it within 10 days (art. 20 c. 2-bis)"
            }
            Procedure::Scia | Procedure::SciaBuilding => {
                "L. 241/1990 art. 19 c. 3-4: il potere di vietare si consuma; resta solo l'annullamento d'ufficio (art. 21-nonies) / the power to prohibit lapses; only self-annulment (art. 21-nonies) remains"
            }
            Procedure::SuapOrdinary { matter } => matter.rule(),
            Procedure::Opinion => {
                "L. 241/1990 art. 16 c. 2: l'amministrazione richiedente procede senza il parere / the requesting administration proceeds without the opinion"
            }
            Procedure::ProtectedOpinion { .. } => {
                "L. 241/1990 art. 16 c. 3: un parere ambientale, paesaggistico, territoriale o sanitario non si dà mai per acquisito; il richiedente non procede senza / an environmental, landscape, territorial or health opinion never lapses; the requester may not proceed without it"
            }
            Procedure::Assent { .. } => {
                "L. 241/1990 art. 17-bis c. 2-3: l'assenso si intende acquisito / the assent is deemed given"
            }
            Procedure::DocumentAccess => {
                "L. 241/1990 art. 25 c. 4: decorsi 30 giorni la richiesta si intende respinta; entro i 30 giorni successivi ricorso al TAR (art. 116 c.p.a.) o al difensore civico / after 30 days the request is deemed refused; within the next 30 days an appeal to the regional administrative court (art. 116 c.p.a.) or the ombudsman"
            }
            Procedure::CivicAccess => {
                "D.Lgs 33/2013 art. 5 c. 6-7: la decisione resta dovuta; il richiedente può chiedere il riesame al responsabile della trasparenza / the decision is still due; the requester may ask the transparency officer for review"
            }
            Procedure::CivicAccessReview => {
                "D.Lgs 33/2013 art. 5 c. 7-8: il riesame resta dovuto; contro la decisione o il silenzio ricorso al TAR (art. 116 c.p.a.) / the review is still due; against the decision or the silence an appeal to the administrative court (art. 116 c.p.a.)"
            }
            Procedure::SilenceAssentAttestation => {
                "L. 241/1990 art. 20 c. 2-bis: la dichiarazione del richiedente (DPR 445/2000 art. 47) sostituisce l'attestazione / the applicant's own declaration (DPR 445/2000 art. 47) replaces the attestation"
            }
        }
    }

    /// The rule that sets the term, for display and audit.
    pub fn citation(&self) -> &'static str {
        match self {
            Procedure::Generic { .. } => {
                "L. 241/1990 art. 2 c. 2 (30 days unless a rule sets another term)"
            }
            Procedure::ResidenceRegistration => {
                "DL 5/2012 art. 5 c. 3: registration within 2 working days"
            }
            Procedure::ResidenceCheck => {
                "DPR 223/1989 art. 18-bis c. 1, DL 5/2012 art. 5 c. 5: checks within 45 days, then silence-assent unless a 10-bis notice was sent"
            }
            Procedure::Scia => "L. 241/1990 art. 19 c. 3: controls within 60 days of receipt",
            Procedure::SciaBuilding => {
                "L. 241/1990 art. 19 c. 6-bis: building SCIA, controls within 30 days"
            }
            Procedure::SuapOrdinary { .. } => {
                "DPR 160/2010 art. 7 c. 1-2: integration within 30 days of receipt; decision within 30 days after that window"
            }
            Procedure::Opinion => "L. 241/1990 art. 16 c. 1: opinions within 20 days",
            Procedure::ProtectedOpinion { .. } => {
                "L. 241/1990 art. 16 c. 3: environmental, landscape, territorial or health opinion, term set by the body's own rule"
            }
            Procedure::Assent { sensitive: false } => {
                "L. 241/1990 art. 17-bis c. 1: assent within 30 days"
            }
            Procedure::Assent { sensitive: true } => {
                "L. 241/1990 art. 17-bis c. 3: environment, landscape, heritage, health: 90 days"
            }
            Procedure::DocumentAccess => {
                "L. 241/1990 art. 25 c. 4, DPR 184/2006 art. 6 c. 4: 30 days from the request"
            }
            Procedure::CivicAccess => {
                "D.Lgs 33/2013 art. 5 c. 6: 30 days from the request, suspended for the counter-interested parties (c. 5)"
            }
            Procedure::CivicAccessReview => {
                "D.Lgs 33/2013 art. 5 c. 7: review within 20 days, suspended up to 10 for the Garante's opinion"
            }
            Procedure::SilenceAssentAttestation => {
                "L. 241/1990 art. 20 c. 2-bis: attestation of silence-assent within 10 days of the request"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_parses_back() {
        for id in Procedure::IDS {
            let term = (*id == "opinion_protected").then_some(Term::Days(45));
            assert_eq!(Procedure::parse(id, term).map(|p| p.id()), Ok(*id));
        }
    }

    /// L. 241/1990 art. 16 c. 3: the protected opinion has no statutory term of its own.
    #[test]
    fn a_protected_opinion_needs_its_term_and_fixed_terms_refuse_one() {
        assert!(matches!(
            Procedure::parse("opinion_protected", None),
            Err(ProcedureError::TermRequired(..))
        ));
        assert_eq!(
            Procedure::parse("scia", Some(Term::Days(10))),
            Err(ProcedureError::TermNotAllowed("scia"))
        );
        assert_eq!(
            Procedure::parse("generic", None),
            Ok(Procedure::Generic {
                term: Term::Days(30),
                silence_assent: false
            })
        );
        assert!(matches!(
            Procedure::parse("licence", None),
            Err(ProcedureError::Unknown(_))
        ));
    }
}
