//! Who may call which of this service's RPCs (enforced by the kit before any handler
//! runs), and who may act for a person here.

use sportello_kit::trust::{Caller, Policy, Rule};

const GATEWAY: Caller = Caller::Service("gateway");

/// The table.
pub static POLICY: Policy = Policy {
    rules: &[
        Rule {
            rpc: "sportello.suap.v1.BusinessService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The counter files on a business's behalf; a department system (a front office
        // such as impresainungiorno's, a body's back office) files and follows up.
        Rule {
            rpc: "sportello.suap.v1.ApplicationService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The demo seeder sets the demo municipality's tariffs (`make run`).
        Rule {
            rpc: "sportello.suap.v1.OccupationService/SetTariffs",
            callers: &[Caller::Tool("demo")],
        },
        Rule {
            rpc: "sportello.suap.v1.OccupationService/ListTariffs",
            callers: &[Caller::Tool("demo")],
        },
        // SetTariffs also requires the administrator's role, checked in the handler.
        Rule {
            rpc: "sportello.suap.v1.OccupationService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
    ],
    // The demo seeder acts as the demo municipality's administrator, on the two RPCs
    // above only.
    persons: &[GATEWAY, Caller::AnySystem, Caller::Tool("demo")],
};
