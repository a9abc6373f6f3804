//! Who may call which of this service's RPCs (enforced by the kit before any handler
//! runs), and who may act for a person here.

use sportello_kit::trust::{Caller, Policy, Rule};

const GATEWAY: Caller = Caller::Service("gateway");

/// The table.
pub static POLICY: Policy = Policy {
    rules: &[
        Rule {
            rpc: "sportello.education.v1.SchoolService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The counter and department systems (the municipality's portal, a school's
        // office); handlers authorise the person by role.
        Rule {
            rpc: "sportello.education.v1.EnrolmentService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The counter, the education office and the municipality's portal.
        Rule {
            rpc: "sportello.education.v1.FeeService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
    ],
    persons: &[GATEWAY, Caller::AnySystem],
};
