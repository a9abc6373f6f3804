//! The service binaries themselves: bad configuration ends with one line naming the
//! problem and a non-zero exit, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{path::PathBuf, process::Command};

const SERVICES: [&str; 7] = [
    "routing",
    "registry",
    "education",
    "suap",
    "mobility",
    "urp",
    "gateway",
];

/// `target/<profile>/sportello-<name>`, built by the same `cargo test`/`nextest` run.
fn binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile_dir = deps.parent().and_then(|d| d.parent()).unwrap();
    let path = profile_dir.join(format!("sportello-{name}"));
    assert!(
        path.exists(),
        "{} is built with the workspace: run the tests with `make test`",
        path.display()
    );
    path
}

fn run(name: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(binary(name))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_missing_database_url_is_one_line_and_exit_2() {
    for name in SERVICES {
        let (code, stderr) = run(name, &[("NATS_URL", "nats://127.0.0.1:4222")]);
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        assert!(
            stderr.contains("DATABASE_URL is not set"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn an_invalid_port_is_named() {
    for name in SERVICES {
        let (code, stderr) = run(
            name,
            &[
                ("DATABASE_URL", "postgres://u:secret@127.0.0.1:1/db"),
                ("NATS_URL", "nats://127.0.0.1:1"),
                ("GRPC_PORT", "65536"),
            ],
        );
        assert_eq!(code, Some(2), "{name}: {stderr}");
        assert_eq!(
            stderr.trim(),
            format!(
                "sportello-{name}: configuration error: GRPC_PORT=\"65536\" is invalid: not a port number (0-65535)"
            )
        );
        assert!(!stderr.contains("secret"), "no credentials echoed");
    }
}

#[test]
fn an_unreachable_database_ends_with_one_line_and_exit_1() {
    let mut env = vec![
        ("DATABASE_URL", "postgres://sportello@127.0.0.1:1/sportello"),
        ("DATABASE_CONNECT_TIMEOUT", "2s"),
        ("NATS_URL", "nats://127.0.0.1:1"),
        ("GRPC_PORT", "0"),
        ("METRICS_PORT", "0"),
        ("LOG_FORMAT", "json"),
        ("RUST_LOG", "off"),
        // URP's own setting, so the start reaches the database.
        (
            "PSEUDONYM_KEY",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
    ];
    env.extend(sportello_kit::testing::pki::tls_vars("svc/urp"));
    let (code, stderr) = run("urp", &env);
    assert_eq!(code, Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("sportello-urp: cannot reach PostgreSQL within 2s"),
        "{stderr}"
    );
}

#[test]
fn a_missing_or_foreign_certificate_ends_with_one_line_and_exit_2() {
    let base = [
        ("DATABASE_URL", "postgres://sportello@127.0.0.1:1/sportello"),
        ("NATS_URL", "nats://127.0.0.1:1"),
    ];
    let (code, stderr) = run("urp", &base);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sportello-urp: configuration error: TLS_CERT is not set"),
        "{stderr}"
    );
    // Another service's certificate: refused at start, naming the variable.
    let mut env = base.to_vec();
    env.extend(sportello_kit::testing::pki::tls_vars("svc/routing"));
    let (code, stderr) = run("urp", &env);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("TLS_CERT") && stderr.contains("svc/routing"),
        "{stderr}"
    );
}

/// Routing keeps the protocol register's names sealed (DPR 445/2000 art. 53): without its
/// keys, or with a malformed one, it does not start, in one line that names the variable
/// and never echoes the value.
#[test]
fn routing_without_its_protocol_name_keys_ends_with_one_line_and_exit_2() {
    let mut base = vec![
        ("DATABASE_URL", "postgres://sportello@127.0.0.1:1/sportello"),
        ("NATS_URL", "nats://127.0.0.1:1"),
    ];
    base.extend(sportello_kit::testing::pki::tls_vars("svc/routing"));
    let (code, stderr) = run("routing", &base);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("sportello-routing: configuration error: PROTOCOL_NAME_KEYS is not set"),
        "{stderr}"
    );
    let mut env = base.clone();
    env.push(("PROTOCOL_NAME_KEYS", "k1:deadbeef"));
    let (code, stderr) = run("routing", &env);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("PROTOCOL_NAME_KEYS=<redacted> is invalid") && !stderr.contains("deadbeef"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
