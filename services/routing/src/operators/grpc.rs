//! `sportello.routing.v1.OperatorService`.

use sportello_kit::{CallContext, Db, ErrorKind, ServiceError, domain};
use sportello_proto::routing::v1::{
    GetOperatorRequest, GetOperatorResponse, HeartbeatRequest, HeartbeatResponse,
    ListOperatorsRequest, ListOperatorsResponse, Presence, PresenceChangeReason,
    SetPresenceRequest, SetPresenceResponse, SitAtCounterRequest, SitAtCounterResponse,
    UpsertOperatorRequest, UpsertOperatorResponse, operator_service_server::OperatorService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    domain::{Operator, Profile, parse_operator_id},
    presence, store,
};
use crate::{cases, domain::Stored, error::RoutingError, sites};

/// The operators' gRPC service.
#[derive(Debug, Clone)]
pub struct Operators {
    db: Db,
    heartbeat_timeout: std::time::Duration,
    back_office: Option<crate::work::flow::WorkFlow>,
}

impl Operators {
    /// Serves operators from `db`; silent clients go offline after `heartbeat_timeout`.
    pub fn new(db: Db, heartbeat_timeout: std::time::Duration) -> Self {
        Self {
            db,
            heartbeat_timeout,
            back_office: None,
        }
    }

    /// An operator who turns to back-office work is offered the next item at once.
    pub fn with_back_office(mut self, flow: crate::work::flow::WorkFlow) -> Self {
        self.back_office = Some(flow);
        self
    }

    async fn message(
        &self,
        operator: &Operator,
    ) -> Result<sportello_proto::routing::v1::Operator, ServiceError> {
        let held = cases::store::held_by(self.db.pool(), &operator.profile.id).await?;
        Ok(operator.to_message(held.map(|c| c.id)))
    }
}

/// Refuses an operator's own action made on someone else's behalf: the acting person
/// must be `operator:<id>`, asserted with a serving role.
pub fn ensure_acting_as(context: &CallContext, operator_id: &str) -> Result<(), ServiceError> {
    context.require_role(sportello_kit::Role::OPERATORS)?;
    if context.actor().strip_prefix("operator:") == Some(operator_id) {
        Ok(())
    } else {
        Err(ServiceError::new(
            ErrorKind::PermissionDenied,
            "an operator's actions can only be taken by that operator",
        ))
    }
}

/// Reads an operator the caller may see: same municipality.
pub async fn visible(db: &Db, context: &CallContext, id: &str) -> Result<Operator, ServiceError> {
    let operator = store::get(db.pool(), id).await?;
    context.ensure_visible(operator.profile.municipality)?;
    Ok(operator)
}

#[tonic::async_trait]
impl OperatorService for Operators {
    #[tracing::instrument(skip_all)]
    async fn upsert_operator(
        &self,
        request: Request<UpsertOperatorRequest>,
    ) -> Result<Response<UpsertOperatorResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let message = request.into_inner().operator.unwrap_or_default();
        let profile = Profile::parse(&message)?;
        crate::access::ensure_administers(&context, profile.municipality)?;
        let expected = i64::try_from(message.version)
            .map_err(|_| ServiceError::invalid_field("operator.version", "is too large"))?;
        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let operator = store::upsert_profile(&mut uow, &profile, expected).await?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(UpsertOperatorResponse {
            operator: Some(self.message(&operator).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_operator(
        &self,
        request: Request<GetOperatorRequest>,
    ) -> Result<Response<GetOperatorResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = parse_operator_id("operator_id", &request.get_ref().operator_id)?;
        let operator = visible(&self.db, &context, &id).await?;
        Ok(Response::new(GetOperatorResponse {
            operator: Some(self.message(&operator).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_operators(
        &self,
        request: Request<ListOperatorsRequest>,
    ) -> Result<Response<ListOperatorsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let site = crate::protocol::domain::parse_optional_id("site_id", &request.site_id)?;
        let operators = store::list(self.db.pool(), municipality, site).await?;
        let mut messages = Vec::with_capacity(operators.len());
        for operator in &operators {
            messages.push(self.message(operator).await?);
        }
        Ok(Response::new(ListOperatorsResponse {
            operators: messages,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn sit_at_counter(
        &self,
        request: Request<SitAtCounterRequest>,
    ) -> Result<Response<SitAtCounterResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = parse_operator_id("operator_id", &request.operator_id)?;
        ensure_acting_as(&context, &id)?;
        let site_id: Uuid = domain::parse_field("site_id", &request.site_id)?;
        let counter = i16::try_from(request.counter_number)
            .ok()
            .filter(|n| (1..=999).contains(n))
            .ok_or_else(|| ServiceError::invalid_field("counter_number", "must be 1 to 999"))?;

        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let mut operator = store::lock(&mut uow, &id).await?;
        context.ensure_visible(operator.profile.municipality)?;
        let site = sites::store::get(uow.conn(), site_id).await?;
        if site.site.municipality != operator.profile.municipality {
            return Err(RoutingError::SiteNotFound.into());
        }
        if cases::store::held_by(uow.conn(), &id).await?.is_some() {
            return Err(RoutingError::AlreadyHolding.into());
        }
        if i32::from(counter) > i32::from(site.site.counter_count) {
            return Err(RoutingError::CounterNotFound(counter).into());
        }
        operator.seat = Some((site_id, counter));
        let operator = store::save(&mut uow, operator).await?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(SitAtCounterResponse {
            operator: Some(self.message(&operator).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn set_presence(
        &self,
        request: Request<SetPresenceRequest>,
    ) -> Result<Response<SetPresenceResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let id = parse_operator_id("operator_id", &request.operator_id)?;
        ensure_acting_as(&context, &id)?;
        let target = Presence::from_request(request.presence, "presence")?;
        if matches!(target, Presence::Busy | Presence::WrapUp) {
            return Err(ServiceError::invalid_field("presence", "busy and wrap-up follow the cases: choose available, break, back-office or offline").into());
        }

        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        // The timer row before the operator row: the order the timer worker takes them.
        let due = uow
            .now()
            .checked_add(self.heartbeat_timeout)
            .unwrap_or(uow.now());
        presence::schedule_check(&mut uow, &id, due).await?;
        let operator = store::lock(&mut uow, &id).await?;
        context.ensure_visible(operator.profile.municipality)?;
        let holding = cases::store::held_by(uow.conn(), &id).await?.is_some();
        let target = match target {
            // Back at the counter with a case still in hand: serving it.
            Presence::Available if holding => Presence::Busy,
            // A break is taken from a counter (the seat stays the operator's meanwhile).
            Presence::Available | Presence::Break if operator.seat.is_none() => {
                return Err(RoutingError::NotSeated.into());
            }
            _ if holding => {
                return Err(RoutingError::WrongPresence {
                    presence: "serving a case",
                    hint: "complete, park or transfer it first",
                }
                .into());
            }
            other => other,
        };
        let operator =
            presence::change(&mut uow, operator, target, PresenceChangeReason::Operator).await?;
        uow.commit().await.map_err(ServiceError::from)?;
        tracing::debug!(presence = target.to_db(), "presence set");
        if target == Presence::BackOffice
            && let Some(flow) = &self.back_office
        {
            flow.offer_round(
                operator.profile.municipality.as_str(),
                &operator.profile.department,
            )
            .await?;
        }
        Ok(Response::new(SetPresenceResponse {
            operator: Some(self.message(&operator).await?),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let id = parse_operator_id("operator_id", &request.get_ref().operator_id)?;
        ensure_acting_as(&context, &id)?;
        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let now = uow.now();
        // The timer row before the operator row: the order the timer worker takes them.
        let due = now.checked_add(self.heartbeat_timeout).unwrap_or(now);
        presence::schedule_check(&mut uow, &id, due).await?;
        let presence = store::heartbeat(&mut uow, &id, now).await?;
        uow.commit().await.map_err(ServiceError::from)?;
        // Ask for the next beat well within the timeout: a third of it.
        let next = u32::try_from(self.heartbeat_timeout.as_secs() / 3)
            .unwrap_or(30)
            .max(1);
        Ok(Response::new(HeartbeatResponse {
            presence: presence as i32,
            next_within_seconds: next,
        }))
    }
}
