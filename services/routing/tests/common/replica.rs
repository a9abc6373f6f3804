//! A routing replica as its own operating-system process (the `sportello-routing`
//! binary), so that a test can kill it at a chosen instant: with SIGKILL from outside, or
//! from inside at one of the kit's fault points (`sportello_kit::inbox::fault`).

use std::time::Duration;

use sportello_proto::routing::v1::{GetSiteRequest, site_service_client::SiteServiceClient};

use super::{Desk, settings};

/// A replica process; killed when dropped.
pub struct ReplicaProcess {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl ReplicaProcess {
    /// Starts the binary on the test's database and stream and waits until it answers
    /// over gRPC. `nats_url` may point where nothing listens: the replica then serves
    /// without NATS, and its relay can publish nothing.
    pub async fn spawn(desk: &Desk, nats_url: &str) -> Self {
        Self::spawn_with(desk, nats_url, &[]).await
    }

    /// As [`Self::spawn`], with more environment: a fault point, a shorter ack wait.
    pub async fn spawn_with(desk: &Desk, nats_url: &str, env: &[(&str, &str)]) -> Self {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (grpc, metrics) = (port(), port());
        let config = &desk.ctx.config;
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sportello-routing"))
            .env("DATABASE_URL", &config.database_url)
            .env("DATABASE_MAX_CONNECTIONS", "4")
            .env("NATS_URL", nats_url)
            .env("NATS_SUBJECT_PREFIX", config.subject_prefix.as_str())
            .env("LISTEN_HOST", "127.0.0.1")
            .env("GRPC_PORT", grpc.to_string())
            .env("METRICS_PORT", metrics.to_string())
            .env("LOG_FORMAT", "text")
            // A heartbeat check it inherits must not turn the operator offline.
            .env("HEARTBEAT_TIMEOUT", "1d")
            // The keys sealing the register's names, required at start.
            .env(
                "PROTOCOL_NAME_KEYS",
                "k1:0101010101010101010101010101010101010101010101010101010101010101",
            )
            .env(
                "PSEUDONYM_KEY",
                "0202020202020202020202020202020202020202020202020202020202020202",
            )
            .env("RUST_LOG", "warn")
            .envs(sportello_kit::testing::pki::tls_vars("svc/routing"))
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(env.iter().copied())
            .spawn()
            .expect("start the sportello-routing binary");
        let mut process = Self {
            child,
            addr: ([127, 0, 0, 1], grpc).into(),
        };
        // Serving: the gRPC port answers a call that reads the database.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("the replica process exited while starting: {status}");
            }
            if let Ok(channel) = process.channel().await
                && SiteServiceClient::new(channel)
                    .get_site(super::request(GetSiteRequest {
                        site_id: desk.site_id.clone(),
                    }))
                    .await
                    .is_ok()
            {
                return process;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replica process did not serve within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A channel to it, as the gateway (mutual TLS, like every caller).
    pub async fn channel(
        &self,
    ) -> Result<sportello_kit::PeerChannel, sportello_kit::trust::ChannelError> {
        sportello_kit::PeerChannel::connect(
            &sportello_kit::testing::pki::identity("svc/gateway"),
            "routing",
            &format!("https://{}", self.addr),
            Duration::from_secs(30),
        )
        .await
    }

    /// SIGKILL: no shutdown order, no last relay pass, no rollback sent by the process.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "killed, not stopped"
        );
    }

    /// Waits (at most `within`) for the process to end by itself, and returns how it
    /// ended.
    pub async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the replica process still runs after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ReplicaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A desk whose manual clock reads the real time, which the replica process reads too.
pub async fn desk_on_real_time() -> Desk {
    let ctx = super::context().await;
    ctx.clock.set(jiff::Timestamp::now());
    Desk::open_with(ctx, 2, settings(20, 2)).await
}

/// Waits (polling, at most 15 s) until `check` holds.
pub async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
