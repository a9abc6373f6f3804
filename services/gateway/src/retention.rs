//! The gateway's retention rule (issue 19): an operator's session, once expired or
//! revoked, is deleted after `RETENTION_SESSIONS` (30 days by default: enough to look into
//! an incident reported late; who did what is in the services' audit, not here). The
//! revocations (`session_revocations`) are the audit trail of who ended whose sessions and
//! stay. A session's OIDC link (`oidc_sessions`) goes with it (`on delete cascade`), and
//! an OpenID Connect sign-in abandoned at the provider (`oidc_logins`: a state, a nonce, a
//! PKCE verifier, useless once expired) goes after the same period.

use sportello_kit::retention::{Action, Category, RetentionRule};

/// The gateway's rules, handed to the kit's janitor at start.
pub static RULES: &[RetentionRule] = &[
    RetentionRule {
        name: "gateway.sessions",
        category: Category::Sessions,
        table: "sessions",
        // A session ends at its expiry or, if earlier, its revocation.
        age: "least(expires_at, coalesce(revoked_at, expires_at))",
        pending: "true",
        action: Action::Delete,
    },
    RetentionRule {
        name: "gateway.oidc_logins",
        category: Category::Sessions,
        table: "oidc_logins",
        age: "expires_at",
        pending: "true",
        action: Action::Delete,
    },
];
