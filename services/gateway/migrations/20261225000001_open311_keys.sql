-- Open311 API keys: each names the client application that writes reports through
-- the gateway's GeoReport v2 API (FixMyStreet, a civic app). The key itself is shown
-- once when issued and kept only as its SHA-256, like a session token; a revoked key
-- stays for the record of who wrote what.
create table open311_keys (
    id                      uuid        primary key,
    municipality_istat_code text        not null check (municipality_istat_code ~ '^[0-9]{6}$'),
    application             text        not null check (length(application) between 1 and 80),
    key_sha256              bytea       not null unique check (length(key_sha256) = 32),
    created_at              timestamptz not null,
    created_by              text        not null,
    revoked_at              timestamptz,
    revoked_by              text,
    check ((revoked_at is null) = (revoked_by is null))
);
create index open311_keys_municipality on open311_keys (municipality_istat_code, created_at);
