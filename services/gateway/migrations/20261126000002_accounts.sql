-- Local accounts (the embedded default; production signs in through OIDC and keeps only
-- the roles here). Passwords are argon2id PHC strings, never the password.
create table accounts (
    id            text        primary key check (id ~ '^[a-z0-9._-]{1,64}$'),
    municipality  text        not null check (municipality ~ '^[0-9]{6}$'),
    display_name  text        not null check (length(display_name) between 1 and 120),
    password_hash text        check (password_hash like '$argon2id$%'),
    roles         text[]      not null check (
        cardinality(roles) between 1 and 7
        and roles <@ array['info_desk', 'polivalente', 'tecnico', 'back_office',
                           'manager', 'admin', 'kiosk']::text[]),
    -- Back-office and technical operators work for one department.
    department    text        check (department ~ '^[a-z_]{1,32}$'),
    active        boolean     not null default true,
    created_at    timestamptz not null,
    updated_at    timestamptz not null,
    check (department is not null
           or not (roles && array['back_office', 'tecnico']::text[]))
);

-- What happened to accounts and sessions: sign-ins (good and bad), sign-outs, changes.
create table account_audit (
    id         uuid        primary key,
    account_id text        not null,
    kind       text        not null check (kind in
        ('login', 'login_failed', 'logout', 'created', 'updated')),
    at         timestamptz not null,
    actor      text        not null
);
create index account_audit_account on account_audit (account_id, at);

-- A session is found by the SHA-256 of its cookie token (a stolen table row is not a
-- session), and carries the CSRF token its pages send back on every change.
alter table sessions
    add column token_sha256 bytea unique check (length(token_sha256) = 32),
    add column csrf_token   text  check (csrf_token ~ '^[0-9a-f]{64}$');
