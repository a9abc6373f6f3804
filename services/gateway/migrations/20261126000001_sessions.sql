-- Operator sessions: the gateway owns nothing but these.
create table sessions (
    id         uuid        primary key,
    user_id    text        not null check (user_id ~ '^[a-z0-9._-]{1,64}$'),
    created_at timestamptz not null,
    expires_at timestamptz not null,
    revoked_at timestamptz,
    check (expires_at > created_at)
);
create index sessions_user on sessions (user_id) where revoked_at is null;

-- Every revocation, for the audit trail: sessions of the user issued before
-- revoked_before are invalid.
create table session_revocations (
    id             uuid        primary key,
    user_id        text        not null,
    revoked_before timestamptz not null,
    revoked_count  integer     not null check (revoked_count >= 0),
    reason         text        not null check (length(reason) between 1 and 500),
    actor          text        not null,
    caller         text        not null
);
create index session_revocations_user on session_revocations (user_id, revoked_before);
