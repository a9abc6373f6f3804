//! `sportello.routing.v1.CaseService`: parses each request, hands it to the [`Flow`].

use sportello_kit::{CallContext, ServiceError, domain};
use sportello_proto::routing::v1::{
    CallNextRequest, CallNextResponse, CallTicketRequest, CallTicketResponse, CancelCaseRequest,
    CancelCaseResponse, CaseStatus, CloseCaseRequest, CloseCaseResponse,
    CompleteAndCallNextRequest, CompleteAndCallNextResponse, CompleteRequest, CompleteResponse,
    GetCaseRequest, GetCaseResponse, GetTicketRequest, GetTicketResponse, IssueTicketRequest,
    IssueTicketResponse, ListCasesRequest, ListCasesResponse, ListQueuesRequest,
    ListQueuesResponse, ListRecentCallsRequest, ListRecentCallsResponse, MarkNoShowRequest,
    MarkNoShowResponse, OpenCaseRequest, OpenCaseResponse, ParkRequest, ParkResponse,
    RecallRequest, RecallResponse, ResumeRequest, ResumeResponse, TransferRequest,
    TransferResponse, case_service_server::CaseService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Flow,
    domain::{Case, parse_outcome},
};
use crate::{domain::Stored, operators::domain::parse_operator_id};

/// The outcome of a counter case that continues by appointment.
pub const APPOINTMENT_REQUESTED: &str = "appointment_requested";

/// The cases' gRPC service.
#[derive(Debug, Clone)]
pub struct Cases {
    flow: Flow,
}

impl Cases {
    /// Serves the case flow.
    pub fn new(flow: Flow) -> Self {
        Self { flow }
    }
}

/// A case id (public for the fuzz targets, as the next two).
pub fn case_id(raw: &str) -> Result<Uuid, ServiceError> {
    domain::parse_field("case_id", raw)
}

pub fn operator_id(raw: &str) -> Result<String, ServiceError> {
    parse_operator_id("operator_id", raw)
}

pub fn reason(raw: &str) -> Result<String, ServiceError> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        domain::required_text("reason", raw, 200)
    }
}

fn context<T>(request: &Request<T>) -> Result<CallContext, Status> {
    Ok(CallContext::of(request)?.clone())
}

#[tonic::async_trait]
impl CaseService for Cases {
    #[tracing::instrument(skip_all)]
    async fn open_case(
        &self,
        request: Request<OpenCaseRequest>,
    ) -> Result<Response<OpenCaseResponse>, Status> {
        let context = context(&request)?;
        Ok(Response::new(
            self.flow.open_case(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn issue_ticket(
        &self,
        request: Request<IssueTicketRequest>,
    ) -> Result<Response<IssueTicketResponse>, Status> {
        let context = context(&request)?;
        Ok(Response::new(
            self.flow
                .issue_ticket(&context, request.into_inner())
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_case(
        &self,
        request: Request<GetCaseRequest>,
    ) -> Result<Response<GetCaseResponse>, Status> {
        let context = context(&request)?;
        let id = case_id(&request.get_ref().case_id)?;
        Ok(Response::new(
            self.flow.case_with_history(&context, id).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_ticket(
        &self,
        request: Request<GetTicketRequest>,
    ) -> Result<Response<GetTicketResponse>, Status> {
        let context = context(&request)?;
        let id = domain::parse_field("ticket_id", &request.get_ref().ticket_id)?;
        Ok(Response::new(self.flow.ticket(&context, id).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_cases(
        &self,
        request: Request<ListCasesRequest>,
    ) -> Result<Response<ListCasesResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let site = domain::parse_field("site_id", &request.site_id)?;
        let statuses = request
            .statuses
            .iter()
            .map(|s| CaseStatus::from_request(*s, "statuses"))
            .collect::<Result<Vec<_>, _>>()?;
        let (cases, page) = self
            .flow
            .list_cases(&context, site, &statuses, request.page.as_ref())
            .await?;
        Ok(Response::new(ListCasesResponse {
            cases: cases.iter().map(Case::to_message).collect(),
            page: Some(page),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn call_next(
        &self,
        request: Request<CallNextRequest>,
    ) -> Result<Response<CallNextResponse>, Status> {
        let context = context(&request)?;
        let operator = operator_id(&request.get_ref().operator_id)?;
        Ok(Response::new(
            self.flow.call_next(&context, &operator).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn call_ticket(
        &self,
        request: Request<CallTicketRequest>,
    ) -> Result<Response<CallTicketResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let operator = operator_id(&request.operator_id)?;
        let call = self
            .flow
            .call_ticket(&context, &operator, &request.ticket)
            .await?;
        Ok(Response::new(CallTicketResponse { call: Some(call) }))
    }

    #[tracing::instrument(skip_all)]
    async fn recall(
        &self,
        request: Request<RecallRequest>,
    ) -> Result<Response<RecallResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let call = self
            .flow
            .recall(
                &context,
                &operator_id(&request.operator_id)?,
                case_id(&request.case_id)?,
            )
            .await?;
        Ok(Response::new(RecallResponse { call: Some(call) }))
    }

    #[tracing::instrument(skip_all)]
    async fn mark_no_show(
        &self,
        request: Request<MarkNoShowRequest>,
    ) -> Result<Response<MarkNoShowResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let case = self
            .flow
            .mark_no_show(
                &context,
                &operator_id(&request.operator_id)?,
                case_id(&request.case_id)?,
            )
            .await?;
        Ok(Response::new(MarkNoShowResponse {
            case: Some(case.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn park(&self, request: Request<ParkRequest>) -> Result<Response<ParkResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let why = reason(&request.reason)?;
        let case = self
            .flow
            .park(
                &context,
                &operator_id(&request.operator_id)?,
                case_id(&request.case_id)?,
                &why,
            )
            .await?;
        Ok(Response::new(ParkResponse {
            case: Some(case.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn resume(
        &self,
        request: Request<ResumeRequest>,
    ) -> Result<Response<ResumeResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let call = self
            .flow
            .resume(
                &context,
                &operator_id(&request.operator_id)?,
                case_id(&request.case_id)?,
            )
            .await?;
        Ok(Response::new(ResumeResponse { call: Some(call) }))
    }

    #[tracing::instrument(skip_all)]
    async fn transfer(
        &self,
        request: Request<TransferRequest>,
    ) -> Result<Response<TransferResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let why = reason(&request.reason)?;
        let case = self
            .flow
            .transfer(
                &context,
                &operator_id(&request.operator_id)?,
                case_id(&request.case_id)?,
                &request.to_service_group,
                &request.to_service_code,
                &why,
            )
            .await?;
        Ok(Response::new(TransferResponse {
            case: Some(case.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn complete(
        &self,
        request: Request<CompleteRequest>,
    ) -> Result<Response<CompleteResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let operator = operator_id(&request.operator_id)?;
        let id = case_id(&request.case_id)?;
        let (outcome, appointment) = match &request.appointment {
            None => (parse_outcome("outcome_code", &request.outcome_code)?, None),
            Some(handoff) => {
                if !matches!(request.outcome_code.as_str(), "" | APPOINTMENT_REQUESTED) {
                    return Err(ServiceError::invalid_field(
                        "outcome_code",
                        format!(
                            "con un appuntamento l'esito è {APPOINTMENT_REQUESTED} / with an \
                             appointment the outcome is {APPOINTMENT_REQUESTED}"
                        ),
                    )
                    .into());
                }
                let note =
                    crate::work::domain::note("appointment.context_note", &handoff.context_note)?;
                if note.is_empty() {
                    return Err(ServiceError::invalid_field(
                        "appointment.context_note",
                        "dire cosa è stato chiesto, quali documenti visti, cosa promesso / say \
                         what was asked, which documents were seen and what was promised",
                    )
                    .into());
                }
                (APPOINTMENT_REQUESTED.to_owned(), Some(note))
            }
        };
        let (case, next_call) = self
            .flow
            .complete(&context, &operator, id, &outcome, appointment.as_deref())
            .await?;
        Ok(Response::new(CompleteResponse {
            case: Some(case.to_message()),
            next_call,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn complete_and_call_next(
        &self,
        request: Request<CompleteAndCallNextRequest>,
    ) -> Result<Response<CompleteAndCallNextResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let operator = operator_id(&request.operator_id)?;
        let id = case_id(&request.case_id)?;
        let outcome = parse_outcome("outcome_code", &request.outcome_code)?;
        let (case, call, decision) = self
            .flow
            .complete_and_call_next(&context, &operator, id, &outcome)
            .await?;
        Ok(Response::new(CompleteAndCallNextResponse {
            case: Some(case.to_message()),
            call,
            decision: Some(decision),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn close_case(
        &self,
        request: Request<CloseCaseRequest>,
    ) -> Result<Response<CloseCaseResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let id = case_id(&request.case_id)?;
        let outcome = parse_outcome("outcome_code", &request.outcome_code)?;
        let why = reason(&request.reason)?;
        let case = self.flow.close(&context, id, &outcome, &why).await?;
        Ok(Response::new(CloseCaseResponse {
            case: Some(case.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_case(
        &self,
        request: Request<CancelCaseRequest>,
    ) -> Result<Response<CancelCaseResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let id = case_id(&request.case_id)?;
        let why = reason(&request.reason)?;
        let case = self.flow.cancel(&context, id, &why).await?;
        Ok(Response::new(CancelCaseResponse {
            case: Some(case.to_message()),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_queues(
        &self,
        request: Request<ListQueuesRequest>,
    ) -> Result<Response<ListQueuesResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let site = domain::parse_field("site_id", &request.site_id)?;
        if !request.operator_id.is_empty() {
            operator_id(&request.operator_id)?;
        }
        let queues = self
            .flow
            .queues(&context, site, &request.operator_id)
            .await?;
        Ok(Response::new(ListQueuesResponse { queues }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_recent_calls(
        &self,
        request: Request<ListRecentCallsRequest>,
    ) -> Result<Response<ListRecentCallsResponse>, Status> {
        let context = context(&request)?;
        let request = request.into_inner();
        let site = domain::parse_field("site_id", &request.site_id)?;
        let calls = self
            .flow
            .recent_calls(&context, site, request.limit)
            .await?;
        Ok(Response::new(ListRecentCallsResponse { calls }))
    }
}
