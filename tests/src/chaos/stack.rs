//! The real binaries, as `make run` starts them, owned by the test so a fault can kill,
//! pause and restart any of them: `target/<profile>/sportello-<service>`, a private
//! durable PostgreSQL cluster and a NATS server (JetStream encrypted, a user per
//! service), mutual TLS between every process. `tests/chaos/stack.sh` prepares them with
//! deploy/local/lib.sh's functions; this file starts and watches the processes.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sportello_kit::{PeerChannel, TlsIdentity};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

/// Every service, in the order they start (routing first: the others reach it).
pub const SERVICES: [&str; 7] = [
    "routing",
    "registry",
    "education",
    "suap",
    "mobility",
    "urp",
    "gateway",
];

/// How long a service may take to drain after SIGTERM: the deployment's
/// terminationGracePeriodSeconds (deploy/base/services/*.yaml).
pub const GRACE: Duration = Duration::from_secs(45);

/// Synthetic residents loaded for the journeys (a few hundred, as the brief asks).
const RESIDENTS: &str = "400";

type Result<T> = std::result::Result<T, String>;

/// Where the suite's clients reach the stack: cheap to clone into every load task.
#[derive(Clone)]
pub struct Endpoints {
    /// The gateway's HTTP address.
    pub http: SocketAddr,
    /// Each service's gRPC URL (`https://127.0.0.1:port`).
    pub grpc: HashMap<&'static str, String>,
    /// Each service's Prometheus `/metrics` address.
    pub metrics: HashMap<&'static str, SocketAddr>,
    /// The command-line tool's identity (`tool/cli`): certificate, key and CA.
    pub tls: TlsIdentity,
    /// The files of that identity (cert.pem, key.pem, ca.pem), for another client.
    pub tls_dir: PathBuf,
    /// PostgreSQL as its superuser (the oracle reads every schema).
    pub database_url: String,
    /// NATS as `admin` (the oracle reads the streams and consumers).
    pub nats_admin_url: String,
}

impl std::fmt::Debug for Endpoints {
    /// The addresses; no key material, no passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoints")
            .field("http", &self.http)
            .field("grpc", &self.grpc)
            .field("metrics", &self.metrics)
            .field("tls_dir", &self.tls_dir)
            .finish_non_exhaustive()
    }
}

impl Endpoints {
    /// A gRPC channel to `service` as `tool/cli`, each call bounded by `timeout`.
    pub fn channel(&self, service: &str, timeout: Duration) -> Result<PeerChannel> {
        let url = self
            .grpc
            .get(service)
            .ok_or_else(|| format!("no service {service}"))?;
        PeerChannel::lazy(&self.tls, service, url, timeout).map_err(|e| e.to_string())
    }

    /// JetStream as NATS's `admin` user (async-nats 0.51 does not use a URL's own
    /// credentials: they are handed over as options, as the kit does).
    pub async fn jetstream(&self) -> Result<async_nats::jetstream::Context> {
        let addr: async_nats::ServerAddr = self
            .nats_admin_url
            .parse()
            .map_err(|e| format!("NATS URL: {e}"))?;
        let user = addr.username().unwrap_or_default().to_owned();
        let password = addr.password().unwrap_or_default().to_owned();
        let client = async_nats::ConnectOptions::with_user_and_password(user, password)
            .connection_timeout(Duration::from_secs(2))
            .connect(addr)
            .await
            .map_err(|e| format!("NATS: {e}"))?;
        Ok(async_nats::jetstream::new(client))
    }

    /// Whether `service` answers SERVING to a health check now.
    pub async fn serving(&self, service: &str) -> bool {
        let Ok(channel) = self.channel(service, Duration::from_secs(2)) else {
            return false;
        };
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        matches!(
            health.check(HealthCheckRequest { service: String::new() }).await,
            Ok(reply) if reply.get_ref().status() == ServingStatus::Serving
        )
    }

    /// Waits until `service` is SERVING; returns how long it took, or None at `limit`.
    pub async fn wait_serving(&self, service: &str, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.serving(service).await {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

/// The running stack: every child process, its environment and its logs.
#[derive(Debug)]
pub struct Stack {
    dir: PathBuf,
    bin: PathBuf,
    script: PathBuf,
    settings: HashMap<String, String>,
    envs: HashMap<&'static str, Vec<(String, String)>>,
    overrides: HashMap<&'static str, Vec<(String, String)>>,
    children: HashMap<&'static str, Child>,
    nats: Option<Child>,
    /// Where clients reach it.
    pub endpoints: Endpoints,
}

/// `target/<profile>`, where the test build put the service binaries.
fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("no target directory")?
        .to_path_buf();
    if !dir.join("sportello-routing").exists() {
        return Err(format!(
            "{}/sportello-routing is built with the workspace: run `make chaos` or `make test`",
            dir.display()
        ));
    }
    Ok(dir)
}

/// KEY=VALUE lines.
fn read_env(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn log_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Sends `signal` (STOP, CONT, TERM, KILL) to `pid`.
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("kill -{signal} {pid} failed"))
}

impl Stack {
    /// Prepares and starts everything in a new directory under TMPDIR, with `extra_env`
    /// in every service's environment, waits until every service serves, and seeds the
    /// demo municipality.
    pub async fn start(extra_env: &[(&str, &str)]) -> Result<Self> {
        let bin = bin_dir()?;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("no workspace")?
            .to_path_buf();
        let script = root.join("tests/chaos/stack.sh");
        let dir = std::env::temp_dir().join(format!("sportello-chaos-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let output = Command::new("bash")
            .arg(&script)
            .arg("prepare")
            .arg(&dir)
            .arg(&bin)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!(
                "tests/chaos/stack.sh prepare failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let settings: HashMap<String, String> =
            read_env(&dir.join("stack.env"))?.into_iter().collect();
        let mut envs = HashMap::new();
        for name in SERVICES.iter().chain(&["synth", "demo"]) {
            let mut env = read_env(&dir.join(format!("env/{name}.env")))?;
            if SERVICES.contains(name) {
                env.extend(
                    extra_env
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
                );
            }
            envs.insert(*name, env);
        }
        let get = |key: &str| {
            settings
                .get(key)
                .cloned()
                .ok_or_else(|| format!("stack.env has no {key}"))
        };
        let tls_dir = PathBuf::from(get("PKI")?).join("tool-cli");
        let read = |file: &str| {
            std::fs::read_to_string(tls_dir.join(file)).map_err(|e| format!("{file}: {e}"))
        };
        let tls = TlsIdentity::from_pem(&read("cert.pem")?, &read("key.pem")?, &read("ca.pem")?)
            .map_err(|e| e.to_string())?;
        let mut grpc = HashMap::new();
        let mut metrics = HashMap::new();
        for name in SERVICES {
            let port = get(&format!("GRPC_{}", name.to_ascii_uppercase()))?;
            grpc.insert(name, format!("https://127.0.0.1:{port}"));
            let port = envs
                .get(name)
                .into_iter()
                .flatten()
                .find(|(k, _)| k == "METRICS_PORT")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("env/{name}.env has no METRICS_PORT"))?;
            let addr = format!("127.0.0.1:{port}")
                .parse()
                .map_err(|e| format!("{name}'s METRICS_PORT: {e}"))?;
            metrics.insert(name, addr);
        }
        let http = format!("127.0.0.1:{}", get("HTTP_PORT")?)
            .parse()
            .map_err(|e| format!("HTTP_PORT: {e}"))?;
        let endpoints = Endpoints {
            http,
            grpc,
            metrics,
            tls,
            tls_dir,
            database_url: get("DATABASE_URL")?,
            nats_admin_url: get("NATS_ADMIN_URL")?,
        };
        let mut stack = Self {
            dir,
            bin,
            script,
            settings,
            envs,
            overrides: HashMap::new(),
            children: HashMap::new(),
            nats: None,
            endpoints,
        };
        stack.start_nats().await?;
        for name in SERVICES {
            stack.start_service(name)?;
        }
        for name in SERVICES {
            stack
                .endpoints
                .wait_serving(name, Duration::from_secs(180))
                .await
                .ok_or_else(|| format!("{name} did not serve within 3 minutes"))?;
        }
        stack.seed()?;
        Ok(stack)
    }

    /// The directory holding the cluster, the NATS store, the certificates and the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sets `var` in `service`'s environment from its next start on — e.g. ROUTING_URL of
    /// the registry pointed at a fault proxy.
    pub fn set_env(&mut self, service: &'static str, var: &str, value: &str) {
        let list = self.overrides.entry(service).or_default();
        list.retain(|(k, _)| k != var);
        list.push((var.to_owned(), value.to_owned()));
    }

    /// Drops what [`Stack::set_env`] set for `var`: `service`'s next start has its
    /// prepared value again.
    pub fn clear_env(&mut self, service: &'static str, var: &str) {
        if let Some(list) = self.overrides.get_mut(service) {
            list.retain(|(k, _)| k != var);
        }
    }

    fn command(&self, program: &str, env_name: &'static str, log: &str) -> Result<Command> {
        let mut command = Command::new(self.bin.join(program));
        let log = log_file(&self.dir.join("logs").join(log))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .envs(self.envs.get(env_name).into_iter().flatten().cloned())
            .envs(self.overrides.get(env_name).into_iter().flatten().cloned());
        Ok(command)
    }

    /// Starts `service` (again) with its environment; does not wait for it to serve.
    pub fn start_service(&mut self, service: &'static str) -> Result<()> {
        let child = self
            .command(
                &format!("sportello-{service}"),
                service,
                &format!("{service}.log"),
            )?
            .spawn()
            .map_err(|e| format!("cannot start {service}: {e}"))?;
        self.children.insert(service, child);
        Ok(())
    }

    /// The running process of `service`.
    pub fn pid(&self, service: &str) -> Option<u32> {
        self.children.get(service).map(Child::id)
    }

    /// kill -9 of `service`, reaped.
    pub fn kill(&mut self, service: &'static str) -> Result<()> {
        let mut child = self
            .children
            .remove(service)
            .ok_or_else(|| format!("{service} is not running"))?;
        child.kill().map_err(|e| e.to_string())?;
        child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// SIGTERM to `service`; waits up to [`GRACE`] for it to exit. Returns how long it
    /// took and its exit code (None: killed by a signal, or still running at the grace's
    /// end and then killed).
    pub async fn terminate(&mut self, service: &'static str) -> Result<(Duration, Option<i32>)> {
        let mut child = self
            .children
            .remove(service)
            .ok_or_else(|| format!("{service} is not running"))?;
        let start = Instant::now();
        signal(child.id(), "TERM")?;
        while start.elapsed() < GRACE {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                return Ok((start.elapsed(), status.code()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        Ok((start.elapsed(), None))
    }

    /// SIGSTOP (`pause`) or SIGCONT of `service`.
    pub fn pause(&self, service: &str, pause: bool) -> Result<()> {
        let pid = self
            .pid(service)
            .ok_or_else(|| format!("{service} is not running"))?;
        signal(pid, if pause { "STOP" } else { "CONT" })
    }

    /// Whether `service`'s process has exited on its own (a crash, a panic).
    pub fn exited(&mut self, service: &str) -> Option<String> {
        let child = self.children.get_mut(service)?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// Starts the NATS server and waits until it accepts connections.
    pub async fn start_nats(&mut self) -> Result<()> {
        let conf = self.settings.get("NATS_CONF").ok_or("no NATS_CONF")?;
        let nats_dir = Path::new(conf).parent().ok_or("no NATS directory")?;
        let key = std::fs::read_to_string(nats_dir.join("jetstream.key"))
            .map_err(|e| format!("jetstream.key: {e}"))?;
        let log = log_file(&self.dir.join("logs/nats.log"))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(self.settings.get("NATS_BIN").ok_or("no NATS_BIN")?)
            .arg("-c")
            .arg(conf)
            .env("JS_KEY", key.trim())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start nats-server: {e}"))?;
        self.nats = Some(child);
        let port = self.settings.get("NATS_PORT").ok_or("no NATS_PORT")?;
        let addr = format!("127.0.0.1:{port}");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("nats-server did not listen within 15 s".into())
    }

    /// kill -9 of the NATS server, reaped.
    pub fn kill_nats(&mut self) -> Result<()> {
        let mut child = self.nats.take().ok_or("NATS is not running")?;
        child.kill().map_err(|e| e.to_string())?;
        child.wait().map_err(|e| e.to_string())?;
        Ok(())
    }

    fn script(&self, action: &str) -> Result<()> {
        let output = Command::new("bash")
            .arg(&self.script)
            .arg(action)
            .arg(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        output.status.success().then_some(()).ok_or_else(|| {
            format!(
                "stack.sh {action}: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }

    /// `pg_ctl stop -m immediate`: PostgreSQL dies without a checkpoint.
    pub fn kill_postgres(&self) -> Result<()> {
        self.script("pg-kill")
    }

    /// Starts PostgreSQL again (it recovers from its WAL).
    pub fn start_postgres(&self) -> Result<()> {
        self.script("pg-start")
    }

    /// The synthetic register (sportello-registry-synth) and the demo municipality
    /// (sportello-demo: operators, sites, accounts), as stack.sh seeds them.
    fn seed(&self) -> Result<()> {
        let mut synth = self.command("sportello-registry-synth", "synth", "synth.log")?;
        synth.env("SYNTH_RESIDENTS", RESIDENTS);
        let status = synth.status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!(
                "sportello-registry-synth failed: {}",
                self.tail("synth")
            ));
        }
        let mut demo = self.command("sportello-demo", "demo", "demo.log")?;
        demo.env("DEMO_PASSWORD", crate::http::DEMO_PASSWORD);
        let status = demo.status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("sportello-demo failed: {}", self.tail("demo")));
        }
        Ok(())
    }

    /// The last lines of a process's log (`routing`, `nats`, `synth`, …).
    pub fn tail(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(self.dir.join(format!("logs/{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Lines of every service's log that say a thread panicked.
    pub fn panics(&self) -> Vec<String> {
        let mut found = Vec::new();
        for name in SERVICES {
            let text = std::fs::read_to_string(self.dir.join(format!("logs/{name}.log")))
                .unwrap_or_default();
            found.extend(
                text.lines()
                    .filter(|l| l.contains("panicked"))
                    .map(|l| format!("{name}: {l}")),
            );
        }
        found
    }
}

impl Drop for Stack {
    /// Everything stopped, whatever the test's outcome: the services, NATS, PostgreSQL.
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut() {
            let _ = signal(child.id(), "CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(mut nats) = self.nats.take() {
            let _ = nats.kill();
            let _ = nats.wait();
        }
        let _ = self.script("pg-stop");
        // The logs outlive the run (test.sh removes TMPDIR): target/chaos-logs, replaced
        // by the next run.
        let kept = self.bin.join("../chaos-logs");
        let _ = std::fs::remove_dir_all(&kept);
        if std::fs::create_dir_all(&kept).is_ok()
            && let Ok(entries) = std::fs::read_dir(self.dir.join("logs"))
        {
            for entry in entries.flatten() {
                let _ = std::fs::copy(entry.path(), kept.join(entry.file_name()));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
