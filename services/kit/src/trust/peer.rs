//! Who is at the other end of a connection: a SPIFFE-style identity read from the
//! peer's certificate, never from a header.
//!
//! Every certificate the deployment's CA issues names its holder in a URI subject
//! alternative name, `spiffe://sportello/<kind>/<name>`:
//!
//! | kind     | who                                                          | example                          |
//! |----------|--------------------------------------------------------------|----------------------------------|
//! | `svc`    | a Sportello service (also its workers and consumers)        | `spiffe://sportello/svc/routing` |
//! | `system` | a department system integrating over gRPC                    | `spiffe://sportello/system/protocollo-informatico` |
//! | `tool`   | an operations tool run by hand (the demo seeder, grpcurl)   | `spiffe://sportello/tool/cli`    |

use std::fmt;

/// The trust domain of every identity the deployment's CA issues.
pub const TRUST_DOMAIN: &str = "sportello";

/// The kind of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerKind {
    /// A Sportello service.
    Service,
    /// A department system.
    System,
    /// An operations tool.
    Tool,
}

impl PeerKind {
    const fn segment(self) -> &'static str {
        match self {
            Self::Service => "svc",
            Self::System => "system",
            Self::Tool => "tool",
        }
    }
}

/// A peer's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerId {
    kind: PeerKind,
    name: String,
}

/// Why a name is not an identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a Sportello identity: expected svc/<name>, system/<name> or tool/<name> \
     (lowercase letters, digits and '-'), or spiffe://sportello/<kind>/<name>"
)]
pub struct PeerIdError(pub String);

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

impl PeerId {
    /// A peer of `kind` called `name`.
    pub fn new(kind: PeerKind, name: &str) -> Result<Self, PeerIdError> {
        if valid_name(name) {
            Ok(Self {
                kind,
                name: name.to_owned(),
            })
        } else {
            Err(PeerIdError(format!("{}/{name}", kind.segment())))
        }
    }

    /// The service called `name`.
    pub fn service(name: &str) -> Result<Self, PeerIdError> {
        Self::new(PeerKind::Service, name)
    }

    /// `svc/routing`, `system/x`, `tool/x`, or the full `spiffe://sportello/…` URI.
    pub fn parse(text: &str) -> Result<Self, PeerIdError> {
        let path = match text.strip_prefix("spiffe://") {
            Some(rest) => rest
                .strip_prefix(TRUST_DOMAIN)
                .and_then(|p| p.strip_prefix('/'))
                .ok_or_else(|| PeerIdError(text.to_owned()))?,
            None => text,
        };
        let (kind, name) = path
            .split_once('/')
            .ok_or_else(|| PeerIdError(text.to_owned()))?;
        let kind = match kind {
            "svc" => PeerKind::Service,
            "system" => PeerKind::System,
            "tool" => PeerKind::Tool,
            _ => return Err(PeerIdError(text.to_owned())),
        };
        Self::new(kind, name).map_err(|_| PeerIdError(text.to_owned()))
    }

    /// The kind.
    pub fn kind(&self) -> PeerKind {
        self.kind
    }

    /// The name within its kind.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the service called `name`.
    pub fn is_service(&self, name: &str) -> bool {
        self.kind == PeerKind::Service && self.name == name
    }

    /// `spiffe://sportello/<kind>/<name>`: the URI SAN of its certificate.
    pub fn uri(&self) -> String {
        format!(
            "spiffe://{TRUST_DOMAIN}/{}/{}",
            self.kind.segment(),
            self.name
        )
    }

    /// `svc/routing`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.kind.segment(), self.name)
    }

    /// The name the call context and the audit logs record: a service by its bare name
    /// (`gateway`), anyone else by `<kind>/<name>` (`system/protocollo`).
    pub fn caller_name(&self) -> String {
        match self.kind {
            PeerKind::Service => self.name.clone(),
            _ => self.path(),
        }
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.segment(), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths_and_uris() {
        let routing = PeerId::parse("svc/routing").unwrap();
        assert_eq!(routing.uri(), "spiffe://sportello/svc/routing");
        assert_eq!(PeerId::parse(&routing.uri()).unwrap(), routing);
        assert_eq!(routing.caller_name(), "routing");
        let system = PeerId::parse("system/protocollo").unwrap();
        assert_eq!(system.caller_name(), "system/protocollo");
    }

    #[test]
    fn refuses_other_trust_domains_and_bad_names() {
        for bad in [
            "spiffe://evil/svc/routing",
            "svc/Routing",
            "admin/x",
            "svc/",
            "svc/-x",
            "routing",
            "svc/a/b",
        ] {
            assert!(PeerId::parse(bad).is_err(), "{bad}");
        }
    }
}
