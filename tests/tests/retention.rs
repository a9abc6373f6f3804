//! Retention across the stack: every service's rules run against its own schema (a rule
//! whose SQL no longer fits a migration fails here, not in production a year on), and
//! none of them ever deletes a protocol registration.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sportello_tests::stack::Stack;

#[tokio::test]
async fn every_services_retention_rules_run_on_its_schema() {
    let stack = Box::pin(Stack::start()).await;
    let mut rules = 0;
    for (name, service) in stack.all() {
        let janitor = &service.running.workers.janitor;
        rules += janitor.rules().len();
        janitor
            .run_once()
            .await
            .unwrap_or_else(|e| panic!("{name}'s retention rules: {e}"));
    }
    // Routing 5, registry 1, education 2, suap 1, mobility 2, URP 3, gateway 2 (sessions
    // and abandoned OpenID Connect sign-ins).
    assert_eq!(rules, 16);
    // Twenty years on every rule fires on whatever the start-up wrote, and still runs.
    stack
        .ctx
        .clock
        .advance(jiff::SignedDuration::from_hours(24 * 365 * 20));
    for (name, service) in stack.all() {
        service
            .running
            .workers
            .janitor
            .run_once()
            .await
            .unwrap_or_else(|e| panic!("{name}'s retention rules twenty years on: {e}"));
    }
}
