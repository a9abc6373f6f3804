//! Who may call which of this service's RPCs (enforced by the kit before any handler
//! runs), and who may act for a person here.

use sportello_kit::trust::{Caller, Policy, Rule};

const GATEWAY: Caller = Caller::Service("gateway");

/// The table.
pub static POLICY: Policy = Policy {
    rules: &[
        Rule {
            rpc: "sportello.mobility.v1.ZoneService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.mobility.v1.PermitService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        Rule {
            rpc: "sportello.mobility.v1.BadgeService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The ZTL cameras' systems and the local police's, each with its own certificate
        // (make cert NAME=system/<name>), and the console.
        Rule {
            rpc: "sportello.mobility.v1.WhitelistService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
    ],
    persons: &[GATEWAY, Caller::AnySystem],
};
