//! Trust between services, against a real server: mutual TLS (plaintext, a foreign CA,
//! an expired certificate and TLS 1.1 refused), the allow-list, the signed end user
//! (forged, expired, misaddressed, unsigned, replayed and misbound tokens refused), and
//! deadlines that end a call to a hung peer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use sportello_kit::{
    Api, CallContext, PeerChannel, PeerId, Role, ServiceSpec, TlsIdentity,
    testing::{TestService, pki},
    trust::{
        Caller, Policy, Rule,
        pki::{Authority, Validity},
        token::{Claims, Confirmation, Signer},
    },
};
use sportello_proto::urp::v1::{
    GetRateableCaseRequest, GetRateableCaseResponse, GetSatisfactionReportRequest,
    GetSatisfactionReportResponse, SubmitFeedbackRequest, SubmitFeedbackResponse,
    feedback_service_client::FeedbackServiceClient,
    feedback_service_server::{FeedbackService, FeedbackServiceServer},
};
use tonic::{Code, Request, Response, Status};

/// Only the gateway and `system/helper` may call; both may act for persons.
static POLICY: Policy = Policy {
    rules: &[Rule {
        rpc: "sportello.urp.v1.FeedbackService/*",
        callers: &[Caller::Service("gateway"), Caller::System("helper")],
    }],
    persons: &[Caller::Service("gateway"), Caller::System("helper")],
};

static SPEC: ServiceSpec = ServiceSpec {
    name: "kittrust",
    ports: sportello_kit::DefaultPorts {
        grpc: 0,
        metrics: 0,
        http: 0,
    },
    migrator: &common::MIGRATOR,
    streams: &[],
    consumers: Vec::new,
    subscriptions: &[],
    serves_http: false,
    policy: &POLICY,
};

/// What the handler last saw.
static SEEN: Mutex<Option<CallContext>> = Mutex::new(None);

/// Records the call context; a comment of "hang" never answers.
struct Recorder;

#[tonic::async_trait]
impl FeedbackService for Recorder {
    async fn submit_feedback(
        &self,
        request: Request<SubmitFeedbackRequest>,
    ) -> Result<Response<SubmitFeedbackResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        *SEEN.lock().unwrap() = Some(context);
        if request.get_ref().comment == "hang" {
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        Ok(Response::new(SubmitFeedbackResponse::default()))
    }

    // Only SubmitFeedback carries the calls under test; the rest of URP's service is
    // URP's own tests' business.
    async fn get_rateable_case(
        &self,
        _: Request<GetRateableCaseRequest>,
    ) -> Result<Response<GetRateableCaseResponse>, Status> {
        Err(Status::unimplemented("not under test"))
    }

    async fn get_satisfaction_report(
        &self,
        _: Request<GetSatisfactionReportRequest>,
    ) -> Result<Response<GetSatisfactionReportResponse>, Status> {
        Err(Status::unimplemented("not under test"))
    }
}

async fn start() -> TestService {
    let ctx = sportello_kit::testing::TestContext::new(&[&SPEC]).await;
    TestService::start(
        &SPEC,
        ctx.config,
        |config, listeners, shutdown| async move {
            let service = sportello_kit::Service::start(&SPEC, config).await?;
            let api = Api::new().grpc(FeedbackServiceServer::with_interceptor(
                Recorder,
                sportello_kit::require_call_context,
            ));
            service.serve(api, listeners, shutdown).await
        },
    )
    .await
}

fn operator() -> CallContext {
    CallContext::new("gateway", "operator:m.rossi", "011015", "feedback.record")
        .unwrap()
        .with_roles(&[Role::Polivalente])
}

async fn submit(
    channel: PeerChannel,
    request: Request<SubmitFeedbackRequest>,
) -> Result<(), Status> {
    FeedbackServiceClient::new(channel)
        .submit_feedback(request)
        .await
        .map(|_| ())
}

/// A request carrying `token` as it is, with no context for the channel to sign.
fn with_token(token: &str) -> Request<SubmitFeedbackRequest> {
    let mut request = Request::new(SubmitFeedbackRequest::default());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn claims_for(identity: &TlsIdentity, audience: &str) -> Claims {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    Claims {
        iss: identity.id().uri(),
        sub: "operator:m.rossi".into(),
        aud: audience.into(),
        iat: now,
        nbf: now,
        exp: now + 10,
        jti: uuid::Uuid::new_v4().simple().to_string(),
        mun: "011015".into(),
        pur: "feedback.record".into(),
        roles: vec![Role::Admin],
        dept: None,
        act: None,
        cnf: Confirmation {
            x5t_s256: identity.cert().thumbprint.clone(),
        },
    }
}

fn assert_code(result: Result<(), Status>, code: Code, what: &str) {
    match result {
        Err(status) => assert_eq!(status.code(), code, "{what}: {status:?}"),
        Ok(()) => panic!("{what}: accepted"),
    }
}

#[tokio::test]
async fn a_person_signed_by_the_gateway_reaches_the_handler_as_asserted() {
    let service = start().await;
    submit(
        service.channel().await,
        operator().request(SubmitFeedbackRequest::default()),
    )
    .await
    .unwrap();
    let seen = SEEN.lock().unwrap().clone().unwrap();
    assert_eq!(seen.caller(), "gateway", "the caller is the certificate's");
    assert_eq!(seen.actor(), "operator:m.rossi");
    assert_eq!(seen.roles(), &[Role::Polivalente]);
    assert_eq!(seen.asserter(), Some("spiffe://sportello/svc/gateway"));
    assert!(seen.remaining().is_some(), "the caller's deadline travels");
}

#[tokio::test]
async fn plaintext_is_refused() {
    let service = start().await;
    let plain =
        tonic::transport::Endpoint::from_shared(format!("http://{}", service.running.grpc_addr))
            .unwrap()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(2))
            .connect_lazy();
    let result = tonic_health::pb::health_client::HealthClient::new(plain)
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await;
    assert!(result.is_err(), "a plaintext call was answered: {result:?}");
}

/// The server refuses the client's certificate: the handshake or the first call fails.
async fn refused_with(service: &TestService, identity: &TlsIdentity) {
    let channel = PeerChannel::connect(
        identity,
        service.name(),
        &service.grpc_url(),
        Duration::from_secs(5),
    )
    .await;
    let result = match channel {
        Err(_) => return,
        Ok(channel) => {
            submit(
                channel,
                operator().request(SubmitFeedbackRequest::default()),
            )
            .await
        }
    };
    assert!(result.is_err(), "a refused certificate was served");
}

#[tokio::test]
async fn a_certificate_from_another_authority_is_refused() {
    let service = start().await;
    let other = Authority::generate("not the deployment's CA").unwrap();
    let issued = other
        .issue(
            &PeerId::parse("svc/gateway").unwrap(),
            &[],
            Validity::Days(1),
        )
        .unwrap();
    // It trusts the deployment's CA (it could verify the server), but its own
    // certificate comes from elsewhere.
    let stranger = TlsIdentity::from_pem(
        &issued.cert_pem,
        &issued.key_pem,
        pki::authority().cert_pem(),
    )
    .unwrap();
    refused_with(&service, &stranger).await;
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let service = start().await;
    let expired = pki::issue(pki::authority(), "svc/gateway", Validity::Expired);
    refused_with(&service, &expired).await;
}

/// `openssl s_client` against the service with `args`; its exit status and output.
async fn s_client(service: &TestService, args: &[&str]) -> (bool, String) {
    let mut command = std::process::Command::new("openssl");
    command
        .args([
            "s_client",
            "-connect",
            &service.running.grpc_addr.to_string(),
        ])
        .args(args)
        .stdin(std::process::Stdio::null());
    // On a blocking thread: the server answers on this test's own runtime thread.
    let output = tokio::task::spawn_blocking(move || {
        command
            .output()
            .expect("openssl is needed for this test (Debian package openssl)")
    })
    .await
    .unwrap();
    (
        output.status.success(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test]
async fn tls_1_1_and_older_are_refused() {
    let service = start().await;
    // The control: TLS 1.2 with a certificate of the deployment gets a session.
    let (cert, key, ca) = pki::files("svc/gateway");
    let (cert, key, ca) = (
        cert.display().to_string(),
        key.display().to_string(),
        ca.display().to_string(),
    );
    let (_, text) = s_client(
        &service,
        &["-tls1_2", "-cert", &cert, "-key", &key, "-CAfile", &ca],
    )
    .await;
    assert!(
        text.contains("Protocol  : TLSv1.2") && !text.contains("Cipher is (NONE)"),
        "the control did not get a TLS 1.2 session: {text}"
    );
    // TLS 1.1: the server answers the first message with an alert; no cipher, no session.
    let (ok, text) = s_client(&service, &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]).await;
    assert!(!ok, "openssl s_client -tls1_1 succeeded: {text}");
    assert!(
        text.contains("Cipher is (NONE)"),
        "a TLS 1.1 session was established: {text}"
    );
}

#[tokio::test]
async fn a_caller_outside_the_allow_list_is_denied() {
    let service = start().await;
    let suap = service.channel_as("svc/suap").await;
    assert_code(
        submit(suap, operator().request(SubmitFeedbackRequest::default())).await,
        Code::PermissionDenied,
        "suap is not on the list",
    );
}

#[tokio::test]
async fn forged_expired_misaddressed_unsigned_and_replayed_assertions_are_unauthenticated() {
    let service = start().await;
    let gateway = pki::identity("svc/gateway");
    let channel = service.channel().await;

    // Forged: the gateway's claims, signed with another key.
    let forger = Signer::new(pki::identity("svc/suap"));
    let forged = forger
        .sign_claims(&claims_for(&gateway, "kittrust"))
        .unwrap();
    assert_code(
        submit(channel.clone(), with_token(&forged)).await,
        Code::Unauthenticated,
        "forged",
    );

    let signer = Signer::new(gateway.clone());
    // Expired.
    let mut old = claims_for(&gateway, "kittrust");
    old.iat -= 120;
    old.nbf -= 120;
    old.exp -= 120;
    assert_code(
        submit(
            channel.clone(),
            with_token(&signer.sign_claims(&old).unwrap()),
        )
        .await,
        Code::Unauthenticated,
        "expired",
    );
    // Claiming a longer life than allowed.
    let mut long = claims_for(&gateway, "kittrust");
    long.exp += 3_600;
    assert_code(
        submit(
            channel.clone(),
            with_token(&signer.sign_claims(&long).unwrap()),
        )
        .await,
        Code::Unauthenticated,
        "too long-lived",
    );
    // For another service.
    let elsewhere = signer
        .sign_claims(&claims_for(&gateway, "routing"))
        .unwrap();
    assert_code(
        submit(channel.clone(), with_token(&elsewhere)).await,
        Code::Unauthenticated,
        "wrong audience",
    );
    // alg: none.
    use base64::Engine;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&serde_json::to_value(claims_for(&gateway, "kittrust")).unwrap())
    );
    assert_code(
        submit(channel.clone(), with_token(&unsigned)).await,
        Code::Unauthenticated,
        "alg none",
    );
    // Replayed: the first use passes, the second is refused.
    let once = signer
        .sign_claims(&claims_for(&gateway, "kittrust"))
        .unwrap();
    submit(channel.clone(), with_token(&once)).await.unwrap();
    assert_code(
        submit(channel.clone(), with_token(&once)).await,
        Code::Unauthenticated,
        "replayed",
    );
    // A person named in a header, with no assertion.
    let mut header_only = Request::new(SubmitFeedbackRequest::default());
    operator().write_metadata(&mut header_only);
    assert_code(
        submit(channel.clone(), header_only).await,
        Code::Unauthenticated,
        "a person in a header",
    );
}

#[tokio::test]
async fn an_assertion_stolen_from_another_caller_is_useless() {
    let service = start().await;
    let gateway = pki::identity("svc/gateway");
    let stolen = Signer::new(gateway.clone())
        .sign_claims(&claims_for(&gateway, "kittrust"))
        .unwrap();
    // system/helper may act for persons here, but the token names the gateway's
    // certificate and was signed with its key.
    let helper = service.channel_as("system/helper").await;
    assert_code(
        submit(helper, with_token(&stolen)).await,
        Code::Unauthenticated,
        "bound to another certificate",
    );
}

#[tokio::test]
async fn a_call_to_a_hung_peer_ends_at_its_deadline() {
    let service = start().await;
    let channel = PeerChannel::connect(
        &pki::identity("svc/gateway"),
        service.name(),
        &service.grpc_url(),
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let result = submit(
        channel,
        operator().request(SubmitFeedbackRequest {
            comment: "hang".into(),
            ..Default::default()
        }),
    )
    .await;
    let took = started.elapsed();
    assert_code(result, Code::DeadlineExceeded, "a hung peer");
    assert!(
        took < Duration::from_millis(300 + 500),
        "the call outlived its deadline: {took:?}"
    );
}
