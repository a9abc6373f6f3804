//! The real services' NATS users, as their specs derive them, allow what the services do
//! — routing's ordered view of its stream and its durable consumers of the departments'
//! work with their acks, the gateway's live subscription to the case events — and
//! refuse the rest. (The production permissions once refused the first two.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use sportello_kit::{StreamSpec, nats, testing::TestContext};

async fn next_error(errors: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(2), errors.recv())
        .await
        .ok()
        .flatten()
}

/// Routing's and the registry's streams, set up by the harness with the kit's own config.
async fn streams(ctx: &TestContext) -> jetstream::Context {
    let js = jetstream::new(ctx.nats().await);
    let prefix = &ctx.config.subject_prefix;
    for spec in [&sportello_routing::SPEC, &sportello_registry::SPEC] {
        let stream: &StreamSpec = &spec.streams[0];
        js.create_or_update_stream(nats::stream_config(prefix, stream, 1))
            .await
            .unwrap();
    }
    js
}

#[tokio::test]
async fn routing_follows_its_stream_and_takes_the_departments_work() {
    let ctx = TestContext::new(&[&sportello_routing::SPEC, &sportello_registry::SPEC]).await;
    let prefix = ctx.config.subject_prefix.clone();
    let harness = streams(&ctx).await;
    harness
        .publish(prefix.subject("case.opened"), "case".into())
        .await
        .unwrap()
        .await
        .unwrap();
    harness
        .publish(prefix.subject("registry.work.requested"), "work".into())
        .await
        .unwrap()
        .await
        .unwrap();

    let (client, mut errors) = ctx.nats.connect_watching("routing").await;
    let mut js = jetstream::new(client);
    // Allowed requests are answered at once; a refused one never is.
    js.set_timeout(Duration::from_secs(2));

    // The ordered view, as dispatch::sync opens it.
    let stream = js.get_stream(prefix.stream("routing")).await.unwrap();
    let ordered = stream
        .create_consumer(pull::OrderedConfig {
            filter_subjects: sportello_routing::dispatch::sync::SUBJECTS
                .iter()
                .map(|s| prefix.subject(s))
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = ordered.messages().await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("the ordered view delivers")
        .unwrap()
        .unwrap();
    assert_eq!(message.subject.as_str(), prefix.subject("case.opened"));

    // The registry's work, through the durable consumer routing declares, acknowledged.
    let work = (sportello_routing::SPEC.consumers)()
        .into_iter()
        .find(|c| c.stream_part == "registry")
        .expect("routing declares a consumer of the registry's work");
    let stream = js.get_stream(prefix.stream("registry")).await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(format!("routing-{}", work.name)),
            filter_subjects: work.subjects.iter().map(|s| prefix.subject(s)).collect(),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(1).messages().await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), batch.next())
        .await
        .expect("the work is delivered")
        .unwrap()
        .unwrap();
    assert_eq!(
        message.subject.as_str(),
        prefix.subject("registry.work.requested")
    );
    // A double ack waits for the server's confirmation: the ack itself was allowed.
    message.double_ack().await.unwrap();
    assert_eq!(next_error(&mut errors).await, None);

    // But not a consumer it never declared on another service's stream.
    let undeclared = stream
        .create_consumer(pull::Config {
            durable_name: Some("routing-snoop".to_owned()),
            ..Default::default()
        })
        .await;
    assert!(undeclared.is_err());
    let error = next_error(&mut errors)
        .await
        .expect("the creation is refused");
    assert!(
        error.contains("Permissions Violation for Publish"),
        "{error}"
    );
}

#[tokio::test]
async fn the_gateway_hears_the_case_events_and_nothing_else() {
    let ctx = TestContext::new(&[&sportello_gateway::SPEC]).await;
    let prefix = ctx.config.subject_prefix.clone();
    let (client, mut errors) = ctx.nats.connect_watching("gateway").await;
    let mut cases = client
        .subscribe(prefix.subject(sportello_gateway::api::live::SUBJECTS[0]))
        .await
        .unwrap();
    client.flush().await.unwrap();
    let harness = ctx.nats().await;
    harness
        .publish(prefix.subject("case.called"), "called".into())
        .await
        .unwrap();
    harness.flush().await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), cases.next())
        .await
        .expect("the board's feed hears the call")
        .unwrap();
    assert_eq!(message.subject.as_str(), prefix.subject("case.called"));

    let _registry = client
        .subscribe(prefix.subject("registry.>"))
        .await
        .unwrap();
    client.flush().await.unwrap();
    let error = next_error(&mut errors)
        .await
        .expect("another service's events are refused");
    assert!(
        error.contains("Permissions Violation for Subscription"),
        "{error}"
    );
    client
        .publish(prefix.subject("case.called"), "forged".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let error = next_error(&mut errors)
        .await
        .expect("publishing a call is refused");
    assert!(
        error.contains("Permissions Violation for Publish"),
        "{error}"
    );
    // The server's log has both, by user: what the suite's other tests look for.
    let refused = ctx.nats.violations();
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(
        refused.iter().all(|line| line.contains("user:gateway")),
        "{refused:#?}"
    );
}

#[tokio::test]
async fn the_seven_services_run_without_a_refusal() {
    let stack = sportello_tests::stack::Stack::start().await;
    // Consumers and relays step by hand in tests: step each once, so every durable
    // consumer is created and pulls, and every relay reaches JetStream.
    for (name, service) in stack.all() {
        for consumer in &service.running.workers.consumers {
            consumer
                .run_once(1)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        service
            .running
            .workers
            .relay
            .run_once()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // Routing's ordered view and the gateway's live feed subscribe in the background.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stack.assert_nats_refused_nothing();
}
