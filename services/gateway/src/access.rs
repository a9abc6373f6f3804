//! Who may call the gateway's own gRPC service: an identity system that disables an
//! account (a department system), or a person at the command line.

use sportello_kit::trust::{Caller, Policy, Rule};

/// The gateway's table.
pub static POLICY: Policy = Policy {
    rules: &[Rule {
        rpc: "sportello.gateway.v1.SessionService/*",
        callers: &[Caller::AnySystem, Caller::Tool("cli")],
    }],
    persons: &[Caller::AnySystem],
};
