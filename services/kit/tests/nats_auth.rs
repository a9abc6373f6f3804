//! NATS permissions hold: a service's user, derived from its spec, may use its own
//! subjects and is refused another service's subjects and a subscription to everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use sportello_kit::{NatsPermissions, testing::TestContext};

/// The next error the server sent, if one comes within a few seconds.
async fn next_error(errors: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(3), errors.recv())
        .await
        .ok()
        .flatten()
}

#[tokio::test]
async fn a_service_is_refused_another_services_subjects_and_everything() {
    let ctx = TestContext::new(&[&common::SPEC]).await;
    let prefix = &ctx.config.subject_prefix;
    let (client, mut errors) = ctx.nats.connect_watching("kittest").await;

    // Another service's subject (routing's case events).
    client
        .publish(prefix.subject("case.called"), "forged".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let error = next_error(&mut errors)
        .await
        .expect("the publish is refused");
    assert!(
        error.contains("Permissions Violation for Publish")
            && error.contains(&prefix.subject("case.called")),
        "{error}"
    );

    // Everything.
    let _everything = client.subscribe(">").await.unwrap();
    client.flush().await.unwrap();
    let error = next_error(&mut errors)
        .await
        .expect("the subscription is refused");
    assert!(
        error.contains("Permissions Violation for Subscription") && error.contains('>'),
        "{error}"
    );

    // Another service's inbox: its JetStream answers are not this user's to read.
    let _replies = client.subscribe("_INBOX.routing.>").await.unwrap();
    client.flush().await.unwrap();
    let error = next_error(&mut errors).await.expect("the inbox is refused");
    assert!(
        error.contains("Permissions Violation for Subscription"),
        "{error}"
    );

    // Its own subjects are allowed: nothing refused.
    client
        .publish(prefix.subject("registry.street.registered"), "ok".into())
        .await
        .unwrap();
    client.flush().await.unwrap();
    assert_eq!(next_error(&mut errors).await, None);
}

#[tokio::test]
async fn another_services_stream_cannot_be_created_or_changed() {
    let ctx = TestContext::new(&[&common::SPEC]).await;
    let prefix = ctx.config.subject_prefix.clone();
    let client = ctx.nats_as("kittest").await;
    let mut js = async_nats::jetstream::new(client);
    // A refused request is never answered: wait for that answer only briefly.
    js.set_timeout(Duration::from_secs(1));
    let routing = sportello_kit::nats::stream_config(
        &prefix,
        &sportello_kit::StreamSpec {
            part: "routing",
            subjects: &["case.>"],
        },
        1,
    );
    // No answer reaches a refused request: it times out rather than succeeding.
    assert!(js.create_or_update_stream(routing).await.is_err());
    // Its own stream it may set up.
    let own = sportello_kit::nats::stream_config(&prefix, &common::SPEC.streams[0], 1);
    js.create_or_update_stream(own).await.unwrap();
}

#[test]
fn permissions_follow_the_spec() {
    let prefix = "sportello".parse().unwrap();
    let permissions = NatsPermissions::of(&common::SPEC, &prefix);
    assert_eq!(permissions.user, "kittest");
    for subject in [
        "sportello.registry.>",
        "sportello.deadletter.kittest.>",
        "$JS.API.STREAM.CREATE.SPORTELLO_KITTEST",
        "$JS.API.STREAM.UPDATE.SPORTELLO_DEADLETTER",
        // A declared consumer: its creation, pulls and acks.
        "$JS.API.CONSUMER.CREATE.SPORTELLO_KITTEST.kittest-effects.>",
        "$JS.API.CONSUMER.MSG.NEXT.SPORTELLO_KITTEST.kittest-held",
        "$JS.ACK.SPORTELLO_KITTEST.kittest-effects.>",
    ] {
        assert!(
            permissions.publish.iter().any(|s| s == subject),
            "{subject} in {:?}",
            permissions.publish
        );
    }
    assert_eq!(permissions.subscribe, ["_INBOX.kittest.>"]);
    assert!(
        !permissions
            .publish
            .iter()
            .any(|s| s == ">" || s.starts_with("_INBOX"))
    );
}

#[tokio::test]
async fn a_consumer_missing_from_the_spec_stops_the_start() {
    let ctx = TestContext::new(&[&common::SPEC]).await;
    let listeners = sportello_kit::Listeners::ephemeral(&common::SPEC)
        .await
        .unwrap();
    let mut service = sportello_kit::Service::start(&common::SPEC, ctx.config.clone())
        .await
        .unwrap();
    // Its user would be refused this consumer's subjects: better not to start at all.
    service.consume(
        sportello_kit::ConsumerSpec::new("forgotten", "kittest", &["registry.>"]),
        common::RecordingHandler,
    );
    let error = service
        .serve(
            sportello_kit::Api::new(),
            listeners,
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .expect_err("an undeclared consumer is refused");
    assert!(error.to_string().contains("forgotten"), "{error}");
}
