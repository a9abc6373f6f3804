//! `sportello.education.v1.FeeService`: parses, hands each call to its flow, maps errors.

use sportello_kit::{CallContext, RequesterRef, Role, ServiceError, domain};
use sportello_pa::calendar::rome;
use sportello_proto::education::v1::{
    GetFamilyAccountRequest, GetFamilyAccountResponse, GetFeeScheduleRequest,
    GetFeeScheduleResponse, GetSubscriptionRequest, GetSubscriptionResponse, IssueNoticesRequest,
    IssueNoticesResponse, SetFeeScheduleRequest, SetFeeScheduleResponse, SubscribeRequest,
    SubscribeResponse, fee_service_server::FeeService,
};
use tonic::{Request, Response, Status};

use super::{
    Desk,
    domain::{FeeKind, parse_year},
    message, schedules, store, subscribing,
};
use crate::{enrolment::domain::parse_fiscal_code, error::EducationError};

/// The fees' gRPC service.
#[derive(Debug, Clone)]
pub struct Fees {
    desk: Desk,
}

/// Who may read fees and accounts: the counter, the back office, managers.
fn readers() -> Vec<Role> {
    let mut roles = Role::OPERATORS.to_vec();
    roles.extend([Role::Manager, Role::Admin]);
    roles
}

impl Fees {
    /// Serves fees from `desk`.
    pub fn new(desk: Desk) -> Self {
        Self { desk }
    }

    async fn subscription(
        &self,
        context: &CallContext,
        raw: &str,
    ) -> Result<store::Subscription, ServiceError> {
        let id = domain::parse_field("subscription_id", raw.trim())?;
        let not_found = || EducationError::NotFound {
            field: "subscription_id",
            what: "nessuna iscrizione con questo id / no subscription with this id",
        };
        let subscription = store::find_subscription(self.desk.office.db.pool(), id)
            .await?
            .ok_or_else(not_found)?;
        // Another municipality's subscription does not exist for this caller.
        if context
            .ensure_municipality(subscription.municipality)
            .is_err()
        {
            return Err(not_found().into());
        }
        Ok(subscription)
    }

    fn today(&self) -> jiff::civil::Date {
        rome::date_of(self.desk.office.db.clock().now())
    }
}

#[tonic::async_trait]
impl FeeService for Fees {
    #[tracing::instrument(skip_all)]
    async fn set_fee_schedule(
        &self,
        request: Request<SetFeeScheduleRequest>,
    ) -> Result<Response<SetFeeScheduleResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            schedules::set(&self.desk, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_fee_schedule(
        &self,
        request: Request<GetFeeScheduleRequest>,
    ) -> Result<Response<GetFeeScheduleResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        context.require_role(&readers())?;
        let r = request.get_ref();
        let municipality =
            domain::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        let kind = FeeKind::parse(r.kind)?;
        let year = parse_year(r.school_year)?;
        context.ensure_municipality(municipality)?;
        let schedule = store::latest_schedule(self.desk.office.db.pool(), municipality, kind, year)
            .await
            .map_err(ServiceError::from)?
            .ok_or(EducationError::NotFound {
                field: "school_year",
                what: "nessuna tariffa pubblicata per questo servizio e anno / no fee schedule \
                       for this service and year",
            })
            .map_err(ServiceError::from)?;
        Ok(Response::new(GetFeeScheduleResponse {
            schedule: Some(message::schedule(&schedule)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<SubscribeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            subscribing::subscribe(&self.desk, &context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_subscription(
        &self,
        request: Request<GetSubscriptionRequest>,
    ) -> Result<Response<GetSubscriptionResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        context.require_role(&readers())?;
        let subscription = self
            .subscription(&context, &request.get_ref().subscription_id)
            .await?;
        Ok(Response::new(GetSubscriptionResponse {
            subscription: Some(message::subscription(&subscription, self.today())),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_family_account(
        &self,
        request: Request<GetFamilyAccountRequest>,
    ) -> Result<Response<GetFamilyAccountResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        context.require_role(&readers())?;
        let r = request.get_ref();
        let municipality =
            domain::parse_field("municipality_istat_code", &r.municipality_istat_code)?;
        let payer = parse_fiscal_code("payer_fiscal_code", &r.payer_fiscal_code)?;
        context.ensure_municipality(municipality)?;
        let payer_ref = RequesterRef::derive(&self.desk.office.key, municipality, payer.as_str());
        let subscriptions = store::subscriptions_of_payer(
            self.desk.office.db.pool(),
            payer_ref.as_str(),
            municipality,
        )
        .await
        .map_err(ServiceError::from)?;
        let today = self.today();
        Ok(Response::new(GetFamilyAccountResponse {
            arrears_cents: subscriptions
                .iter()
                .map(|s| message::arrears(s, today))
                .sum(),
            subscriptions: subscriptions
                .iter()
                .map(|s| message::subscription(s, today))
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn issue_notices(
        &self,
        request: Request<IssueNoticesRequest>,
    ) -> Result<Response<IssueNoticesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        context.require_role(Role::OPERATORS)?;
        let subscription = self
            .subscription(&context, &request.get_ref().subscription_id)
            .await?;
        Ok(Response::new(
            subscribing::issue_notices(&self.desk, &context, subscription, request.get_ref())
                .await?,
        ))
    }
}
