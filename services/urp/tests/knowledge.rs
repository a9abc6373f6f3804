//! The info-desk's knowledge base against a real PostgreSQL: answers published per
//! catalogue service and searched as people type — without accents, by the words' roots,
//! past a typo —; a new version replacing the last; bad input refused, nothing written.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sportello_kit::{
    CallContext, PeerChannel, Role,
    testing::{TestContext, TestService},
};
use sportello_proto::urp::v1::{
    Answer, PublishAnswerRequest, SearchAnswersRequest,
    knowledge_service_client::KnowledgeServiceClient,
};
use tonic::Code;

const SPEZIA: &str = "011015";

fn office() -> CallContext {
    CallContext::new("gateway", "operator:urp-1", SPEZIA, "knowledge.publish")
        .unwrap()
        .with_roles(&[Role::BackOffice])
}

fn info_desk() -> CallContext {
    CallContext::new("gateway", "operator:info-1", SPEZIA, "knowledge.search")
        .unwrap()
        .with_roles(&[Role::InfoDesk])
}

fn answer(code: &str, title: &str, body: &str, keywords: &str) -> Answer {
    Answer {
        municipality_istat_code: SPEZIA.into(),
        service_code: code.into(),
        title: title.into(),
        body: body.into(),
        what_to_bring: "Documento d'identità valido".into(),
        where_to_go: "Sportello Unico, Via Costantini 1".into(),
        cost: "Gratuito".into(),
        duration: "Subito allo sportello".into(),
        keywords: keywords.into(),
        ..Default::default()
    }
}

async fn search(api: &mut KnowledgeServiceClient<PeerChannel>, query: &str) -> Vec<String> {
    api.search_answers(info_desk().request(SearchAnswersRequest {
        municipality_istat_code: SPEZIA.into(),
        query: query.into(),
        limit: 0,
    }))
    .await
    .unwrap()
    .into_inner()
    .matches
    .into_iter()
    .map(|m| m.answer.unwrap().service_code)
    .collect()
}

#[tokio::test]
async fn the_info_desk_finds_answers_without_accents_by_root_and_past_a_typo() {
    let ctx = TestContext::new(&[&sportello_urp::SPEC]).await;
    let urp = TestService::start(
        &sportello_urp::SPEC,
        ctx.config.clone(),
        sportello_urp::start,
    )
    .await;
    let mut api = KnowledgeServiceClient::new(urp.channel().await);
    for a in [
        answer(
            "registry.residence_certificate",
            "Certificato di residenza",
            "Il certificato di residenza attesta l'indirizzo: si rilascia subito allo sportello.",
            "anagrafe residenza",
        ),
        answer(
            "registry.identity_card",
            "Carta d'identità elettronica: perché serve la prenotazione",
            "La CIE si richiede su appuntamento; serve una fototessera recente.",
            "cie documento",
        ),
        answer(
            "suap.dehors",
            "Dehors e occupazione di suolo pubblico",
            "Tavolini all'aperto: domanda al SUAP con la planimetria; si paga il canone unico.",
            "tavolini plateatico",
        ),
    ] {
        api.publish_answer(office().request(PublishAnswerRequest { answer: Some(a) }))
            .await
            .unwrap();
    }

    // Without the accent: "perche" finds "perché".
    assert_eq!(
        search(&mut api, "perche prenotare").await[0],
        "registry.identity_card"
    );
    // By the root: "residenze", "certificati".
    assert_eq!(
        search(&mut api, "certificati di residenze").await[0],
        "registry.residence_certificate"
    );
    // Past a typo: "certifcato", "tavolni".
    assert_eq!(
        search(&mut api, "certifcato").await[0],
        "registry.residence_certificate"
    );
    assert_eq!(search(&mut api, "tavolni").await[0], "suap.dehors");
    // By a keyword people use.
    assert_eq!(search(&mut api, "plateatico").await, vec!["suap.dehors"]);
    // No answer holds both roots: any of them, the title and keywords before the body.
    assert_eq!(
        search(&mut api, "residenza fototessera").await[..2],
        ["registry.residence_certificate", "registry.identity_card"]
    );
    // Nothing alike: nothing.
    assert!(search(&mut api, "zzqx").await.is_empty());

    // A new version replaces the last.
    let updated = api
        .publish_answer(office().request(PublishAnswerRequest {
            answer: Some(answer(
                "suap.dehors",
                "Dehors e occupazione di suolo pubblico",
                "Tavolini all'aperto: domanda al SUAP; il canone unico si paga con l'avviso pagoPA.",
                "tavolini plateatico",
            )),
        }))
        .await
        .unwrap()
        .into_inner()
        .answer
        .unwrap();
    assert_eq!(updated.version, 2);

    // Bad input: a precise error, nothing written; the info-desk does not publish.
    let mut bad = answer("suap", "x", "y", "");
    let refused = api
        .publish_answer(office().request(PublishAnswerRequest {
            answer: Some(bad.clone()),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("answer.service_code:"),
        "{}",
        refused.message()
    );
    bad.service_code = "urp.complaint".into();
    let not_theirs = api
        .publish_answer(info_desk().request(PublishAnswerRequest { answer: Some(bad) }))
        .await
        .unwrap_err();
    assert_eq!(not_theirs.code(), Code::PermissionDenied);
    let short = api
        .search_answers(info_desk().request(SearchAnswersRequest {
            municipality_istat_code: SPEZIA.into(),
            query: " a ".into(),
            limit: 0,
        }))
        .await
        .unwrap_err();
    assert!(short.message().starts_with("query:"), "{}", short.message());
    let rows: i64 = sqlx::query_scalar("select count(*) from kb_answers")
        .fetch_one(urp.running.db().pool())
        .await
        .unwrap();
    assert_eq!(rows, 3);
}
