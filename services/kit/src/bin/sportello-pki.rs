//! `sportello-pki`: the local certificate authority of `make run` and the test stack,
//! and the way a department system or a person at the command line gets a certificate
//! from it (`make cert NAME=system/<name>`). In Kubernetes, cert-manager issues the
//! certificates instead (deploy/base/pki).
//!
//! ```text
//! sportello-pki init DIR                 the authority in DIR (ca.pem, ca.key), kept if present
//! sportello-pki issue DIR NAME [--dns NAME]... [--days N]
//!                                        a certificate for NAME (svc/routing, system/x, tool/x)
//!                                        in DIR/<kind>-<name>/ (cert.pem, key.pem, ca.pem)
//! ```
//! Exit 0 done, 1 failed, 2 usage.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use sportello_kit::trust::{
    PeerId,
    pki::{Authority, Validity},
};

const USAGE: &str =
    "usage: sportello-pki init DIR | sportello-pki issue DIR NAME [--dns NAME]... [--days N]
  NAME: svc/<service>, system/<department system> or tool/<tool>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("init") if args.len() == 2 => init(Path::new(&args[1])).map(|_| ()),
        Some("issue") if args.len() >= 3 => issue(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("sportello-pki: {message}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("sportello-pki: {message}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    Usage(String),
    Failed(String),
}

fn failed(what: &str, path: &Path, error: impl std::fmt::Display) -> Failure {
    Failure::Failed(format!("{what} {}: {error}", path.display()))
}

/// Writes `text` to `path`, readable by its owner only when `secret`.
fn write(path: &Path, text: &str, secret: bool) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options
        .open(path)
        .map_err(|e| failed("cannot write", path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| failed("cannot write", path, e))
}

/// The authority in `dir`, created if absent.
fn init(dir: &Path) -> Result<Authority, Failure> {
    let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
    if cert.exists() && key.exists() {
        let read =
            |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| failed("cannot read", p, e));
        return Authority::from_pem(&read(&cert)?, &read(&key)?)
            .map_err(|e| failed("cannot use the authority in", dir, e));
    }
    std::fs::create_dir_all(dir).map_err(|e| failed("cannot create", dir, e))?;
    let authority = Authority::generate("Sportello local CA")
        .map_err(|e| failed("cannot create the authority in", dir, e))?;
    write(&cert, authority.cert_pem(), false)?;
    let key_pem = authority
        .key_pem()
        .map_err(|e| failed("cannot keep the authority in", dir, e))?;
    write(&key, &key_pem, true)?;
    Ok(authority)
}

fn issue(args: &[String]) -> Result<(), Failure> {
    let dir = Path::new(&args[0]);
    let peer = PeerId::parse(&args[1]).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut dns = Vec::new();
    let mut days = 365_u32;
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--dns" => dns.push(value.clone()),
            "--days" => {
                days = value
                    .parse()
                    .ok()
                    .filter(|d| (1..=3_650).contains(d))
                    .ok_or_else(|| Failure::Usage(format!("--days {value}: expected 1 to 3650")))?;
            }
            _ => return Err(Failure::Usage(format!("unknown option {flag}"))),
        }
    }
    let authority = init(dir)?;
    let issued = authority
        .issue(&peer, &dns, Validity::Days(days))
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let out = dir.join(peer.path().replace('/', "-"));
    std::fs::create_dir_all(&out).map_err(|e| failed("cannot create", &out, e))?;
    write(&out.join("cert.pem"), &issued.cert_pem, false)?;
    write(&out.join("key.pem"), &issued.key_pem, true)?;
    write(&out.join("ca.pem"), authority.cert_pem(), false)?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", out.display());
    Ok(())
}
