//! An answer to publish and a question to search, parsed once at the edge.

use sportello_kit::{MunicipalityCode, ServiceError, domain};
use sportello_proto::urp::v1::{PublishAnswerRequest, SearchAnswersRequest};

/// An answer as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAnswer {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The catalogue service.
    pub service_code: String,
    /// The question or the service's name.
    pub title: String,
    /// The answer.
    pub body: String,
    /// What to bring.
    pub what_to_bring: String,
    /// Where to go.
    pub where_to_go: String,
    /// How much.
    pub cost: String,
    /// How long.
    pub duration: String,
    /// Other words for it.
    pub keywords: String,
}

fn optional(field: &str, raw: &str, max: usize) -> Result<String, ServiceError> {
    let text = raw.trim();
    if text.chars().count() > max {
        return Err(ServiceError::invalid_field(
            field,
            format!("al massimo {max} caratteri / at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// A catalogue code: lowercase words joined by dots, e.g. `registry.residence_certificate`.
pub fn service_code(field: &str, raw: &str) -> Result<String, ServiceError> {
    let code = raw.trim();
    let mut parts = code.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()));
    let rest: Vec<&str> = parts.collect();
    let rest_ok = !rest.is_empty()
        && rest.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if !(first_ok && rest_ok) || code.len() > 80 {
        return Err(ServiceError::invalid_field(
            field,
            "deve essere un codice del catalogo, ad es. registry.residence_certificate / must be a \
             catalogue code, e.g. registry.residence_certificate",
        ));
    }
    Ok(code.to_owned())
}

impl TryFrom<&PublishAnswerRequest> for NewAnswer {
    type Error = ServiceError;

    fn try_from(request: &PublishAnswerRequest) -> Result<Self, Self::Error> {
        let Some(answer) = &request.answer else {
            return Err(ServiceError::invalid_field(
                "answer",
                "è obbligatoria / is required",
            ));
        };
        Ok(Self {
            municipality: domain::parse_field(
                "answer.municipality_istat_code",
                &answer.municipality_istat_code,
            )?,
            service_code: service_code("answer.service_code", &answer.service_code)?,
            title: domain::required_text("answer.title", &answer.title, 200)?,
            body: domain::required_text("answer.body", &answer.body, 4000)?,
            what_to_bring: optional("answer.what_to_bring", &answer.what_to_bring, 1000)?,
            where_to_go: optional("answer.where_to_go", &answer.where_to_go, 500)?,
            cost: optional("answer.cost", &answer.cost, 200)?,
            duration: optional("answer.duration", &answer.duration, 200)?,
            keywords: optional("answer.keywords", &answer.keywords, 500)?,
        })
    }
}

/// A question to search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// As typed, trimmed.
    pub text: String,
    /// How many answers, 1 to 20.
    pub limit: i64,
}

impl TryFrom<&SearchAnswersRequest> for Question {
    type Error = ServiceError;

    fn try_from(request: &SearchAnswersRequest) -> Result<Self, Self::Error> {
        let text = request.query.trim();
        if !(2..=200).contains(&text.chars().count()) {
            return Err(ServiceError::invalid_field(
                "query",
                "da 2 a 200 caratteri / 2 to 200 characters",
            ));
        }
        let limit = match request.limit {
            0 => 10,
            n @ 1..=20 => i64::from(n),
            _ => {
                return Err(ServiceError::invalid_field("limit", "da 1 a 20 / 1 to 20"));
            }
        };
        Ok(Self {
            municipality: domain::parse_field(
                "municipality_istat_code",
                &request.municipality_istat_code,
            )?,
            text: text.to_owned(),
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_codes_are_checked() {
        assert!(service_code("s", "registry.residence_certificate").is_ok());
        for bad in [
            "registry",
            "Registry.x",
            "registry.",
            "registry..x",
            "registry.x-y",
        ] {
            assert!(service_code("s", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_question_needs_two_characters_and_a_sane_limit() {
        let ask = |query: &str, limit: u32| {
            Question::try_from(&SearchAnswersRequest {
                municipality_istat_code: "011015".into(),
                query: query.into(),
                limit,
            })
        };
        assert_eq!(ask("carta identità", 0).unwrap().limit, 10);
        assert_eq!(ask("a", 0).unwrap_err().violations()[0].field, "query");
        assert_eq!(ask("carta", 21).unwrap_err().violations()[0].field, "limit");
    }
}
