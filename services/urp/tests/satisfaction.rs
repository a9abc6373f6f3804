//! Satisfaction tied to cases, end to end against real PostgreSQL, NATS and routing: an
//! info-desk case completed at the counter with its outcome reaches URP as routing's
//! `case.completed` event, becomes rateable under a code, is rated once through it within
//! 30 days — naming the service, the site and the tier, never the operator — and shows in
//! the manager's report next to its wait, handling time and outcome. Ratings of a service
//! without a case still work.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sportello_kit::{
    CallContext, PeerChannel, Role,
    testing::{TestContext, TestService},
};
use sportello_proto::{
    common::v1::{Address, Channel},
    routing::v1::{
        CallNextRequest, CompleteRequest, CreateSiteRequest, IssueTicketRequest, Operator,
        Presence, SetPresenceRequest, SitAtCounterRequest, SiteSettings, Skill, Tier,
        UpsertOperatorRequest, case_service_client::CaseServiceClient,
        operator_service_client::OperatorServiceClient, site_service_client::SiteServiceClient,
    },
    urp::v1::{
        GetRateableCaseRequest, GetSatisfactionReportRequest, RateableCase, RateableKind,
        RatingChannel, SubmitFeedbackRequest, feedback_service_client::FeedbackServiceClient,
    },
};
use tonic::Code;

const SPEZIA: &str = "011015";
const INFO: &str = "urp.information";
const OPERATOR: &str = "info-1";

fn context(actor: &str, purpose: &str, roles: &[Role]) -> CallContext {
    let context = CallContext::new("gateway", actor, SPEZIA, purpose).unwrap();
    if roles.is_empty() {
        context
    } else {
        context.with_roles(roles)
    }
}

fn counter() -> CallContext {
    context(
        &format!("operator:{OPERATOR}"),
        "counter.serve",
        &[Role::InfoDesk],
    )
}

fn web() -> CallContext {
    context("anonymous:web", "feedback.rate", &[])
}

fn manager() -> CallContext {
    context("operator:resp-1", "feedback.report", &[Role::Manager])
}

/// Routing with La Spezia's catalogue, one site and an info-desk operator at counter 1;
/// URP beside it.
struct Desk {
    ctx: TestContext,
    routing: TestService,
    urp: TestService,
    site_id: String,
}

impl Desk {
    async fn open() -> Self {
        let ctx = TestContext::new(&[&sportello_routing::SPEC, &sportello_urp::SPEC]).await;
        let mut config = sportello_routing::RoutingConfig::from(ctx.config.clone());
        config.seed_municipalities = vec![SPEZIA.parse().unwrap()];
        let routing = Box::pin(TestService::start(
            &sportello_routing::SPEC,
            config,
            sportello_routing::start,
        ))
        .await;
        let urp = Box::pin(TestService::start(
            &sportello_urp::SPEC,
            ctx.config.clone(),
            sportello_urp::start,
        ))
        .await;
        let admin = context("operator:admin", "admin", &[Role::Admin]);
        let channel = routing.channel().await;
        let site_id = SiteServiceClient::new(channel.clone())
            .create_site(admin.request(CreateSiteRequest {
                municipality_istat_code: SPEZIA.into(),
                code: "palazzo-civico".into(),
                name: "Palazzo Civico".into(),
                address: Some(Address {
                    street_name: "Piazza Europa".into(),
                    house_number: "1".into(),
                    postal_code: "19124".into(),
                    ..Default::default()
                }),
                counter_count: 2,
                settings: Some(SiteSettings {
                    priority_bound_minutes: 20,
                    no_show_after_calls: 2,
                    service_groups: vec![],
                }),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .site
            .unwrap()
            .id;
        let mut operators = OperatorServiceClient::new(channel);
        operators
            .upsert_operator(admin.request(UpsertOperatorRequest {
                operator: Some(Operator {
                    id: OPERATOR.into(),
                    municipality_istat_code: SPEZIA.into(),
                    display_name: "Operatrice URP".into(),
                    tier: Tier::InfoDesk as i32,
                    department: "urp".into(),
                    skills: vec![Skill {
                        skill: "urp".into(),
                        proficiency: 3,
                    }],
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        operators
            .sit_at_counter(counter().request(SitAtCounterRequest {
                operator_id: OPERATOR.into(),
                site_id: site_id.clone(),
                counter_number: 1,
            }))
            .await
            .unwrap();
        operators
            .set_presence(counter().request(SetPresenceRequest {
                operator_id: OPERATOR.into(),
                presence: Presence::Available as i32,
            }))
            .await
            .unwrap();
        Self {
            ctx,
            routing,
            urp,
            site_id,
        }
    }

    async fn cases(&self) -> CaseServiceClient<PeerChannel> {
        CaseServiceClient::new(self.routing.channel().await)
    }

    async fn feedback(&self) -> FeedbackServiceClient<PeerChannel> {
        FeedbackServiceClient::new(self.urp.channel().await)
    }

    /// A kiosk ticket for the info desk, called, served for `minutes` and completed with
    /// `outcome`; URP has learnt of it. The case id.
    async fn serve(&self, minutes: i64, outcome: &str) -> String {
        let kiosk = context("system:kiosk-1", "ticket.issue", &[Role::Kiosk]);
        self.cases()
            .await
            .issue_ticket(kiosk.request(IssueTicketRequest {
                site_id: self.site_id.clone(),
                service_codes: vec![INFO.into()],
                ..Default::default()
            }))
            .await
            .unwrap();
        self.ctx.clock.advance(jiff::SignedDuration::from_mins(4));
        let call = self
            .cases()
            .await
            .call_next(counter().request(CallNextRequest {
                operator_id: OPERATOR.into(),
            }))
            .await
            .unwrap()
            .into_inner()
            .call
            .unwrap();
        let case_id = call.case.unwrap().id;
        self.ctx
            .clock
            .advance(jiff::SignedDuration::from_mins(minutes));
        self.cases()
            .await
            .complete(counter().request(CompleteRequest {
                operator_id: OPERATOR.into(),
                case_id: case_id.clone(),
                outcome_code: outcome.into(),
                appointment: None,
            }))
            .await
            .unwrap();
        // Back to the counter for the next citizen.
        OperatorServiceClient::new(self.routing.channel().await)
            .set_presence(counter().request(SetPresenceRequest {
                operator_id: OPERATOR.into(),
                presence: Presence::Available as i32,
            }))
            .await
            .unwrap();
        self.routing.running.workers.relay.run_once().await.unwrap();
        self.urp.step("urp-cases").await;
        case_id
    }

    async fn rateable_of(&self, case_id: &str) -> Result<RateableCase, tonic::Status> {
        self.feedback()
            .await
            .get_rateable_case(counter().request(GetRateableCaseRequest {
                municipality_istat_code: SPEZIA.into(),
                code: String::new(),
                case_id: case_id.into(),
            }))
            .await
            .map(|r| r.into_inner().rateable_case.unwrap())
    }

    async fn rate(
        &self,
        code: &str,
        rating: u32,
    ) -> Result<sportello_proto::urp::v1::Feedback, tonic::Status> {
        self.feedback()
            .await
            .submit_feedback(web().request(SubmitFeedbackRequest {
                municipality_istat_code: SPEZIA.into(),
                case_code: code.into(),
                rating,
                comment: "Chiaro e veloce".into(),
                rated_via: RatingChannel::Qr as i32,
                ..Default::default()
            }))
            .await
            .map(|r| r.into_inner().feedback.unwrap())
    }

    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(self.urp.running.db().pool())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_quick_info_desk_case_is_recorded_with_its_outcome_and_rated_once_by_its_code() {
    let desk = Desk::open().await;
    let case_id = desk.serve(2, "answered").await;

    // The counter finds the code of the case it completed, with what URP recorded.
    let rateable = desk.rateable_of(&case_id).await.unwrap();
    assert_eq!(rateable.service_code, INFO);
    assert_eq!(rateable.outcome_code, "answered");
    assert_eq!(rateable.tier, 1, "the info desk");
    assert_eq!(rateable.kind, RateableKind::Counter as i32);
    assert_eq!(rateable.handling_seconds, 120, "a quick case: two minutes");
    assert_eq!(rateable.waited_seconds, 240);
    assert_eq!(rateable.site_id, desk.site_id);
    assert!(!rateable.rated);
    assert_eq!(rateable.code.len(), 11, "{}", rateable.code);

    // The public web may not look a code up by the case.
    let refused = desk
        .feedback()
        .await
        .get_rateable_case(web().request(GetRateableCaseRequest {
            municipality_istat_code: SPEZIA.into(),
            code: String::new(),
            case_id: case_id.clone(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // The citizen rates it through the printed QR, typing the code in lowercase.
    let rated = desk.rate(&rateable.code.to_lowercase(), 4).await.unwrap();
    assert!(rated.tied_to_case);
    assert_eq!(rated.service_code, INFO);
    assert_eq!(rated.site_id, desk.site_id);
    assert_eq!(rated.tier, 1);
    assert_eq!(rated.channel, Channel::Counter as i32);
    assert_eq!(rated.rated_via, RatingChannel::Qr as i32);

    // Once only: the second rating is refused and writes nothing.
    let again = desk.rate(&rateable.code, 1).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    assert!(again.message().contains(" / "), "Italian, then English");
    assert_eq!(desk.count("select count(*) from feedback").await, 1);

    // Rated, the case is forgotten: no score can be joined to who served it.
    let gone = desk.rateable_of(&case_id).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(
        desk.count("select count(*) from rateable_cases where case_id is not null")
            .await,
        0
    );
    let by_code = desk
        .feedback()
        .await
        .get_rateable_case(web().request(GetRateableCaseRequest {
            municipality_istat_code: SPEZIA.into(),
            code: rateable.code.clone(),
            case_id: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .rateable_case
        .unwrap();
    assert!(by_code.rated);

    assert_eq!(desk.count("select count(*) from rateable_cases").await, 1);

    // The manager sees it per service, next to its wait and handling time.
    let today = desk
        .urp
        .running
        .db()
        .clock()
        .now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap())
        .date();
    let report = desk
        .feedback()
        .await
        .get_satisfaction_report(manager().request(GetSatisfactionReportRequest {
            municipality_istat_code: SPEZIA.into(),
            from_date: today.to_string(),
            to_date: today.to_string(),
            site_id: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let info = report
        .services
        .iter()
        .find(|s| s.service_code == INFO)
        .unwrap();
    assert_eq!(info.tier, 1);
    assert_eq!(info.cases_completed, 1);
    assert_eq!(info.median_handling_seconds, 120);
    assert_eq!(info.median_wait_seconds, 240);
    assert_eq!(info.outcomes[0].outcome_code, "answered");
    assert_eq!(info.ratings, 1);
    assert_eq!(info.case_ratings, 1);
    assert!((info.average_rating - 4.0).abs() < 1e-9);
    assert_eq!(info.rating_counts, vec![0, 0, 0, 1, 0]);

    // Not for the counter: the report is the office's, never anyone's performance.
    let refused = desk
        .feedback()
        .await
        .get_satisfaction_report(counter().request(GetSatisfactionReportRequest {
            municipality_istat_code: SPEZIA.into(),
            from_date: today.to_string(),
            to_date: today.to_string(),
            site_id: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_rating_after_thirty_days_or_with_a_bad_code_is_refused_and_a_service_is_still_rated_without_a_case()
 {
    let desk = Desk::open().await;
    let case_id = desk.serve(3, "form_given").await;
    let code = desk.rateable_of(&case_id).await.unwrap().code;

    desk.ctx
        .clock
        .advance(jiff::SignedDuration::from_hours(31 * 24));
    let late = desk.rate(&code, 5).await.unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition, "{late:?}");
    assert!(late.message().contains("termine"), "{late:?}");

    let unknown = desk.rate("ZZZZZ-ZZZZZ", 5).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = desk.rate("ABC", 5).await.unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(malformed.message().contains("case_code"), "{malformed:?}");
    assert_eq!(desk.count("select count(*) from feedback").await, 0);

    // The per-service path of before: a service and how it was received.
    let rated = desk
        .feedback()
        .await
        .submit_feedback(web().request(SubmitFeedbackRequest {
            municipality_istat_code: SPEZIA.into(),
            service_code: "registry.residence_certificate".into(),
            channel: Channel::Web as i32,
            rating: 5,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .feedback
        .unwrap();
    assert!(!rated.tied_to_case);
    assert_eq!(rated.tier, 0);
    assert_eq!(desk.count("select count(*) from feedback").await, 1);
}
