//! Local accounts: who may sign in, with which roles, for which municipality and
//! department. Every change and every sign-in is written to `account_audit`.

use serde::{Deserialize, Serialize};
use sportello_kit::{Db, MunicipalityCode, ServiceError, uow::SqlTimestamp};
use sqlx::{PgConnection, Row, postgres::PgRow};
use uuid::Uuid;

use super::{password, roles::Role};

/// An account as the API shows it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Account id, also the routing operator id: `m.rossi`.
    pub id: String,
    /// ISTAT code of the municipality it works for.
    pub municipality: MunicipalityCode,
    /// Name shown on the console.
    pub display_name: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// Its department, for departmental roles.
    pub department: Option<String>,
    /// Whether it may sign in.
    pub active: bool,
}

impl Account {
    /// Whether it holds any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }

    /// Whether it may act on a case of `department`: departmental roles only on their
    /// own department; counter roles on any (routing checks their skills).
    pub fn may_serve_department(&self, department: &str) -> bool {
        let generalist = self
            .roles
            .iter()
            .any(|r| matches!(r, Role::InfoDesk | Role::Polivalente));
        generalist || self.department.as_deref() == Some(department)
    }

    pub(crate) fn from_row(row: &PgRow) -> Result<Self, ServiceError> {
        let municipality: String = row.try_get("municipality")?;
        let roles: Vec<String> = row.try_get("roles")?;
        Ok(Self {
            id: row.try_get("id")?,
            municipality: municipality
                .parse()
                .map_err(|e: &str| ServiceError::internal(e.to_owned()))?,
            display_name: row.try_get("display_name")?,
            roles: roles
                .iter()
                .map(|r| r.parse().map_err(ServiceError::internal))
                .collect::<Result<_, _>>()?,
            department: row.try_get("department")?,
            active: row.try_get("active")?,
        })
    }
}

/// A new account, or the new state of one, as an administrator enters it.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountInput {
    /// Account id (only when creating).
    #[serde(default)]
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// A new password; empty keeps the current one.
    #[serde(default)]
    pub password: String,
    /// Roles, by name.
    pub roles: Vec<String>,
    /// Department, for departmental roles.
    #[serde(default)]
    pub department: Option<String>,
    /// Whether it may sign in; default true.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// An input checked field by field.
struct Checked {
    display_name: String,
    roles: Vec<Role>,
    department: Option<String>,
}

fn check(input: &AccountInput) -> Result<Checked, ServiceError> {
    let mut violations = Vec::new();
    let display_name = input.display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 120 {
        violations.push(("display_name", "must be 1 to 120 characters".to_owned()));
    }
    let mut roles = Vec::new();
    for name in &input.roles {
        match name.parse::<Role>() {
            Ok(role) if !roles.contains(&role) => roles.push(role),
            Ok(_) => {}
            Err(e) => violations.push(("roles", e)),
        }
    }
    if input.roles.is_empty() {
        violations.push(("roles", "at least one role is required".to_owned()));
    }
    let department = input
        .department
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if let Some(d) = &department
        && !(d.len() <= 32 && d.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    {
        violations.push((
            "department",
            "lowercase letters and '_', at most 32".to_owned(),
        ));
    }
    if department.is_none() && roles.iter().any(|r| r.is_departmental()) {
        violations.push((
            "department",
            "required for the tecnico and back_office roles".to_owned(),
        ));
    }
    if violations.is_empty() {
        Ok(Checked {
            display_name,
            roles,
            department,
        })
    } else {
        Err(ServiceError::invalid_fields(
            violations
                .into_iter()
                .map(|(field, description)| sportello_kit::FieldViolation {
                    field: field.to_owned(),
                    description,
                })
                .collect(),
        ))
    }
}

/// A new account's checked fields and its password's hash.
async fn new_account(input: &AccountInput) -> Result<(Checked, String), ServiceError> {
    check_id(&input.id)?;
    let checked = check(input)?;
    let hash = password::hash(input.password.clone()).await?;
    Ok((checked, hash))
}

fn check_id(id: &str) -> Result<(), ServiceError> {
    let ok = (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid_field(
            "id",
            "1-64 lowercase letters, digits, '.', '_' or '-'",
        ))
    }
}

/// The columns an [`Account`] is read from (a macro, so queries stay static strings).
macro_rules! columns {
    () => {
        "id, municipality, display_name, roles, department, active"
    };
}

fn role_names(roles: &[Role]) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

/// Creates an account; ALREADY_EXISTS if the id is taken.
pub async fn create(
    db: &Db,
    municipality: MunicipalityCode,
    input: AccountInput,
    actor: &str,
) -> Result<Account, ServiceError> {
    let (checked, hash) = new_account(&input).await?;
    let now = SqlTimestamp::from(db.clock().now());
    let mut tx = db.pool().begin().await?;
    let row =
        sqlx::query(concat!(
        "insert into accounts (id, municipality, display_name, password_hash, roles, department,
                               active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         on conflict (id) do nothing
         returning ", columns!(), ""
    ))
        .bind(&input.id)
        .bind(municipality.as_str())
        .bind(&checked.display_name)
        .bind(hash)
        .bind(role_names(&checked.roles))
        .bind(&checked.department)
        .bind(input.active)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            ServiceError::new(
                sportello_kit::ErrorKind::AlreadyExists,
                format!("account {} exists already", input.id),
            )
        })?;
    audit(&mut tx, &input.id, "created", actor, now).await?;
    tx.commit().await?;
    Account::from_row(&row)
}

/// Updates an account of `municipality`; an empty password keeps the current one.
///
/// A new password ends the account's sessions but `keep` (the session that changed its
/// own password stays signed in); an administrator resetting another's password passes
/// `None`, and every session of that account ends. Whoever knew the old password is out.
pub async fn update(
    db: &Db,
    municipality: MunicipalityCode,
    id: &str,
    input: AccountInput,
    actor: &str,
    keep: Option<Uuid>,
) -> Result<Account, ServiceError> {
    let checked = check(&input)?;
    let hash = if input.password.is_empty() {
        None
    } else {
        Some(password::hash(input.password.clone()).await?)
    };
    let now = SqlTimestamp::from(db.clock().now());
    let mut tx = db.pool().begin().await?;
    let row = sqlx::query(concat!(
        "update accounts set display_name = $3, password_hash = coalesce($4, password_hash),
                roles = $5, department = $6, active = $7, updated_at = $8
         where id = $1 and municipality = $2
         returning ",
        columns!(),
        ""
    ))
    .bind(id)
    .bind(municipality.as_str())
    .bind(&checked.display_name)
    .bind(&hash)
    .bind(role_names(&checked.roles))
    .bind(&checked.department)
    .bind(input.active)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ServiceError::new(sportello_kit::ErrorKind::NotFound, "no such account"))?;
    if !input.active {
        // A deactivated account's sessions end now.
        sqlx::query(
            "update sessions set revoked_at = $2 where user_id = $1 and revoked_at is null",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    } else if hash.is_some() {
        // A new password: every other session ends now, in the same transaction.
        sqlx::query(
            "update sessions set revoked_at = $2
             where user_id = $1 and revoked_at is null and id is distinct from $3",
        )
        .bind(id)
        .bind(now)
        .bind(keep)
        .execute(&mut *tx)
        .await?;
    }
    audit(&mut tx, id, "updated", actor, now).await?;
    tx.commit().await?;
    Account::from_row(&row)
}

/// Every account of `municipality`, by id.
pub async fn list(db: &Db, municipality: MunicipalityCode) -> Result<Vec<Account>, ServiceError> {
    let rows = sqlx::query(concat!(
        "select ",
        columns!(),
        " from accounts where municipality = $1 order by id"
    ))
    .bind(municipality.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(Account::from_row).collect()
}

/// The active account `id` if `password` is its password. Failed and good attempts are
/// both audited.
pub async fn authenticate(
    db: &Db,
    id: &str,
    password_given: String,
) -> Result<Option<Account>, ServiceError> {
    // A name no account can have is unknown without asking the database (which would
    // refuse some of them, such as one holding U+0000); the hash is checked all the same.
    let row = if check_id(id).is_ok() {
        sqlx::query(concat!(
            "select ",
            columns!(),
            ", password_hash from accounts where id = $1 and active"
        ))
        .bind(id)
        .fetch_optional(db.pool())
        .await?
    } else {
        None
    };
    let stored: Option<String> = match &row {
        Some(row) => row.try_get("password_hash")?,
        None => None,
    };
    let good = password::verify(password_given, stored).await?;
    let now = SqlTimestamp::from(db.clock().now());
    let mut conn = db.pool().acquire().await?;
    match row {
        Some(row) if good => {
            audit(&mut conn, id, "login", &format!("operator:{id}"), now).await?;
            Ok(Some(Account::from_row(&row)?))
        }
        Some(_) => {
            audit(&mut conn, id, "login_failed", "anonymous:login", now).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

pub(crate) async fn audit(
    conn: &mut PgConnection,
    account: &str,
    kind: &str,
    actor: &str,
    at: SqlTimestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into account_audit (id, account_id, kind, at, actor) values ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(account)
    .bind(kind)
    .bind(at)
    .bind(actor)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Creates or resets an account with a known password (demo seeding): the account ends
/// as given whether or not it existed.
pub async fn upsert_seeded(
    db: &Db,
    municipality: MunicipalityCode,
    input: AccountInput,
) -> Result<(), ServiceError> {
    let (checked, hash) = new_account(&input).await?;
    let now = SqlTimestamp::from(db.clock().now());
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "insert into accounts (id, municipality, display_name, password_hash, roles, department,
                               active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, true, $7, $7)
         on conflict (id) do update set municipality = excluded.municipality,
             display_name = excluded.display_name, password_hash = excluded.password_hash,
             roles = excluded.roles, department = excluded.department, active = true,
             updated_at = excluded.updated_at",
    )
    .bind(&input.id)
    .bind(municipality.as_str())
    .bind(&checked.display_name)
    .bind(hash)
    .bind(role_names(&checked.roles))
    .bind(&checked.department)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit(&mut tx, &input.id, "updated", "system:demo-seed", now).await?;
    tx.commit().await?;
    Ok(())
}
