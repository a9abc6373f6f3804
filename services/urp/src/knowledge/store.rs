//! Answers in PostgreSQL, and the search.

use jiff::Timestamp;
use sportello_kit::{Db, UnitOfWork, uow::SqlTimestamp};
use sqlx::{Row, postgres::PgRow};
use uuid::Uuid;

use super::domain::{NewAnswer, Question};

/// How alike a question and a title (with its keywords) must be, folded, for a typo to
/// still match (`pg_trgm`'s word similarity, 0 to 1; its default 0.6 misses "certifcato").
const TYPO_THRESHOLD: &str = "0.45";

/// A stored answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Record id.
    pub id: Uuid,
    /// What was published.
    pub answer: NewAnswer,
    /// Version.
    pub version: i64,
    /// When this version was published.
    pub updated_at: Timestamp,
}

fn answer_from(row: &PgRow) -> Result<Answer, sqlx::Error> {
    let municipality: String = row.try_get("municipality")?;
    Ok(Answer {
        id: row.try_get("id")?,
        answer: NewAnswer {
            municipality: municipality
                .parse()
                .map_err(|_| sqlx::Error::Decode("urp: bad municipality in the database".into()))?,
            service_code: row.try_get("service_code")?,
            title: row.try_get("title")?,
            body: row.try_get("body")?,
            what_to_bring: row.try_get("what_to_bring")?,
            where_to_go: row.try_get("where_to_go")?,
            cost: row.try_get("cost")?,
            duration: row.try_get("duration")?,
            keywords: row.try_get("keywords")?,
        },
        version: row.try_get("version")?,
        updated_at: row.try_get::<SqlTimestamp, _>("updated_at")?.to_jiff(),
    })
}

/// Publishes `answer`: the service's first, or a new version of it.
pub async fn publish(uow: &mut UnitOfWork, answer: &NewAnswer) -> Result<Answer, sqlx::Error> {
    let now = SqlTimestamp::from(uow.now());
    let row = sqlx::query(
        "insert into kb_answers (id, municipality, service_code, title, body, what_to_bring,
                                 where_to_go, cost, duration, keywords, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         on conflict (municipality, service_code) do update
           set title = excluded.title, body = excluded.body,
               what_to_bring = excluded.what_to_bring, where_to_go = excluded.where_to_go,
               cost = excluded.cost, duration = excluded.duration, keywords = excluded.keywords,
               version = kb_answers.version + 1, updated_at = excluded.updated_at
         returning id, municipality, service_code, title, body, what_to_bring, where_to_go,
                   cost, duration, keywords, version, updated_at",
    )
    .bind(Uuid::now_v7())
    .bind(answer.municipality.as_str())
    .bind(&answer.service_code)
    .bind(&answer.title)
    .bind(&answer.body)
    .bind(&answer.what_to_bring)
    .bind(&answer.where_to_go)
    .bind(&answer.cost)
    .bind(&answer.duration)
    .bind(&answer.keywords)
    .bind(now)
    .fetch_one(uow.conn())
    .await?;
    answer_from(&row)
}

const COLUMNS: &str = "a.id, a.municipality, a.service_code, a.title, a.body, a.what_to_bring,
    a.where_to_go, a.cost, a.duration, a.keywords, a.version, a.updated_at";

/// The answers matching `question`, best first, with their scores: those whose title and
/// keywords hold all of its words' roots (accents folded); then, if fewer than asked,
/// those whose body does; then any root, in the title and then the body; then those whose
/// folded title and keywords are alike enough to be the question mistyped. Each wider
/// pass runs only when the narrower did not fill the page: they cost more as they match
/// more.
pub async fn search(db: &Db, question: &Question) -> Result<Vec<(Answer, f64)>, sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    // All of the question's roots first; any of them only if that did not fill the page.
    let mut found: Vec<(Answer, f64)> = Vec::new();
    // Title and keywords before the body, all roots before any: each pass fills what the
    // narrower ones left, and the wide ones (the body, any root) rank many rows.
    let passes = [
        ("title_search", "", 4.0),
        ("search", "", 3.0),
        ("title_search", "|", 2.0),
        ("search", "|", 1.0),
    ];
    for (column, joined, bonus) in passes {
        let missing = question.limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
        if missing <= 0 {
            break;
        }
        let seen: Vec<Uuid> = found.iter().map(|(a, _)| a.id).collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "with q as (
                 select nullif(case when $5 = '|'
                                    then replace(plainto_tsquery('italian_folded', $2)::text,
                                                 '&', '|')
                                    else plainto_tsquery('italian_folded', $2)::text end, '')
                            ::tsquery as words
             )
             select {COLUMNS}, ($6 + ts_rank(a.{column}, q.words))::float8 as score
               from kb_answers a, q
              where a.municipality = $1 and q.words is not null and a.{column} @@ q.words
                and a.id <> all($4)
              order by score desc, a.title
              limit $3"
        )))
        .bind(question.municipality.as_str())
        .bind(&question.text)
        .bind(missing)
        .bind(&seen)
        .bind(joined)
        .bind(bonus)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            found.push((answer_from(row)?, row.try_get::<f64, _>("score")?));
        }
    }
    let missing = question.limit - i64::try_from(found.len()).unwrap_or(i64::MAX);
    if missing > 0 {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "set local pg_trgm.word_similarity_threshold = {TYPO_THRESHOLD}"
        )))
        .execute(&mut *tx)
        .await?;
        let seen: Vec<Uuid> = found.iter().map(|(a, _)| a.id).collect();
        let by_likeness = sqlx::query(sqlx::AssertSqlSafe(format!(
            "with q as (select kb_fold($2) as folded)
             select {COLUMNS}, word_similarity(q.folded, a.folded)::float8 as score
               from kb_answers a, q
              where a.municipality = $1 and q.folded <% a.folded and a.id <> all($4)
              order by score desc, a.title
              limit $3"
        )))
        .bind(question.municipality.as_str())
        .bind(&question.text)
        .bind(missing)
        .bind(&seen)
        .fetch_all(&mut *tx)
        .await?;
        for row in &by_likeness {
            found.push((answer_from(row)?, row.try_get::<f64, _>("score")?));
        }
    }
    tx.commit().await?;
    Ok(found)
}
