//! A NATS server of the test's own, with authentication on exactly as deployed: one user
//! per service the test starts, with the permissions its spec derives
//! ([`crate::nats_auth`]) under the test's subject prefix, and one harness user (the
//! test itself, playing every other party) allowed everything.
//!
//! A server per test context, not one shared by the run: permissions name the streams
//! (`<PREFIX>_<PART>`), so they can only be exact for one prefix, and every test has its
//! own. The server starts in some 40 ms and goes away with the context.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use crate::{
    config::SubjectPrefix,
    nats_auth::{self, NatsPermissions, NatsUser, Password},
    service::ServiceSpec,
};

/// The nats-server binary the tests start (`deploy/local/test.sh` sets it).
pub const NATS_SERVER_VAR: &str = "SPORTELLO_TEST_NATS_SERVER";

/// The harness user's name.
pub const HARNESS_USER: &str = "test";

/// A running test NATS server; stopped and its data removed when dropped.
pub struct TestNats {
    url: String,
    passwords: HashMap<String, String>,
    child: Mutex<Child>,
    dir: PathBuf,
}

impl std::fmt::Debug for TestNats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNats")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The server's configuration: JetStream as the local stack and `deploy/` have it (fsync
/// on every write, the store encrypted at rest with the key in `$JS_KEY`), a random port,
/// the users of `users` and the harness.
pub fn config(dir: &std::path::Path, users: &[NatsUser]) -> String {
    format!(
        "listen: 127.0.0.1:-1\nmax_payload: 1MB\nports_file_dir: \"{dir}\"\npid_file: \"{dir}/nats.pid\"\n\
         jetstream {{\n  store_dir: \"{dir}/jetstream\"\n  sync_interval: always\n  cipher: chachapoly\n  key: $JS_KEY\n}}\n{accounts}",
        dir = dir.display(),
        accounts = nats_auth::render(users, None),
    )
}

impl TestNats {
    /// Starts a server with a user for each of `specs` under `prefix`.
    pub async fn start(specs: &[&'static ServiceSpec], prefix: &SubjectPrefix) -> Self {
        let users: Vec<NatsUser> = specs
            .iter()
            .map(|spec| {
                NatsUser::service(
                    NatsPermissions::of(spec, prefix),
                    Password::Literal(password()),
                )
            })
            .collect();
        Self::start_with(users).await
    }

    /// Starts a server with `users` (services' users, or hand-made ones) and the harness.
    pub async fn start_with(mut users: Vec<NatsUser>) -> Self {
        let bin = super::required_var(NATS_SERVER_VAR);
        users.push(NatsUser {
            name: HARNESS_USER.to_owned(),
            password: Password::Literal(password()),
            permissions: None,
            comment: Some("the test itself".to_owned()),
        });
        let passwords = users
            .iter()
            .filter_map(|u| match &u.password {
                Password::Literal(p) => Some((u.name.clone(), p.clone())),
                Password::Variable(_) => None,
            })
            .collect();
        let dir =
            std::env::temp_dir().join(format!("sportello-nats-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the test NATS directory");
        let conf = dir.join("nats.conf");
        std::fs::write(&conf, config(&dir, &users)).expect("write the test NATS configuration");
        let log = std::fs::File::create(dir.join("nats.log")).expect("create the NATS log");
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .env("JS_KEY", password())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let ports = dir.join(format!("nats-server_{}.ports", child.id()));
        let mut nats = Self {
            url: String::new(),
            passwords,
            child: Mutex::new(child),
            dir,
        };
        for _ in 0..1000 {
            if let Some(url) = std::fs::read(&ports)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["nats"][0].as_str().map(str::to_owned))
            {
                nats.url = url;
                return nats;
            }
            if let Ok(Some(status)) = nats.child.lock().expect("child lock").try_wait() {
                let log = std::fs::read_to_string(nats.dir.join("nats.log")).unwrap_or_default();
                panic!("the test NATS server exited ({status}): {log}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the test NATS server did not listen within 10 s");
    }

    /// `nats://127.0.0.1:<port>`, without credentials.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The JetStream store directory: what reached the disk, for tests that read it back
    /// as bytes (nothing personal may be found there in clear).
    pub fn store_dir(&self) -> std::path::PathBuf {
        self.dir.join("jetstream")
    }

    /// The password of `user`, if the server has it.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.passwords.get(user).map(String::as_str)
    }

    /// `nats://<user>:<password>@127.0.0.1:<port>`, for a binary the test starts.
    pub fn url_for(&self, user: &str) -> String {
        let password = self
            .password(user)
            .unwrap_or_else(|| panic!("the test NATS server has no user {user}"));
        self.url
            .replacen("nats://", &format!("nats://{user}:{password}@"), 1)
    }

    /// What the server refused so far, one line each (`"A/user:gateway" - Subscription
    /// Violation - Subject "…"`): a test that runs services asserts there is none, so a
    /// subscription or request missing from a spec fails the suite, not production.
    pub fn violations(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("nats.log"))
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains(" Violation"))
            .map(|line| {
                line.split_once("[ERR] ")
                    .map_or(line, |(_, rest)| rest)
                    .to_owned()
            })
            .collect()
    }

    /// A client connected as `user`.
    pub async fn connect_as(&self, user: &str) -> async_nats::Client {
        self.connect_watching(user).await.0
    }

    /// A client connected as `user`, and the errors the server sends it (a refused
    /// publish or subscription arrives as `Permissions Violation for …`).
    pub async fn connect_watching(
        &self,
        user: &str,
    ) -> (
        async_nats::Client,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let password = self
            .password(user)
            .unwrap_or_else(|| panic!("the test NATS server has no user {user}"));
        let (errors, received) = tokio::sync::mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::with_user_and_password(
            user.to_owned(),
            password.to_owned(),
        )
        .custom_inbox_prefix(nats_auth::inbox_prefix(user))
        .event_callback(move |event| {
            let errors = errors.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    let _ = errors.send(error.to_string());
                }
            }
        })
        .connect(&self.url)
        .await
        .expect("connect to the test NATS");
        (client, received)
    }
}

impl Drop for TestNats {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
