-- Operators who sign in with OpenID Connect (authorization code + PKCE).

-- A sign-in under way, from /accedi/oidc to /auth/callback: found by the SHA-256 of its
-- state, bound to the browser that started it (the SHA-256 of a cookie), with the nonce
-- and the PKCE verifier; a few minutes long and deleted when used, so a state works once.
create table oidc_logins (
    state_sha256   bytea       primary key check (length(state_sha256) = 32),
    browser_sha256 bytea       not null check (length(browser_sha256) = 32),
    nonce          text        not null check (length(nonce) between 16 and 256),
    pkce_verifier  text        not null check (length(pkce_verifier) between 43 and 128),
    created_at     timestamptz not null,
    expires_at     timestamptz not null,
    check (expires_at > created_at)
);
create index oidc_logins_expiry on oidc_logins (expires_at);

-- Which provider user an account is: issuer and subject, linked at the first sign-in;
-- the account's roles, department and municipality follow the claims at every sign-in.
create table oidc_identities (
    issuer        text        not null check (length(issuer) between 1 and 500),
    subject       text        not null check (length(subject) between 1 and 255),
    account_id    text        not null unique references accounts (id) on delete cascade,
    created_at    timestamptz not null,
    last_login_at timestamptz not null,
    primary key (issuer, subject)
);

-- Sessions opened through a provider: signing out sends the browser to its logout.
create table oidc_sessions (
    session_id uuid primary key references sessions (id) on delete cascade,
    issuer     text not null
);
