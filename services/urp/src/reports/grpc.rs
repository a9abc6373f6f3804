//! `sportello.urp.v1.ReportService`: parses, asks the flows and the store, maps errors.

use jiff::Timestamp;
use sportello_kit::{CallContext, Role, ServiceError, domain};
use sportello_proto::common::v1::PageResponse;
use sportello_proto::urp::v1::{
    DefineCategoryRequest, DefineCategoryResponse, FileReportRequest, FileReportResponse,
    GetCategoryRequest, GetCategoryResponse, GetReportRequest, GetReportRequesterRequest,
    GetReportRequesterResponse, GetReportResponse, ListCategoriesRequest, ListCategoriesResponse,
    ListReportsRequest, ListReportsResponse, ReplyToReportRequest, ReplyToReportResponse,
    ReportStatus, Requester, report_service_server::ReportService,
};
use tonic::{Request, Response, Status};

use super::{
    Desk,
    domain::{Category, Kind, Lookup, Status as ReportState, category_code, parse_code, report_id},
    filing, message, reply, store,
};
use crate::error::UrpError;

/// The most reports one page lists.
const MAX_PAGE: u32 = 200;
/// The most codes one list asks for.
const MAX_CODES: usize = 100;

/// The reports' gRPC service.
#[derive(Debug, Clone)]
pub struct Reports {
    desk: Desk,
}

impl Reports {
    /// Serves reports from `desk`.
    pub fn new(desk: Desk) -> Self {
        Self { desk }
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, ServiceError> {
        self.desk
            .db
            .pool()
            .acquire()
            .await
            .map_err(ServiceError::from)
    }
}

fn timestamp(
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Result<Option<Timestamp>, ServiceError> {
    t.map(|t| {
        Timestamp::new(t.seconds, t.nanos)
            .map_err(|_| ServiceError::invalid_field(field, "istante non valido / invalid time"))
    })
    .transpose()
}

#[tonic::async_trait]
impl ReportService for Reports {
    #[tracing::instrument(skip_all)]
    async fn define_category(
        &self,
        request: Request<DefineCategoryRequest>,
    ) -> Result<Response<DefineCategoryResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        if context.asserts_person() {
            context.require_role(&[Role::Admin, Role::Manager])?;
        }
        let category = Category::try_from(&request.into_inner())?;
        context.ensure_municipality(category.municipality)?;
        let mut uow = self.desk.db.begin().await.map_err(ServiceError::from)?;
        let stored = store::define_category(&mut uow, &category)
            .await
            .map_err(ServiceError::from)?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(DefineCategoryResponse {
            category: Some(message::category(&stored)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_categories(
        &self,
        request: Request<ListCategoriesRequest>,
    ) -> Result<Response<ListCategoriesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let municipality = domain::parse_field(
            "municipality_istat_code",
            &request.get_ref().municipality_istat_code,
        )?;
        context.ensure_visible(municipality)?;
        let categories = store::active_categories(&mut *self.conn().await?, municipality)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(ListCategoriesResponse {
            categories: categories.iter().map(message::category).collect(),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn get_category(
        &self,
        request: Request<GetCategoryRequest>,
    ) -> Result<Response<GetCategoryResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_visible(municipality)?;
        let code = category_code("code", &request.code)?;
        let mut conn = self.conn().await?;
        match store::find_category(&mut conn, municipality, &code)
            .await
            .map_err(ServiceError::from)?
        {
            Some(category) if category.active => Ok(Response::new(GetCategoryResponse {
                category: Some(message::category(&category)),
            })),
            _ => {
                let known = store::active_categories(&mut conn, municipality)
                    .await
                    .map_err(ServiceError::from)?
                    .into_iter()
                    .map(|c| c.code)
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(ServiceError::from(UrpError::UnknownCategory { code, known }).into())
            }
        }
    }

    #[tracing::instrument(skip_all, fields(report_id = tracing::field::Empty))]
    async fn file_report(
        &self,
        request: Request<FileReportRequest>,
    ) -> Result<Response<FileReportResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let response = filing::file(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_report(
        &self,
        request: Request<GetReportRequest>,
    ) -> Result<Response<GetReportResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_visible(municipality)?;
        let lookup = Lookup::parse("code_or_id", &request.code_or_id)?;
        let mut conn = self.conn().await?;
        let not_found = || {
            ServiceError::from(UrpError::ReportNotFound(
                request.code_or_id.trim().to_owned(),
            ))
        };
        let report = store::find(&mut conn, municipality, &lookup)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(not_found)?;
        // Codes follow each other, so anyone could guess one: a complaint is read by its
        // code only by the municipality's operators; its filer follows it by its id (the
        // token given at filing). To anyone else it does not exist.
        if report.kind == Kind::Complaint
            && matches!(lookup, Lookup::Code(..))
            && !(context.asserts_person() && context.has_any_role(Role::OPERATORS))
        {
            return Err(not_found().into());
        }
        let refs = store::attachments(&mut conn, report.id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(GetReportResponse {
            report: Some(message::report(&report, &refs)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn list_reports(
        &self,
        request: Request<ListReportsRequest>,
    ) -> Result<Response<ListReportsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let municipality =
            domain::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        context.ensure_visible(municipality)?;
        if request.codes.len() > MAX_CODES {
            return Err(ServiceError::invalid_field(
                "codes",
                format!("al massimo {MAX_CODES} codici / at most {MAX_CODES} codes"),
            )
            .into());
        }
        let codes = request
            .codes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                parse_code(c.trim()).map(|_| c.trim().to_owned()).ok_or_else(|| {
                    ServiceError::invalid_field(
                        format!("codes[{i}]"),
                        "codice non valido, ad es. 2026-000123 / invalid code, e.g. 2026-000123",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let category = match request.category_code.trim() {
            "" => None,
            raw => Some(category_code("category_code", raw)?),
        };
        let statuses = request
            .statuses
            .iter()
            .map(|s| {
                ReportStatus::try_from(*s)
                    .ok()
                    .and_then(ReportState::from_message)
                    .map(|s| s.id().to_owned())
                    .ok_or_else(|| {
                        ServiceError::invalid_field("statuses", "stato non valido / invalid status")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let page = request.page.unwrap_or_default();
        let limit = match page.page_size {
            0 => 50,
            n if n <= MAX_PAGE => n,
            _ => {
                return Err(ServiceError::invalid_field(
                    "page.page_size",
                    format!("al massimo {MAX_PAGE} / at most {MAX_PAGE}"),
                )
                .into());
            }
        };
        let filter = store::Filter {
            codes,
            category,
            statuses,
            after: timestamp("received_after", request.received_after.as_ref())?,
            before: timestamp("received_before", request.received_before.as_ref())?,
            cursor: crate::paging::cursor(&page.page_token)?,
            limit: i64::from(limit) + 1,
        };
        let mut conn = self.conn().await?;
        let mut reports = store::list_public(&mut conn, municipality, &filter)
            .await
            .map_err(ServiceError::from)?;
        let more = reports.len() > limit as usize;
        reports.truncate(limit as usize);
        let next_page_token = match (more, reports.last()) {
            (true, Some(last)) => crate::paging::token(last.received_at, last.id),
            _ => String::new(),
        };
        let mut messages = Vec::with_capacity(reports.len());
        for report in &reports {
            let refs = store::attachments(&mut conn, report.id)
                .await
                .map_err(ServiceError::from)?;
            messages.push(message::report(report, &refs));
        }
        Ok(Response::new(ListReportsResponse {
            reports: messages,
            page: Some(PageResponse { next_page_token }),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn reply_to_report(
        &self,
        request: Request<ReplyToReportRequest>,
    ) -> Result<Response<ReplyToReportResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let response = reply::reply(&self.desk, &context, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_report_requester(
        &self,
        request: Request<GetReportRequesterRequest>,
    ) -> Result<Response<GetReportRequesterResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        // The office answering the report: URP's own staff, or a manager.
        if context.asserts_person()
            && !(context.has_any_role(&[Role::Manager])
                || (context.department() == Some("urp")
                    && context.has_any_role(&[Role::BackOffice, Role::InfoDesk])))
        {
            return Err(ServiceError::new(
                sportello_kit::ErrorKind::PermissionDenied,
                "solo l'URP legge chi ha scritto la segnalazione / only URP staff read who filed \
                 a report",
            )
            .into());
        }
        let id = report_id("report_id", &request.get_ref().report_id)?;
        let mut uow = self.desk.db.begin().await.map_err(ServiceError::from)?;
        let Some(report) = store::lock(&mut uow, id)
            .await
            .map_err(ServiceError::from)?
        else {
            return Err(ServiceError::from(UrpError::ReportNotFound(id.to_string())).into());
        };
        context.ensure_municipality(report.municipality)?;
        let private = store::read_private(
            &mut uow,
            id,
            context.actor(),
            context.caller(),
            context.purpose(),
        )
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::from(UrpError::ReportNotFound(id.to_string())))?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(GetReportRequesterResponse {
            requester: Some(Requester {
                fiscal_code: private.fiscal_code.unwrap_or_default(),
                first_name: private.first_name,
                last_name: private.last_name,
                email: private.email,
                phone: private.phone,
            }),
            description: private.description,
        }))
    }
}
