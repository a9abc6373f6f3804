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

/// The search, one statement whatever the question: each pass is a CTE that runs only
/// when the passes before it left the page short (a one-time filter on their counts, so
/// PostgreSQL skips its scan entirely), and excludes what they found. One round trip and
/// one prepared plan instead of up to five statements in a transaction; only the page's
/// ids, titles and scores go through the sorts, the full rows are read for the page alone.
///
/// `$1` municipality, `$2` the question, `$3` the page's size, `$4` the typo threshold,
/// set for this transaction only (`set_config(…, true)`) inside `q`: every use of the
/// trigram operator needs `q.folded`, so `q` (materialized) is always evaluated first.
const SEARCH: &str = "
with q as materialized (
    select w.all_words,
           nullif(replace(w.all_words::text, '&', '|'), '')::tsquery as any_words,
           kb_fold($2) as folded,
           set_config('pg_trgm.word_similarity_threshold', $4, true) as threshold
      from (select nullif(plainto_tsquery('italian_folded', $2)::text, '')::tsquery
                       as all_words) w
),
title_all as materialized (
    select a.id, a.title, 1 as pass, 4 + ts_rank(a.title_search, q.all_words) as score
      from kb_answers a, q
     where a.municipality = $1 and a.title_search @@ q.all_words
     order by score desc, a.title
     limit $3
),
body_all as materialized (
    select a.id, a.title, 2 as pass, 3 + ts_rank(a.search, q.all_words) as score
      from kb_answers a, q
     where (select count(*) from title_all) < $3
       and a.municipality = $1 and a.search @@ q.all_words
       and a.id not in (select id from title_all)
     order by score desc, a.title
     limit $3
),
title_any as materialized (
    select a.id, a.title, 3 as pass, 2 + ts_rank(a.title_search, q.any_words) as score
      from kb_answers a, q
     where (select count(*) from title_all) + (select count(*) from body_all) < $3
       and a.municipality = $1 and a.title_search @@ q.any_words
       and a.id not in (select id from title_all union all select id from body_all)
     order by score desc, a.title
     limit $3
),
body_any as materialized (
    select a.id, a.title, 4 as pass, 1 + ts_rank(a.search, q.any_words) as score
      from kb_answers a, q
     where (select count(*) from title_all) + (select count(*) from body_all)
           + (select count(*) from title_any) < $3
       and a.municipality = $1 and a.search @@ q.any_words
       and a.id not in (select id from title_all union all select id from body_all
                        union all select id from title_any)
     order by score desc, a.title
     limit $3
),
alike as materialized (
    select a.id, a.title, 5 as pass, word_similarity(q.folded, a.folded) as score
      from kb_answers a, q
     where (select count(*) from title_all) + (select count(*) from body_all)
           + (select count(*) from title_any) + (select count(*) from body_any) < $3
       and q.threshold is not null
       and a.municipality = $1 and a.folded %> q.folded
       and a.id not in (select id from title_all union all select id from body_all
                        union all select id from title_any union all select id from body_any)
     order by q.folded <<-> a.folded, a.title
     limit $3
),
page as (
    select * from title_all union all select * from body_all union all select * from title_any
    union all select * from body_any union all select * from alike
    order by pass, score desc, title
    limit $3
)
select a.id, a.municipality, a.service_code, a.title, a.body, a.what_to_bring,
       a.where_to_go, a.cost, a.duration, a.keywords, a.version, a.updated_at,
       page.score::float8 as score
  from page join kb_answers a using (id)
 order by page.pass, page.score desc, a.title";

/// The answers matching `question`, best first, with their scores: those whose title and
/// keywords hold all of its words' roots (accents folded); then, if fewer than asked,
/// those whose body does; then any root, in the title and then the body; then those whose
/// folded title and keywords are alike enough to be the question mistyped. Each wider
/// pass runs only when the narrower did not fill the page: they cost more as they match
/// more.
pub async fn search(db: &Db, question: &Question) -> Result<Vec<(Answer, f64)>, sqlx::Error> {
    let rows = sqlx::query(SEARCH)
        .bind(question.municipality.as_str())
        .bind(&question.text)
        .bind(question.limit)
        .bind(TYPO_THRESHOLD)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| Ok((answer_from(row)?, row.try_get::<f64, _>("score")?)))
        .collect()
}
