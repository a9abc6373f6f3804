//! Who may call what: each service declares, in one table, which callers may use which
//! of its RPCs, and which callers may act for a person there. The kit enforces the table
//! before any handler runs ([`super::gate`]); anything the table does not name is
//! refused. Health and reflection are open to every certified peer.

use super::peer::{PeerId, PeerKind};

/// The department services.
pub const DEPARTMENTS: [&str; 5] = ["registry", "education", "suap", "mobility", "urp"];

/// A caller, as a rule names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The Sportello service called so (`Service("gateway")`).
    Service(&'static str),
    /// Any department service ([`DEPARTMENTS`]).
    Department,
    /// The department system called so (`system/<name>`).
    System(&'static str),
    /// Any department system.
    AnySystem,
    /// The operations tool called so (`tool/<name>`).
    Tool(&'static str),
}

impl Caller {
    /// Whether `peer` is this caller.
    pub fn matches(self, peer: &PeerId) -> bool {
        match (self, peer.kind()) {
            (Self::Service(name), PeerKind::Service) => peer.name() == name,
            (Self::Department, PeerKind::Service) => DEPARTMENTS.contains(&peer.name()),
            (Self::System(name), PeerKind::System) => peer.name() == name,
            (Self::AnySystem, PeerKind::System) => true,
            (Self::Tool(name), PeerKind::Tool) => peer.name() == name,
            _ => false,
        }
    }
}

/// One line of the table: an RPC (`package.Service/Method`) or every RPC of a service
/// (`package.Service/*`), and who may call it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// `sportello.routing.v1.CaseService/OpenCase` or `sportello.routing.v1.CaseService/*`.
    pub rpc: &'static str,
    /// Who may call it.
    pub callers: &'static [Caller],
}

/// A service's table.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The rules; an RPC may appear in several (a specific line and a `/*` line): any
    /// line that names the caller admits it.
    pub rules: &'static [Rule],
    /// Who may act for a person here (send a signed end-user assertion): the callers
    /// that authenticate people, and those that pass on an assertion they received.
    pub persons: &'static [Caller],
}

/// gRPC infrastructure every certified peer may use.
const OPEN: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Whether `path` is health or reflection.
pub fn is_open(path: &str) -> bool {
    OPEN.iter().any(|prefix| path.starts_with(prefix))
}

impl Policy {
    /// Nobody may call anything (a service with no RPCs of its own).
    pub const CLOSED: Policy = Policy {
        rules: &[],
        persons: &[],
    };

    /// Whether `peer` may call `path` (`/package.Service/Method`).
    pub fn allows(&self, peer: &PeerId, path: &str) -> bool {
        if is_open(path) {
            return true;
        }
        let Some(rpc) = path.strip_prefix('/') else {
            return false;
        };
        let service = rpc.rsplit_once('/').map(|(s, _)| s);
        self.rules.iter().any(|rule| {
            let named = rule.rpc == rpc
                || rule
                    .rpc
                    .strip_suffix("/*")
                    .is_some_and(|s| Some(s) == service);
            named && rule.callers.iter().any(|c| c.matches(peer))
        })
    }

    /// Whether `peer` may act for a person here.
    pub fn may_act_for_persons(&self, peer: &PeerId) -> bool {
        self.persons.iter().any(|c| c.matches(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        rules: &[
            Rule {
                rpc: "p.v1.A/*",
                callers: &[Caller::Service("gateway")],
            },
            Rule {
                rpc: "p.v1.A/Open",
                callers: &[Caller::Department, Caller::AnySystem],
            },
        ],
        persons: &[Caller::Service("gateway")],
    };

    fn peer(text: &str) -> PeerId {
        PeerId::parse(text).unwrap()
    }

    #[test]
    fn a_caller_is_admitted_only_where_a_rule_names_it() {
        assert!(POLICY.allows(&peer("svc/gateway"), "/p.v1.A/Anything"));
        assert!(POLICY.allows(&peer("svc/suap"), "/p.v1.A/Open"));
        assert!(POLICY.allows(&peer("system/x"), "/p.v1.A/Open"));
        assert!(!POLICY.allows(&peer("svc/suap"), "/p.v1.A/Close"));
        assert!(!POLICY.allows(&peer("svc/routing"), "/p.v1.A/Open"));
        assert!(!POLICY.allows(&peer("tool/cli"), "/p.v1.B/Open"));
        assert!(!POLICY.allows(&peer("svc/gateway"), "/p.v1.AB/Open"));
    }

    #[test]
    fn health_and_reflection_are_open_to_every_certified_peer() {
        assert!(POLICY.allows(&peer("tool/cli"), "/grpc.health.v1.Health/Check"));
        assert!(Policy::CLOSED.allows(
            &peer("tool/cli"),
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
    }
}
