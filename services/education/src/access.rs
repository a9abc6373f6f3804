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
        // The demo seeder opens the demo municipality's enrolment windows (`make run`).
        Rule {
            rpc: "sportello.education.v1.EnrolmentService/OpenWindow",
            callers: &[Caller::Tool("demo")],
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
    // The demo seeder acts as the demo municipality's administrator, on OpenWindow only.
    persons: &[GATEWAY, Caller::AnySystem, Caller::Tool("demo")],
};
