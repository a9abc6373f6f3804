//! `sportello.routing.v1.BackOfficeService`: requests parsed here, the flow decides.

use sportello_kit::{CallContext, Db, Role, ServiceError, domain};
use sportello_proto::routing::v1::{
    AcceptOfferRequest, AcceptOfferResponse, CompleteWorkRequest, CompleteWorkResponse,
    DeclineOfferRequest, DeclineOfferResponse, EscalateCaseRequest, EscalateCaseResponse,
    GetWorkRequest, GetWorkResponse, ListBreachesRequest, ListBreachesResponse, ListWorkRequest,
    ListWorkResponse, ProcedureBreaches, SummariseWorkRequest, SummariseWorkResponse, WorkState,
    WorkTally, WorkView, back_office_service_server::BackOfficeService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{domain as work, flow::WorkFlow, store};
use crate::{cases::domain::parse_outcome, domain::Stored, operators::domain::parse_operator_id};

/// The back office's gRPC service.
#[derive(Debug, Clone)]
pub struct BackOffice {
    flow: WorkFlow,
}

impl BackOffice {
    /// Serves the back office.
    pub fn new(flow: WorkFlow) -> Self {
        Self { flow }
    }

    fn db(&self) -> &Db {
        &self.flow.db
    }
}

fn item_id(raw: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(raw).map_err(|_| ServiceError::invalid_field("item_id", "must be a UUID"))
}

fn context<T>(request: &Request<T>) -> Result<CallContext, Status> {
    Ok(CallContext::of(request)?.clone())
}

/// Reading the back office: its specialists and technicians, or managers.
fn ensure_reads_work(context: &CallContext, department: Option<&str>) -> Result<(), ServiceError> {
    context.require_role(&[Role::BackOffice, Role::Tecnico, Role::Manager, Role::Admin])?;
    match department {
        Some(department)
            if !context.has_any_role(&[Role::Manager, Role::Admin])
                && context.department() != Some(department) =>
        {
            Err(ServiceError::new(
                sportello_kit::ErrorKind::PermissionDenied,
                format!(
                    "il lavoro dell'ufficio {department} non è tuo (not your department's work)"
                ),
            ))
        }
        _ => Ok(()),
    }
}

#[tonic::async_trait]
impl BackOfficeService for BackOffice {
    #[tracing::instrument(skip_all)]
    async fn list_work(
        &self,
        request: Request<ListWorkRequest>,
    ) -> Result<Response<ListWorkResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let municipality: sportello_kit::MunicipalityCode =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        let view = WorkView::try_from(request.view)
            .ok()
            .filter(|v| *v != WorkView::Unspecified)
            .ok_or_else(|| ServiceError::invalid_field("view", "is required"))?;
        let operator = if matches!(view, WorkView::OfferedToMe | WorkView::Mine) {
            let id = parse_operator_id("operator_id", &request.operator_id)?;
            crate::operators::grpc::ensure_acting_as(&context, &id)?;
            Some(id)
        } else {
            None
        };
        let department = if view == WorkView::Department {
            if !crate::catalogue::domain::is_code(&request.department, 32) {
                return Err(
                    ServiceError::invalid_field("department", "must be a lowercase code").into(),
                );
            }
            Some(request.department.as_str())
        } else {
            None
        };
        ensure_reads_work(&context, department)?;
        let mut states = request
            .states
            .iter()
            .map(|s| WorkState::from_request(*s, "states"))
            .collect::<Result<Vec<_>, _>>()?;
        if states.is_empty() {
            states = match view {
                WorkView::OfferedToMe => vec![WorkState::Offered],
                WorkView::Mine => vec![WorkState::Held, WorkState::Suspended],
                _ => vec![
                    WorkState::Waiting,
                    WorkState::Offered,
                    WorkState::Held,
                    WorkState::Suspended,
                ],
            };
        }
        let procedure_kind =
            (!request.procedure_kind.is_empty()).then_some(request.procedure_kind.as_str());
        let filter = store::ListFilter {
            department,
            holder: (view == WorkView::Mine)
                .then_some(operator.as_deref())
                .flatten(),
            offered_to: (view == WorkView::OfferedToMe)
                .then_some(operator.as_deref())
                .flatten(),
            states,
            procedure_kind,
        };
        let page = request.page.unwrap_or_default();
        let size = i64::from(if page.page_size == 0 {
            50
        } else {
            page.page_size.min(500)
        });
        let after = if page.page_token.is_empty() {
            None
        } else {
            let id = Uuid::parse_str(&page.page_token).map_err(|_| {
                ServiceError::invalid_field("page.page_token", "is not a token of this list")
            })?;
            let item = store::get(self.db().pool(), id).await?;
            Some((item.due(), item.arrived_at, item.id))
        };
        let items = store::list(
            self.db().pool(),
            municipality.as_str(),
            &filter,
            after,
            size + 1,
        )
        .await?;
        let more = items.len() as i64 > size;
        let items: Vec<_> = items.into_iter().take(size as usize).collect();
        let next = if more {
            items.last().map(|i| i.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListWorkResponse {
            items: items.iter().map(|i| i.to_message()).collect(),
            page: Some(sportello_proto::common::v1::PageResponse {
                next_page_token: next,
            }),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_work(
        &self,
        request: Request<GetWorkRequest>,
    ) -> Result<Response<GetWorkResponse>, Status> {
        let context = context(&request)?;
        let id = item_id(&request.get_ref().item_id)?;
        let item = store::get(self.db().pool(), id).await?;
        context.ensure_visible(item.municipality)?;
        ensure_reads_work(&context, Some(&item.department))?;
        Ok(Response::new(GetWorkResponse {
            item: Some(item.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn accept_offer(
        &self,
        request: Request<AcceptOfferRequest>,
    ) -> Result<Response<AcceptOfferResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let id = item_id(&request.item_id)?;
        let operator = parse_operator_id("operator_id", &request.operator_id)?;
        let item = self.flow.accept(&context, id, &operator).await?;
        Ok(Response::new(AcceptOfferResponse {
            item: Some(item.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn decline_offer(
        &self,
        request: Request<DeclineOfferRequest>,
    ) -> Result<Response<DeclineOfferResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let id = item_id(&request.item_id)?;
        let operator = parse_operator_id("operator_id", &request.operator_id)?;
        let reason = work::note("reason", &request.reason)?;
        let item = self.flow.decline(&context, id, &operator, &reason).await?;
        Ok(Response::new(DeclineOfferResponse {
            item: Some(item.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn complete_work(
        &self,
        request: Request<CompleteWorkRequest>,
    ) -> Result<Response<CompleteWorkResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let id = item_id(&request.item_id)?;
        let operator = parse_operator_id("operator_id", &request.operator_id)?;
        let outcome = parse_outcome("outcome_code", &request.outcome_code)?;
        let result = work::result(&request.result)?;
        let item = self
            .flow
            .complete(&context, id, &operator, outcome, result)
            .await?;
        Ok(Response::new(CompleteWorkResponse {
            item: Some(item.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn escalate_case(
        &self,
        request: Request<EscalateCaseRequest>,
    ) -> Result<Response<EscalateCaseResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let case_id = Uuid::parse_str(&request.case_id)
            .map_err(|_| ServiceError::invalid_field("case_id", "must be a UUID"))?;
        let operator = parse_operator_id("operator_id", &request.operator_id)?;
        let note = work::note("context_note", &request.context_note)?;
        if note.is_empty() {
            return Err(ServiceError::invalid_field(
                "context_note",
                "say what was asked, which documents were seen and what was promised",
            )
            .into());
        }
        let (item, answer_by) = self
            .flow
            .escalate_case(&context, case_id, &operator, note)
            .await?;
        Ok(Response::new(EscalateCaseResponse {
            item: Some(item.to_message()),
            answer_by: answer_by.to_string(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_breaches(
        &self,
        request: Request<ListBreachesRequest>,
    ) -> Result<Response<ListBreachesResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let municipality: sportello_kit::MunicipalityCode =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        context.require_role(&[Role::Manager, Role::Admin])?;
        let year = i16::try_from(request.year)
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| ServiceError::invalid_field("year", "must be a year, 2000-2100"))?;
        let rows = store::breaches(self.db().pool(), municipality.as_str(), year).await?;
        Ok(Response::new(ListBreachesResponse {
            procedures: rows
                .into_iter()
                .map(|(service_code, breached, decided)| ProcedureBreaches {
                    service_code,
                    breached: u32::try_from(breached).unwrap_or(u32::MAX),
                    decided: u32::try_from(decided).unwrap_or(u32::MAX),
                })
                .collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn summarise_work(
        &self,
        request: Request<SummariseWorkRequest>,
    ) -> Result<Response<SummariseWorkResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let municipality: sportello_kit::MunicipalityCode =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_municipality(municipality)?;
        context.require_role(&[Role::Manager, Role::Admin])?;
        let department = match request.department.as_str() {
            "" => None,
            raw => Some(work::token("department", raw, 40)?),
        };
        let days = match request.due_soon_days {
            0 => 7,
            days @ 1..=60 => days,
            _ => {
                return Err(
                    ServiceError::invalid_field("due_soon_days", "must be 0-60 days").into(),
                );
            }
        };
        let today = self
            .db()
            .clock()
            .now()
            .to_zoned(sportello_kit::clock::rome())
            .date();
        let soon = today
            .checked_add(jiff::Span::new().days(i64::from(days)))
            .map_err(ServiceError::internal)?;
        let pool = self.db().pool();
        let tally = |by| {
            store::tally(
                pool,
                municipality.as_str(),
                department.as_deref(),
                today,
                soon,
                by,
            )
        };
        let total = tally(store::TallyBy::Total).await?;
        let by_procedure = tally(store::TallyBy::Procedure).await?;
        let by_assignee = tally(store::TallyBy::Assignee).await?;
        Ok(Response::new(SummariseWorkResponse {
            day: today.to_string(),
            due_soon_days: days,
            total: Some(total.into_iter().next().map(to_proto).unwrap_or_default()),
            by_procedure: by_procedure.into_iter().map(to_proto).collect(),
            by_assignee: by_assignee.into_iter().map(to_proto).collect(),
        }))
    }
}

fn to_proto(t: store::Tally) -> WorkTally {
    let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
    WorkTally {
        key: t.key,
        open: n(t.open),
        waiting: n(t.waiting),
        offered: n(t.offered),
        held: n(t.held),
        suspended: n(t.suspended),
        due_soon: n(t.due_soon),
        breached: n(t.breached),
    }
}
