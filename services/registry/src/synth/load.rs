//! Loading a synthetic city with `COPY`, once: only into a municipality whose register is
//! empty, under an advisory lock so two loaders started together load it once. The load
//! writes no events: it is demo and benchmark data, not something that happened.

use std::{collections::HashMap, fmt::Write as _};

use jiff::Timestamp;
use sportello_kit::{PseudonymKey, db, uow::SqlTimestamp};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{City, Options, StateRow, generate};

/// What [`ensure_loaded`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    /// The city was generated and loaded: this many people (residents and former ones).
    Loaded {
        /// People loaded.
        people: usize,
        /// Of whom resident.
        residents: usize,
    },
    /// The municipality already had people in its register: nothing was done.
    AlreadyPresent {
        /// People already there.
        people: i64,
    },
}

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The city could not be generated.
    #[error(transparent)]
    Generate(#[from] super::SynthError),
    /// The database refused.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Generates and loads the city described by `options` unless the municipality's
/// register already holds someone. `pool` is the registry's (its schema migrated);
/// `now` is recorded as the load time.
pub async fn ensure_loaded(
    pool: &PgPool,
    options: &Options,
    key: &PseudonymKey,
    now: Timestamp,
) -> Result<LoadOutcome, LoadError> {
    let mut tx = pool.begin().await?;
    let lock = db::advisory_key(&format!(
        "sportello.registry.synth.{}",
        options.municipality
    ));
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(lock)
        .execute(&mut *tx)
        .await?;
    let present: i64 = sqlx::query_scalar("select count(*) from residents where municipality = $1")
        .bind(options.municipality.as_str())
        .fetch_one(&mut *tx)
        .await?;
    if present > 0 {
        return Ok(LoadOutcome::AlreadyPresent { people: present });
    }
    let city = generate(options, key)?;
    load(&mut tx, &city, now).await?;
    tx.commit().await?;
    Ok(LoadOutcome::Loaded {
        people: city.people.len(),
        residents: city.residents(),
    })
}

/// Loads `city` through `conn` (inside the caller's transaction).
pub async fn load(conn: &mut PgConnection, city: &City, now: Timestamp) -> Result<(), sqlx::Error> {
    let streets = upsert_streets(conn, city, now).await?;
    let at = SqlTimestamp::from(now).to_jiff().to_string();
    let municipality = city.municipality.as_str();

    let mut families = String::new();
    for id in &city.families {
        let _ = writeln!(families, "{id}\t{municipality}\t{at}");
    }
    copy(
        conn,
        "copy families (id, municipality, created_at) from stdin",
        families,
    )
    .await?;

    let mut people = String::new();
    for p in &city.people {
        let _ = writeln!(
            people,
            "{}\t{municipality}\t{}\t{}\t1\t{at}",
            p.id, p.fiscal_code, p.requester_ref
        );
    }
    copy(
        conn,
        "copy residents (id, municipality, fiscal_code, requester_ref, version, created_at) from stdin",
        people,
    )
    .await?;

    let mut states = String::new();
    for s in &city.states {
        state_line(&mut states, s, &streets, &at);
    }
    copy(
        conn,
        "copy resident_versions (id, resident_id, valid_from, valid_to, recorded_at, cause,
             follows_version_id, surname, given_names, sex, birth_date, birthplace_code,
             citizenship, status, family_id, relationship, street_id, house_number,
             destination) from stdin",
        states,
    )
    .await?;
    Ok(())
}

/// The city's streets, added unless their code is taken; returns every street's id by
/// index into `city.streets`.
async fn upsert_streets(
    conn: &mut PgConnection,
    city: &City,
    now: Timestamp,
) -> Result<HashMap<usize, Uuid>, sqlx::Error> {
    let codes: Vec<&str> = city.streets.iter().map(|s| s.code.as_str()).collect();
    let qualifiers: Vec<&str> = city.streets.iter().map(|s| s.qualifier).collect();
    let names: Vec<&str> = city.streets.iter().map(|s| s.name).collect();
    let postal_codes: Vec<&str> = city.streets.iter().map(|s| s.postal_code).collect();
    sqlx::query(
        "insert into streets (id, municipality, street_code, qualifier, name, postal_code, created_at)
         select gen_random_uuid(), $1, code, qualifier, name, postal_code, $6
         from unnest($2::text[], $3::text[], $4::text[], $5::text[]) as s(code, qualifier, name, postal_code)
         on conflict (municipality, street_code) do nothing",
    )
    .bind(city.municipality.as_str())
    .bind(&codes)
    .bind(&qualifiers)
    .bind(&names)
    .bind(&postal_codes)
    .bind(SqlTimestamp::from(now))
    .execute(&mut *conn)
    .await?;
    let rows: Vec<(String, Uuid)> =
        sqlx::query_as("select street_code, id from streets where municipality = $1")
            .bind(city.municipality.as_str())
            .fetch_all(&mut *conn)
            .await?;
    let by_code: HashMap<String, Uuid> = rows.into_iter().collect();
    Ok(city
        .streets
        .iter()
        .enumerate()
        .filter_map(|(i, s)| by_code.get(&s.code).map(|id| (i, *id)))
        .collect())
}

/// One line of COPY's text format: tabs between columns, `\N` for null, and the few
/// characters the format escapes.
fn state_line(out: &mut String, s: &StateRow, streets: &HashMap<usize, Uuid>, at: &str) {
    fn opt<T: std::fmt::Display>(value: Option<T>) -> String {
        value.map_or_else(|| "\\N".to_owned(), |v| escape(&v.to_string()))
    }
    let _ = writeln!(
        out,
        "{}\t{}\t{}\t{}\t{at}\tsynthetic_load\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        s.id,
        s.resident_id,
        s.valid_from,
        opt(s.valid_to),
        opt(s.follows),
        escape(&s.surname),
        escape(&s.given_names),
        s.sex,
        s.birth_date,
        s.birthplace,
        s.citizenship,
        s.status.as_db(),
        opt(s.family_id),
        opt(s.relationship.map(|r| r.as_db())),
        opt(s.street.and_then(|i| streets.get(&i))),
        opt(s.house_number.as_deref()),
        opt(s.destination),
    );
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

async fn copy(conn: &mut PgConnection, statement: &str, data: String) -> Result<u64, sqlx::Error> {
    let mut copy = conn.copy_in_raw(statement).await?;
    for chunk in data.as_bytes().chunks(1 << 20) {
        if let Err(error) = copy.send(chunk).await {
            let _ = copy.abort(error.to_string()).await;
            return Err(error);
        }
    }
    copy.finish().await
}
