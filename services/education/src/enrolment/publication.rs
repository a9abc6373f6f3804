//! Computing and publishing a window's ranking: the provisional one once the window has
//! closed, the final one after it; each once, from what is filed when the window's lock
//! is held — lock, decide, save, emit, commit.

use sportello_kit::{Aggregate, CallContext, Role, ServiceError};
use sportello_pa::calendar::rome;
use sportello_proto::education::v1::{
    PublishRankingRequest, PublishRankingResponse, RankingPublished,
};

use super::{
    Office, checks,
    criteria::Score,
    domain::{Stage, WindowId},
    message, objections,
    ranking::{self, Candidate},
    store, work,
};
use crate::error::EducationError;

/// The candidates a window's applications make, by their stored scores.
pub fn candidates(applications: &[store::Application]) -> Vec<Candidate> {
    applications
        .iter()
        .map(|a| Candidate {
            code: a.code.clone(),
            entry: a.entry,
            score: Score {
                total: u32::try_from(a.score).unwrap_or_default(),
                by_criterion: Vec::new(),
            },
            isee_cents: a.isee_cents,
            birth: a.birth_date,
            filed: a.filed_at.as_microsecond(),
        })
        .collect()
}

/// Publishes the ranking of `stage`.
pub async fn publish(
    office: &Office,
    context: &CallContext,
    request: PublishRankingRequest,
) -> Result<PublishRankingResponse, ServiceError> {
    context.require_role(&[Role::Admin, Role::BackOffice])?;
    let id = WindowId(sportello_kit::domain::parse_field(
        "window_id",
        request.window_id.trim(),
    )?);
    let stage = Stage::parse(request.stage)?;
    let mut uow = office.db.begin().await?;
    let window = store::lock_window(&mut uow, id)
        .await?
        .ok_or(EducationError::NotFound {
            field: "window_id",
            what: "nessuna finestra di iscrizione con questo id / no enrolment window with this id",
        })?;
    let w = &window.window;
    context.ensure_municipality(w.municipality)?;
    let today = rome::date_of(uow.now());
    if today <= w.closes_on {
        return Err(EducationError::Precondition(format!(
            "le iscrizioni chiudono il {}: la graduatoria si calcola dopo / applications close on \
             {}: the ranking comes after",
            w.closes_on, w.closes_on
        ))
        .into());
    }
    if store::find_ranking(uow.conn(), id, stage).await?.is_some() {
        return Err(EducationError::RankingExists.into());
    }
    if stage == Stage::Final
        && store::find_ranking(uow.conn(), id, Stage::Provisional)
            .await?
            .is_none()
    {
        return Err(EducationError::Precondition(
            "prima la graduatoria provvisoria, aperta ai ricorsi / the provisional ranking, open \
             to objections, comes first"
                .into(),
        )
        .into());
    }
    if stage == Stage::Final {
        let provisional = store::find_ranking(uow.conn(), id, Stage::Provisional)
            .await?
            .ok_or_else(|| ServiceError::internal("the provisional ranking vanished"))?;
        let last = objections::last_day(&window, &provisional)?;
        if today <= last {
            return Err(EducationError::Precondition(format!(
                "i ricorsi si presentano fino al {last}: la definitiva si pubblica dopo / \
                 objections are taken until {last}: the final ranking comes after"
            ))
            .into());
        }
        let open = store::open_objections(uow.conn(), id).await?;
        if open > 0 {
            return Err(EducationError::Precondition(format!(
                "{open} ricorsi ancora da decidere / {open} objections still to decide"
            ))
            .into());
        }
        let reviews = store::open_reviews(uow.conn(), id).await?;
        if reviews > 0 {
            return Err(EducationError::Precondition(format!(
                "{reviews} domande in riesame o in controllo / {reviews} applications under \
                 review or check"
            ))
            .into());
        }
    }
    let applications = store::applications_of(uow.conn(), id).await?;
    let ranked = ranking::rank(candidates(&applications));
    let rows = ranking::published(&ranked);
    let published = store::Ranking {
        window_id: id,
        stage,
        criteria_version: i32::try_from(w.criteria.version).unwrap_or(i32::MAX),
        open_data_csv: ranking::open_data_csv(&rows),
        rows,
        published_at: uow.now(),
    };
    store::insert_ranking(&mut uow, &published).await?;
    if stage == Stage::Provisional {
        // The check of self-declarations by sample, drawn once, with the provisional
        // ranking (DPR 445/2000 art. 71).
        for application in checks::draw(&office.key, &window, &applications) {
            let review = sportello_kit::protocol::document_key(&[
                &id.0.to_string(),
                "declaration_check",
                &application.id.0.to_string(),
            ]);
            let reason = format!(
                "estratta per il controllo a campione delle dichiarazioni ({} % delle domande, \
                 DPR 445/2000 art. 71)",
                w.check_percent
            );
            store::insert_review(
                &mut uow,
                review,
                application.id,
                "declaration_check",
                &reason,
            )
            .await?;
            work::request_review(
                &mut uow,
                review,
                application,
                w.municipality,
                "declaration_check",
                &reason,
            )
            .await?;
        }
    }
    let version = store::bump_window(&mut uow, id).await?;
    let key = id.0.to_string();
    let event = RankingPublished {
        window_id: key.clone(),
        municipality_istat_code: w.municipality.to_string(),
        stage: stage.message() as i32,
        places: u32::try_from(published.rows.len()).unwrap_or(u32::MAX),
    };
    uow.emit(
        &event,
        Aggregate {
            kind: "education.enrolment_window",
            id: &key,
            version,
            municipality: w.municipality,
        },
    )
    .await?;
    uow.commit().await?;
    Ok(PublishRankingResponse {
        ranking: Some(message::ranking(&published)),
    })
}
