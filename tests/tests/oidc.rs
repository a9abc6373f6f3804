//! Operators sign in with OpenID Connect against a real provider (panva's oidc-provider,
//! run by the test): authorization code with PKCE, the claims mapped to role, department
//! and municipality, the same session a local sign-in opens, and logout through the
//! provider. Refused: a replayed state, a state from another browser, a wrong nonce, a
//! wrong issuer, an unsigned ID token, an expired one, claims granting no role, and a
//! user name a local account already has.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use reqwest::{Client, StatusCode, Url, header::LOCATION, redirect::Policy};
use serde_json::Value;
use sportello_gateway::{
    auth::{
        accounts::{self, AccountInput},
        oidc::OidcConfig,
    },
    config::{DEMO_MUNICIPALITY, GatewayConfig, PEERS, Peer, WebConfig},
};
use sportello_kit::{Db, Env, Listeners, Running, testing::TestContext};
use sportello_tests::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider};
use sqlx::Row;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A gateway signing operators in through a provider of its own.
struct Setup {
    _ctx: TestContext,
    provider: OidcProvider,
    running: Running,
    gateway: Url,
    _stop: DropGuard,
}

impl Setup {
    /// The provider (its token endpoint altered as `tamper` says) and a gateway using it.
    async fn start(tamper: Option<&str>) -> Self {
        let ctx = TestContext::new(&[&sportello_gateway::SPEC]).await;
        let listeners = Listeners::ephemeral(&sportello_gateway::SPEC)
            .await
            .expect("bind port 0");
        let addr = listeners
            .http
            .as_ref()
            .expect("the gateway serves HTTP")
            .local_addr()
            .unwrap();
        let gateway: Url = format!("http://{addr}/").parse().unwrap();
        let redirect = gateway.join("/auth/callback").unwrap();
        let provider = OidcProvider::start(redirect.as_str(), tamper).await;
        let env = Env::from_pairs([
            ("OIDC_ISSUER", provider.issuer.as_str()),
            ("OIDC_CLIENT_ID", CLIENT_ID),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("OIDC_REDIRECT_URL", redirect.as_str()),
            ("OIDC_SCOPES", "profile sportello"),
        ]);
        let oidc = OidcConfig::from_env(&env).unwrap().map(std::sync::Arc::new);
        assert!(oidc.is_some());
        // No service behind is called: the channels are lazy.
        let peers = PEERS
            .iter()
            .map(|(name, _)| Peer {
                name,
                url: "https://127.0.0.1:9".into(),
            })
            .collect();
        let config = GatewayConfig {
            service: ctx.config.clone(),
            peers,
            web: WebConfig {
                cookie_secure: false, // plain HTTP on loopback
                oidc,
                ..WebConfig::default()
            },
        };
        let shutdown = CancellationToken::new();
        let running = sportello_gateway::start(config, listeners, shutdown.clone())
            .await
            .expect("the gateway starts");
        running.streams_ready().await;
        Self {
            _ctx: ctx,
            provider,
            running,
            gateway,
            _stop: shutdown.drop_guard(),
        }
    }

    fn db(&self) -> &Db {
        self.running.db()
    }

    fn url(&self, path: &str) -> Url {
        self.gateway.join(path).unwrap()
    }

    /// Through `/accedi/oidc` and the provider's sign-in form as `login`, up to the
    /// gateway's callback URL (not followed).
    async fn to_callback(&self, browser: &Client, login: &str) -> Url {
        let start = browser.get(self.url("/accedi/oidc")).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        let mut url = next(&self.url("/accedi/oidc"), &start);
        assert!(
            url.as_str().starts_with(&self.provider.issuer),
            "to the provider: {url}"
        );
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let param = |name: &str| {
            query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
        assert!(param("state").is_some() && param("nonce").is_some());
        for _ in 0..10 {
            if url.path() == "/auth/callback" {
                return url;
            }
            let reply = browser.get(url.clone()).send().await.unwrap();
            if reply.status().is_redirection() {
                url = next(&url, &reply);
                continue;
            }
            assert_eq!(reply.status(), StatusCode::OK, "{url}");
            assert!(url.path().starts_with("/interaction/"), "{url}");
            let posted = browser
                .post(url.clone())
                .form(&[("login", login), ("password", "prova")])
                .send()
                .await
                .unwrap();
            assert!(posted.status().is_redirection(), "{}", posted.status());
            url = next(&url, &posted);
        }
        panic!("the provider never sent the browser back");
    }

    /// The whole sign-in as `login`; returns the callback's answer.
    async fn sign_in(&self, browser: &Client, login: &str) -> reqwest::Response {
        let callback = self.to_callback(browser, login).await;
        browser.get(callback).send().await.unwrap()
    }

    async fn session(&self, browser: &Client) -> (StatusCode, Value) {
        let reply = browser
            .get(self.url("/api/v1/session"))
            .send()
            .await
            .unwrap();
        let status = reply.status();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    async fn accounts_named(&self, id: &str) -> i64 {
        sqlx::query_scalar("select count(*) from accounts where id = $1")
            .bind(id)
            .fetch_one(self.db().pool())
            .await
            .unwrap()
    }
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn next(from: &Url, reply: &reqwest::Response) -> Url {
    let location = reply
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("a redirect from {from}"))
        .to_str()
        .unwrap();
    from.join(location).unwrap()
}

/// The refusal page's message.
async fn refusal(reply: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(reply.status(), status);
    let page = reply.text().await.unwrap();
    assert!(
        page.contains("Accesso non riuscito / Sign-in failed"),
        "{page}"
    );
    page
}

#[tokio::test]
async fn an_operator_signs_in_through_the_provider_with_mapped_claims_and_out_again() {
    let setup = Setup::start(None).await;
    let offered: Value = browser()
        .get(setup.url("/auth/oidc"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(offered["enabled"], true);

    let browser = browser();
    let reply = setup.sign_in(&browser, "oidc.verdi").await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    assert_eq!(reply.headers()[LOCATION], "/console");
    let cookies: Vec<_> = reply
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("sportello_session="))
        .expect("a session cookie");
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Strict"));

    // The same session a local sign-in opens, with the claims mapped.
    let (status, session) = setup.session(&browser).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let account = &session["account"];
    assert_eq!(account["id"], "oidc.verdi");
    assert_eq!(account["display_name"], "Giulio Verdi");
    assert_eq!(account["roles"], serde_json::json!(["back_office"]));
    assert_eq!(account["department"], "anagrafe");
    assert_eq!(account["municipality"], DEMO_MUNICIPALITY.as_str());
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();

    // Linked by issuer and subject, with no password: no local sign-in for it.
    let row = sqlx::query(
        "select i.subject, a.password_hash from oidc_identities i
         join accounts a on a.id = i.account_id where i.issuer = $1",
    )
    .bind(&setup.provider.issuer)
    .fetch_one(setup.db().pool())
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("subject"), "oidc.verdi");
    assert_eq!(row.get::<Option<String>, _>("password_hash"), None);
    let kinds: Vec<String> = sqlx::query_scalar(
        "select kind from account_audit where account_id = 'oidc.verdi' order by id",
    )
    .fetch_all(setup.db().pool())
    .await
    .unwrap();
    assert_eq!(kinds, ["created", "login"]);
    let local = reqwest::Client::new()
        .post(setup.url("/api/v1/session"))
        .json(&serde_json::json!({"username": "oidc.verdi", "password": "prova"}))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), StatusCode::UNAUTHORIZED);

    // Logout needs the CSRF token, ends the session and sends the browser to the
    // provider's end_session_endpoint.
    let forged = browser
        .post(setup.url("/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let out: Value = browser
        .post(setup.url("/auth/logout"))
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to: Url = out["redirect"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        to.as_str().split('?').next(),
        Some(format!("{}/session/end", setup.provider.issuer).as_str()),
        "{to}"
    );
    let query: Vec<(String, String)> = to.query_pairs().into_owned().collect();
    assert!(query.contains(&("client_id".into(), CLIENT_ID.into())));
    assert!(query.contains(&(
        "post_logout_redirect_uri".into(),
        setup.url("/accesso").to_string()
    )));
    assert_eq!(setup.session(&browser).await.0, StatusCode::UNAUTHORIZED);
    let at_provider = browser.get(to).send().await.unwrap();
    assert_eq!(
        at_provider.status(),
        StatusCode::OK,
        "the provider's logout page"
    );

    // The next sign-in finds the same account again.
    let again = setup.sign_in(&browser, "oidc.verdi").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(setup.session(&browser).await.0, StatusCode::OK);
    assert_eq!(setup.accounts_named("oidc.verdi").await, 1);
}

#[tokio::test]
async fn a_replayed_state_is_refused() {
    let setup = Setup::start(None).await;
    let browser = browser();
    let callback = setup.to_callback(&browser, "oidc.rossi").await;
    let first = browser.get(callback.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()[LOCATION], "/console");
    let replay = browser.get(callback).send().await.unwrap();
    let page = refusal(replay, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("già usata"), "{page}");
}

#[tokio::test]
async fn a_state_from_another_browser_is_refused() {
    let setup = Setup::start(None).await;
    let victim = browser();
    let callback = setup.to_callback(&browser(), "oidc.rossi").await;
    refusal(
        victim.get(callback).send().await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(setup.session(&victim).await.0, StatusCode::UNAUTHORIZED);
}

/// A provider whose token endpoint alters the ID token as `tamper` says: the sign-in is
/// refused, no session, no account.
async fn refused_when_the_token_is(tamper: &str) {
    let setup = Setup::start(Some(tamper)).await;
    let browser = browser();
    let reply = setup.sign_in(&browser, "oidc.rossi").await;
    let page = refusal(reply, StatusCode::UNAUTHORIZED).await;
    assert!(
        page.contains("token d'identità ricevuto non è valido"),
        "{page}"
    );
    assert_eq!(setup.session(&browser).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(setup.accounts_named("oidc.rossi").await, 0);
}

#[tokio::test]
async fn an_id_token_with_a_wrong_nonce_is_refused() {
    refused_when_the_token_is("nonce").await;
}

#[tokio::test]
async fn an_id_token_from_a_wrong_issuer_is_refused() {
    refused_when_the_token_is("issuer").await;
}

#[tokio::test]
async fn an_unsigned_id_token_is_refused() {
    refused_when_the_token_is("unsigned").await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    refused_when_the_token_is("expired").await;
}

#[tokio::test]
async fn claims_granting_no_sportello_role_are_refused() {
    let setup = Setup::start(None).await;
    let browser = browser();
    let reply = setup.sign_in(&browser, "oidc.nessuno").await;
    let page = refusal(reply, StatusCode::FORBIDDEN).await;
    assert!(page.contains("nessun ruolo di Sportello"), "{page}");
    assert_eq!(setup.accounts_named("oidc.nessuno").await, 0);
}

#[tokio::test]
async fn a_provider_user_cannot_take_over_a_local_account() {
    let setup = Setup::start(None).await;
    accounts::upsert_seeded(
        setup.db(),
        DEMO_MUNICIPALITY,
        AccountInput {
            id: "oidc.admin".into(),
            display_name: "Account locale".into(),
            password: "una password locale lunga".into(),
            roles: vec!["polivalente".into()],
            department: None,
            active: true,
        },
    )
    .await
    .unwrap();
    let browser = browser();
    let reply = setup.sign_in(&browser, "oidc.admin").await;
    let page = refusal(reply, StatusCode::CONFLICT).await;
    assert!(page.contains("appartiene già a un altro account"), "{page}");
    let roles: Vec<String> =
        sqlx::query_scalar("select roles from accounts where id = 'oidc.admin'")
            .fetch_one(setup.db().pool())
            .await
            .unwrap();
    assert_eq!(roles, ["polivalente"], "the local account is untouched");
}
