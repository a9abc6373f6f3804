//! A real SMTP server of the test's own: aiosmtpd (PyPI, pinned by
//! `deploy/local/lib.sh`) on a free port, writing what it receives into a private
//! Maildir that [`SmtpSink::wait_for`] reads back.
//!
//! Recipients whose local part starts with `refused` are refused for good (`550`), and
//! those starting with `busy` are asked to try later (`451`), so callers can test both
//! failures against the real protocol.
//!
//! `deploy/local/test.sh` installs aiosmtpd into the project's tools directory and sets
//! `SPORTELLO_TEST_SMTPD_PYTHONPATH`; the tests never rely on a server of the machine.

use std::{
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};

use base64::Engine as _;

/// Where aiosmtpd is installed (a `PYTHONPATH` entry; `deploy/local/test.sh` sets it).
pub const SMTPD_PYTHONPATH_VAR: &str = "SPORTELLO_TEST_SMTPD_PYTHONPATH";

/// aiosmtpd's Maildir handler, with the two refusals of the module's documentation.
const HANDLER: &str = r#"
from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("refused"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// A mail as the sink received it, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope recipients, comma-separated, as the server saw them.
    pub to: String,
    /// The subject, decoded.
    pub subject: String,
    /// The body, decoded, with `\n` line ends.
    pub text: String,
}

/// A running aiosmtpd; stopped and its Maildir removed when dropped.
pub struct SmtpSink {
    port: u16,
    child: Mutex<Child>,
    dir: PathBuf,
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A port free right now (another process may take it before the server binds: start
/// retries on a fresh one).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

impl SmtpSink {
    /// Starts the server and waits until it accepts connections.
    pub async fn start() -> Self {
        let pythonpath = std::env::var(SMTPD_PYTHONPATH_VAR).unwrap_or_else(|_| {
            panic!(
                "{SMTPD_PYTHONPATH_VAR} is not set: run the tests through deploy/local/test.sh \
                 (e.g. deploy/local/test.sh cargo nextest run -p sportello-kit --features \
                 testing), which installs aiosmtpd privately and sets it"
            )
        });
        let dir =
            std::env::temp_dir().join(format!("sportello-smtpd-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the test SMTP directory");
        std::fs::write(dir.join("sportello_sink.py"), HANDLER).expect("write the SMTP handler");
        let pythonpath = std::env::join_paths([dir.clone(), PathBuf::from(&pythonpath)])
            .expect("a PYTHONPATH from the handler's and aiosmtpd's directories");
        let mut last_log = String::new();
        // The free port may be taken between choosing and binding it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.join("smtpd.log")).expect("create the smtpd log");
            let child = Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "sportello_sink.Sink"])
                .arg(dir.join("maildir"))
                .env("PYTHONPATH", &pythonpath)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start python3 -m aiosmtpd: {e}"));
            // A test process killed outright never runs Drop: test.sh stops the server
            // by this pid.
            let _ = std::fs::write(dir.join("smtpd.pid"), child.id().to_string());
            let sink = Self {
                port,
                child: Mutex::new(child),
                dir: dir.clone(),
            };
            if sink.wait_listening().await {
                return sink;
            }
            last_log = std::fs::read_to_string(dir.join("smtpd.log")).unwrap_or_default();
            // Dropping the sink would remove the directory the next attempt uses.
            if let Ok(mut child) = sink.child.lock() {
                let _ = child.kill();
                let _ = child.wait();
            }
            std::mem::forget(sink);
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("aiosmtpd did not start: {last_log}");
    }

    async fn wait_listening(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return true;
            }
            if let Ok(Some(_)) = self.child.lock().expect("child lock").try_wait() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// The server's URL, for [`crate::mail::MailConfig::from_url`] or `SMTP_URL`.
    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far, in no particular order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let maildir = self.dir.join("maildir");
        ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| read_mail(&entry.path()))
            .collect()
    }

    /// Waits for a mail to `to` (case-insensitive) and returns it; panics after `timeout`.
    pub async fn wait_for(&self, to: &str, timeout: Duration) -> ReceivedMail {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(mail) = self.received().into_iter().find(|mail| {
                mail.to
                    .split(',')
                    .any(|rcpt| rcpt.trim().eq_ignore_ascii_case(to))
            }) {
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} within {timeout:?}; received: {:?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One Maildir file, decoded; `None` while it is being written or when unreadable.
fn read_mail(path: &Path) -> Option<ReceivedMail> {
    let raw = std::fs::read_to_string(path).ok()?;
    parse_mail(&raw)
}

/// A small RFC 5322 reader: unfolded headers, RFC 2047 subjects, and 7bit, 8bit,
/// quoted-printable or base64 UTF-8 bodies: what lettre writes for plain text.
pub fn parse_mail(raw: &str) -> Option<ReceivedMail> {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n")?;
    // The line end before SMTP's closing dot belongs to the transport, not the text.
    let body = body.strip_suffix('\n').unwrap_or(body);
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let encoding = header("content-transfer-encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let text = match encoding.as_str() {
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()?;
            String::from_utf8(bytes).ok()?
        }
        "quoted-printable" => String::from_utf8(decode_quoted_printable(body)).ok()?,
        _ => body.to_owned(),
    };
    Some(ReceivedMail {
        to: header("x-rcptto").or(header("to"))?.to_owned(),
        subject: decode_words(header("subject").unwrap_or_default()),
        text: text.replace("\r\n", "\n"),
    })
}

/// Quoted-printable (RFC 2045 6.7): `=XX` bytes, `=` at a line end joins lines.
fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut lines = body.split('\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.trim_end_matches([' ', '\t']);
        let (line, soft) = match line.strip_suffix('=') {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        decode_escapes(line, false, &mut out);
        if !soft && lines.peek().is_some() {
            out.push(b'\n');
        }
    }
    out
}

/// `=XX` escapes (and `_` as a space in RFC 2047's Q encoding).
fn decode_escapes(text: &str, underscore_is_space: bool, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' => {
                if let Some(byte) = text
                    .get(i + 1..i + 3)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'=');
            }
            b'_' if underscore_is_space => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded; the white space
/// between two encoded words is dropped, and adjacent words are joined as bytes before
/// decoding, since a character may be split across them.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut rest = value;
    let mut gap = String::new();
    while !rest.is_empty() {
        if let Some(word) = rest.strip_prefix("=?")
            && let Some((decoded, after)) = decode_word(word)
        {
            // White space between two encoded words is not part of the text.
            gap.clear();
            pending.extend(decoded);
            rest = after;
            continue;
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { break };
        rest = chars.as_str();
        if c.is_whitespace() && !pending.is_empty() {
            gap.push(c);
            continue;
        }
        if !pending.is_empty() {
            out.push_str(&String::from_utf8_lossy(&pending));
            pending.clear();
        }
        out.push_str(&gap);
        gap.clear();
        out.push(c);
    }
    out.push_str(&String::from_utf8_lossy(&pending));
    out.push_str(&gap);
    out
}

/// `charset?enc?text?=` (after the leading `=?`): the decoded bytes and what follows.
fn decode_word(word: &str) -> Option<(Vec<u8>, &str)> {
    let (_charset, rest) = word.split_once('?')?;
    let (encoding, rest) = rest.split_once('?')?;
    let (text, after) = rest.split_once("?=")?;
    let decoded = match encoding {
        "b" | "B" => base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?,
        "q" | "Q" => {
            let mut out = Vec::new();
            decode_escapes(text, true, &mut out);
            out
        }
        _ => return None,
    };
    Some((decoded, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_subjects_are_decoded() {
        assert_eq!(
            decode_words("=?utf-8?b?Q2l0dMOg?= =?utf-8?q?_di_Forl=C3=AC?= fine"),
            "Città di Forlì fine"
        );
        assert_eq!(decode_words("plain text"), "plain text");
    }

    #[test]
    fn mail_bodies_are_decoded() {
        let qp = "To: a@b.it\nSubject: x\nContent-Transfer-Encoding: quoted-printable\n\n\
                  Perch=C3=A9 =\nsi\nriga due\n";
        let mail = parse_mail(qp).unwrap();
        assert_eq!(mail.text, "Perché si\nriga due");
        let b64 =
            "To: a@b.it\r\nSubject: x\r\nContent-Transfer-Encoding: base64\r\n\r\nw6jDoA==\r\n";
        assert_eq!(parse_mail(b64).unwrap().text, "èà");
    }
}
