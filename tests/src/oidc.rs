//! A real OpenID provider for the tests: `tests/oidc/provider.mjs` (panva's certified
//! oidc-provider under Node) started on a free port, stopped when dropped.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The client id the provider registers for the gateway.
pub const CLIENT_ID: &str = "sportello-gateway";
/// The client's secret (a confidential client, as a production gateway is).
pub const CLIENT_SECRET: &str = "segreto-di-prova-del-gateway";

/// A running provider.
#[derive(Debug)]
pub struct OidcProvider {
    /// Its issuer, `http://127.0.0.1:<port>`.
    pub issuer: String,
    child: Child,
}

impl OidcProvider {
    /// Starts the provider for a gateway whose callback is `redirect_url`; `tamper`
    /// (`nonce`, `issuer`, `unsigned`, `expired`) makes its token endpoint answer with
    /// an ID token altered that way.
    pub async fn start(redirect_url: &str, tamper: Option<&str>) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test OpenID provider is not installed: run `make oidc-provider` \
             (npm ci in tests/oidc)"
        );
        // Node starts it in about a second; once in a full `make test` on the loaded
        // 2-core machine one start never printed its ready line within 30 s. The provider
        // is the tests' fixture, not the code under test: a start that hangs is killed and
        // made again, and only three that hang in a row fail the test.
        let mut last = None;
        for _ in 0..3 {
            match Self::spawn(&dir, redirect_url, tamper).await {
                Ok(provider) => return provider,
                Err(why) => last = Some(why),
            }
        }
        panic!("the OpenID provider did not start three times: {last:?}");
    }

    async fn spawn(
        dir: &std::path::Path,
        redirect_url: &str,
        tamper: Option<&str>,
    ) -> Result<Self, String> {
        let mut command = Command::new("node");
        command
            .arg(dir.join("provider.mjs"))
            .env("OIDC_PORT", "0")
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URL", redirect_url)
            .env_remove("OIDC_TAMPER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(tamper) = tamper {
            command.env("OIDC_TAMPER", tamper);
        }
        let mut child = command.spawn().expect("node runs tests/oidc/provider.mjs");
        let stdout = child.stdout.take().expect("piped stdout");
        // Read until the ready line, then keep draining: the provider may print more
        // (its warnings), and a closed pipe would kill it.
        let (tx, ready) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(issuer) = line.strip_prefix("OIDC_PROVIDER_READY ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(issuer.to_owned());
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(20), ready).await {
            Ok(Ok(issuer)) => Ok(Self { issuer, child }),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{other:?}"))
            }
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
