//! Mail through a real SMTP server (aiosmtpd, started per test by the kit's test support).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use sportello_kit::{
    mail::{Address, Mail, MailConfig, MailError, Mailer},
    testing::smtp::{SmtpSink, free_port},
};

#[tokio::test]
async fn mail_with_italian_accents_arrives_as_sent() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&MailConfig::from_url(&sink.smtp_url()).unwrap()).unwrap();
    let subject = "Conferma prenotazione — Città di Forlì: è già tutto pronto";
    let text = "Gentile cittadina, gentile cittadino,\n\n\
                il codice di conferma è 482913. Perché l'appuntamento sia valido, \
                inseriscilo entro 15 minuti; più tardi non sarà accettato.\n\n\
                Uffici comunali — Sportello unico, piazza Saffi 8, Forlì\n";
    mailer
        .send(Mail {
            to: "Mario.Rossi@Example.IT".parse().unwrap(),
            subject: subject.to_owned(),
            text: text.to_owned(),
        })
        .await
        .unwrap();

    let received = sink
        .wait_for("Mario.Rossi@example.it", Duration::from_secs(10))
        .await;
    assert_eq!(received.subject, subject);
    assert_eq!(received.text, text);

    // A text without a final line end, and a plain ASCII one, come back as they left.
    for (to, text) in [
        ("anna@example.it", "Il tuo codice è 1234"),
        ("luca@example.it", "Your code is 1234"),
    ] {
        mailer
            .send(Mail {
                to: to.parse().unwrap(),
                subject: "Codice".to_owned(),
                text: text.to_owned(),
            })
            .await
            .unwrap();
        let received = sink.wait_for(to, Duration::from_secs(10)).await;
        assert_eq!(received.text, text);
    }
}

#[tokio::test]
async fn an_invalid_mail_address_is_refused_naming_it() {
    let err = "mario.rossi@@example".parse::<Address>().unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("indirizzo e-mail non valido"),
        "{message}"
    );
    assert!(message.contains("not a valid e-mail address"), "{message}");
    assert!(message.contains("\"mario.rossi@@example\""), "{message}");
}

#[tokio::test]
async fn mail_to_a_server_not_listening_fails_quickly_as_transient() {
    // A port just freed: nothing listens on it.
    let url = format!("smtp://127.0.0.1:{}", free_port());
    let mailer = Mailer::new(&MailConfig::from_url(&url).unwrap()).unwrap();
    let started = Instant::now();
    let err = mailer
        .send(Mail {
            to: "mario@example.it".parse().unwrap(),
            subject: "Codice".to_owned(),
            text: "123456".to_owned(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, MailError::Unavailable { .. }) && err.is_transient(),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn mail_refused_for_good_or_for_now_is_told_apart() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&MailConfig::from_url(&sink.smtp_url()).unwrap()).unwrap();
    let send = |to: &str| {
        mailer.send(Mail {
            to: to.parse().unwrap(),
            subject: "Codice".to_owned(),
            text: "123456".to_owned(),
        })
    };
    let refused = send("refused@example.it").await.unwrap_err();
    assert_eq!(refused, MailError::Refused { code: 550 });
    assert!(!refused.is_transient());
    let busy = send("busy@example.it").await.unwrap_err();
    assert!(busy.is_transient(), "{busy:?}");
    // No error carries the server's reply, which may quote the address.
    assert!(!format!("{refused} {busy} {refused:?} {busy:?}").contains("example.it"));
}
