//! Who may call which of this service's RPCs (enforced by the kit before any handler
//! runs), and who may act for a person here.

use sportello_kit::trust::{Caller, Policy, Rule};

const GATEWAY: Caller = Caller::Service("gateway");

/// The table.
pub static POLICY: Policy = Policy {
    rules: &[
        Rule {
            rpc: "sportello.urp.v1.FeedbackService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The demo seeder publishes the demo municipality's quick answers (`make run`).
        Rule {
            rpc: "sportello.urp.v1.KnowledgeService/PublishAnswer",
            callers: &[GATEWAY, Caller::AnySystem, Caller::Tool("demo")],
        },
        Rule {
            rpc: "sportello.urp.v1.KnowledgeService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // The demo seeder defines the demo municipality's report categories (`make run`).
        Rule {
            rpc: "sportello.urp.v1.ReportService/DefineCategory",
            callers: &[GATEWAY, Caller::AnySystem, Caller::Tool("demo")],
        },
        // Reports come from the counter and the web (the gateway, Open311 included) and
        // from department systems; the person behind one is read by URP's staff alone.
        Rule {
            rpc: "sportello.urp.v1.ReportService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
        // Access requests: filed at the counter, online or by PEC (through the gateway or a
        // department's protocol system); the office's steps are checked per role.
        Rule {
            rpc: "sportello.urp.v1.AccessService/*",
            callers: &[GATEWAY, Caller::AnySystem],
        },
    ],
    // The demo seeder acts as the demo municipality's administrator, on the two RPCs
    // named for it above only.
    persons: &[GATEWAY, Caller::AnySystem, Caller::Tool("demo")],
};
