//! A local pagoPA: the subset of GPD that [`GpdClient`](super::GpdClient) uses, plus what
//! a PSP does — `POST /sim/pay` with a notice number and an amount takes the payment and
//! records a receipt. It refuses what pagoPA refuses: an unknown notice (`404`), one paid
//! already (`409`), a wrong amount or a position not payable (`422`), a notice number
//! whose check digits are wrong (`400`, checked with the PA library); and on creation a
//! duplicate IUPD or IUV (`409`) or a malformed position (`400`).
//!
//! Debtor data sent with a position is checked and dropped: the simulator keeps only
//! what it needs to take a payment. State lives in memory, or in a JSON file
//! (`PAGOPA_SIM_STATE`) so that `make run` keeps its positions across restarts.
//!
//! Used in-process by the tests (`testing::pagopa`) and as the `sportello-pagopa-sim`
//! binary by `make run` and the test stack.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sportello_pa::pagopa::NoticeNumber;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::gpd::{
    KEY_HEADER, OptionResponse, PAGE_LIMIT, PageInfo, PositionBody, PositionResponse,
    PositionsPage, Problem, gpd_datetime, parse_gpd_datetime,
};
use crate::clock::Clock;

/// A position as the simulator keeps it: no debtor.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimPosition {
    organization: String,
    iupd: String,
    status: String,
    inserted: Timestamp,
    nav: String,
    iuv: String,
    amount: i64,
    due_date: String,
    paid: Option<SimPayment>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SimPayment {
    receipt_id: String,
    paid_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    /// By `<organization>/<iupd>`.
    positions: BTreeMap<String, SimPosition>,
    /// Notice number → position key.
    navs: BTreeMap<String, String>,
    receipts: u64,
}

/// What a PSP sends to pay a notice.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    /// The 18-digit notice number.
    pub notice_number: String,
    /// The amount paid, in euro cents.
    pub amount: i64,
}

/// The receipt of a payment the simulator took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimReceipt {
    /// The receipt's id.
    pub receipt_id: String,
    /// The creditor.
    pub organization_fiscal_code: String,
    /// The position.
    pub iupd: String,
    /// The IUV.
    pub iuv: String,
    /// The notice number.
    pub notice_number: String,
    /// In euro cents.
    pub amount: i64,
    /// When (GPD's local date-time, Europe/Rome).
    pub payment_date_time: String,
}

/// The simulator: its state, clock and optional subscription key.
#[derive(Clone)]
pub struct Simulator {
    ledger: Arc<Mutex<Ledger>>,
    clock: Clock,
    key: Option<String>,
    file: Option<PathBuf>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("file", &self.file)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// A refusal: its status and ProblemJson detail.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    detail: String,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = Problem {
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        (self.status, Json(body)).into_response()
    }
}

type Answer = Result<Response, Refused>;

fn problem(status: StatusCode, detail: impl Into<String>) -> Refused {
    Refused {
        status,
        detail: detail.into(),
    }
}

impl Simulator {
    /// An empty simulator reading `clock`; with `key`, GPD calls must carry it.
    pub fn new(clock: Clock, key: Option<String>) -> Self {
        Self {
            ledger: Arc::new(Mutex::new(Ledger::default())),
            clock,
            key,
            file: None,
        }
    }

    /// Keeps the state in `file` (read now if it exists, rewritten after each change).
    pub fn with_state_file(mut self, file: PathBuf) -> Result<Self, String> {
        if file.exists() {
            let raw = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let ledger: Ledger =
                serde_json::from_slice(&raw).map_err(|e| format!("{}: {e}", file.display()))?;
            self.ledger = Arc::new(Mutex::new(ledger));
        }
        self.file = Some(file);
        Ok(self)
    }

    /// The HTTP routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/organizations/{organization}/debtpositions",
                post(create).get(list),
            )
            .route(
                "/organizations/{organization}/debtpositions/{iupd}",
                get(position),
            )
            .route("/sim/pay", post(pay))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown`.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }

    fn check_key(&self, headers: &HeaderMap) -> Result<(), Refused> {
        match &self.key {
            Some(key) if headers.get(KEY_HEADER).and_then(|v| v.to_str().ok()) != Some(key) => {
                Err(problem(
                    StatusCode::UNAUTHORIZED,
                    "missing or wrong subscription key",
                ))
            }
            _ => Ok(()),
        }
    }

    fn with_ledger<T>(&self, change: impl FnOnce(&mut Ledger) -> T) -> Result<T, Refused> {
        let mut ledger = self
            .ledger
            .lock()
            .map_err(|_| problem(StatusCode::INTERNAL_SERVER_ERROR, "state poisoned"))?;
        Ok(change(&mut ledger))
    }

    fn save(&self) {
        let Some(file) = &self.file else { return };
        let Ok(ledger) = self.ledger.lock() else {
            return;
        };
        let written = serde_json::to_vec_pretty(&*ledger)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let tmp = file.with_extension("tmp");
                std::fs::write(&tmp, bytes)
                    .and_then(|()| std::fs::rename(&tmp, file))
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = written {
            tracing::warn!(%error, "the simulator's state could not be saved");
        }
    }
}

fn response_of(p: &SimPosition) -> PositionResponse {
    let paid_at = p.paid.as_ref().map(|paid| gpd_datetime(paid.paid_at));
    PositionResponse {
        iupd: p.iupd.clone(),
        organization_fiscal_code: Some(p.organization.clone()),
        status: Some(p.status.clone()),
        payment_date: paid_at.clone(),
        payment_option: vec![OptionResponse {
            nav: Some(p.nav.clone()),
            iuv: p.iuv.clone(),
            amount: p.amount,
            due_date: Some(p.due_date.clone()),
            payment_date: paid_at,
            id_receipt: p.paid.as_ref().map(|paid| paid.receipt_id.clone()),
            status: Some(
                if p.paid.is_some() {
                    "PO_PAID"
                } else {
                    "PO_UNPAID"
                }
                .to_owned(),
            ),
        }],
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// GPD's checks of a new position, as far as the simulator can make them.
fn check_position(organization: &str, body: &PositionBody) -> Result<(String, String), String> {
    if !digits(organization, 11) {
        return Err("organizationfiscalcode: 11 digits".to_owned());
    }
    if body.iupd.trim().is_empty() || body.iupd.len() > 50 {
        return Err("iupd: 1 to 50 characters".to_owned());
    }
    let code = body.fiscal_code.trim();
    match body.kind.as_str() {
        "F" if code.len() == 16 && code.bytes().all(|b| b.is_ascii_alphanumeric()) => {}
        "G" if digits(code, 11) => {}
        "F" | "G" => return Err("fiscalCode: does not match the debtor's type".to_owned()),
        _ => return Err("type: F or G".to_owned()),
    }
    if body.full_name.trim().is_empty() || body.company_name.trim().is_empty() {
        return Err("fullName and companyName are required".to_owned());
    }
    let [option] = body.payment_option.as_slice() else {
        return Err("paymentOption: the simulator takes exactly one".to_owned());
    };
    if option.amount < 1 {
        return Err("paymentOption.amount: at least 1".to_owned());
    }
    if !digits(&option.iuv, 17) {
        return Err("paymentOption.iuv: 17 digits".to_owned());
    }
    let nav = option
        .nav
        .clone()
        .unwrap_or_else(|| format!("3{}", option.iuv));
    let notice: NoticeNumber = nav.parse().map_err(|e| format!("paymentOption.nav: {e}"))?;
    if notice.iuv().as_str() != option.iuv {
        return Err("paymentOption.nav: does not hold the IUV".to_owned());
    }
    if option.description.trim().is_empty() || option.description.chars().count() > 140 {
        return Err("paymentOption.description: 1 to 140 characters".to_owned());
    }
    if parse_gpd_datetime(&option.due_date).is_none() {
        return Err("paymentOption.dueDate: yyyy-MM-ddTHH:mm:ss".to_owned());
    }
    let transferred: i64 = option.transfer.iter().map(|t| t.amount).sum();
    if option.transfer.is_empty() || transferred != option.amount {
        return Err("transfer: the transfers must add up to the amount".to_owned());
    }
    if option
        .transfer
        .iter()
        .any(|t| t.category.trim().is_empty() || t.iban.as_deref().is_none_or(str::is_empty))
    {
        return Err("transfer: category and iban are required".to_owned());
    }
    Ok((nav, option.due_date.clone()))
}

#[derive(Debug, Deserialize)]
struct CreateQuery {
    #[serde(rename = "toPublish", default)]
    to_publish: bool,
}

async fn create(
    State(sim): State<Simulator>,
    Path(organization): Path<String>,
    Query(query): Query<CreateQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    sim.check_key(&headers)?;
    let body: PositionBody = serde_json::from_slice(&body)
        .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("body: {e}")))?;
    let (nav, due_date) =
        check_position(&organization, &body).map_err(|e| problem(StatusCode::BAD_REQUEST, e))?;
    let now = sim.clock.now();
    let key = format!("{organization}/{}", body.iupd);
    let created = sim.with_ledger(|ledger| {
        if ledger.positions.contains_key(&key) {
            return Err(problem(
                StatusCode::CONFLICT,
                format!("IUPD {} exists", body.iupd),
            ));
        }
        if ledger.navs.contains_key(&nav) {
            return Err(problem(
                StatusCode::CONFLICT,
                "the IUV is taken by another position",
            ));
        }
        let option = &body.payment_option[0];
        let position = SimPosition {
            organization: organization.clone(),
            iupd: body.iupd.clone(),
            status: if query.to_publish { "VALID" } else { "DRAFT" }.to_owned(),
            inserted: now,
            nav: nav.clone(),
            iuv: option.iuv.clone(),
            amount: option.amount,
            due_date,
            paid: None,
        };
        let answer = response_of(&position);
        ledger.navs.insert(nav.clone(), key.clone());
        ledger.positions.insert(key.clone(), position);
        Ok(answer)
    })??;
    sim.save();
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

async fn position(
    State(sim): State<Simulator>,
    Path((organization, iupd)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    sim.check_key(&headers)?;
    let key = format!("{organization}/{iupd}");
    let found = sim.with_ledger(|ledger| ledger.positions.get(&key).map(response_of))?;
    match found {
        Some(p) => Ok(Json(p).into_response()),
        None => Err(problem(
            StatusCode::NOT_FOUND,
            format!("no debt position {iupd}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
    payment_date_time_from: Option<String>,
    payment_date_time_to: Option<String>,
    #[serde(default)]
    page: u32,
    limit: Option<u32>,
}

async fn list(
    State(sim): State<Simulator>,
    Path(organization): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Answer {
    sim.check_key(&headers)?;
    let limit = query.limit.unwrap_or(10);
    if limit == 0 || limit > PAGE_LIMIT {
        return Err(problem(StatusCode::BAD_REQUEST, "limit: 1 to 50"));
    }
    let bound = |raw: &Option<String>, name: &str| -> Result<Option<Timestamp>, Refused> {
        raw.as_deref()
            .map(|r| {
                parse_gpd_datetime(r).ok_or_else(|| {
                    problem(
                        StatusCode::BAD_REQUEST,
                        format!("{name}: yyyy-MM-ddTHH:mm:ss"),
                    )
                })
            })
            .transpose()
    };
    let from = bound(&query.payment_date_time_from, "payment_date_time_from")?;
    let to = bound(&query.payment_date_time_to, "payment_date_time_to")?;
    let mut found: Vec<SimPosition> = sim.with_ledger(|ledger| {
        ledger
            .positions
            .values()
            .filter(|p| p.organization == organization)
            .filter(|p| query.status.as_deref().is_none_or(|s| s == p.status))
            .filter(|p| {
                let paid_at = p.paid.as_ref().map(|paid| paid.paid_at);
                // GPD's times have whole seconds: compare at that precision.
                let second = paid_at.map(|t| t.as_second());
                from.is_none_or(|f| second.is_some_and(|s| s >= f.as_second()))
                    && to.is_none_or(|t| second.is_some_and(|s| s <= t.as_second()))
            })
            .cloned()
            .collect()
    })?;
    // GPD's default order: the newest first.
    found.sort_by(|a, b| b.inserted.cmp(&a.inserted).then(b.iupd.cmp(&a.iupd)));
    let total = found.len() as u64;
    let pages = u32::try_from(total.div_ceil(u64::from(limit))).unwrap_or(u32::MAX);
    let start = usize::try_from(u64::from(query.page) * u64::from(limit)).unwrap_or(usize::MAX);
    let page: Vec<PositionResponse> = found
        .iter()
        .skip(start)
        .take(limit as usize)
        .map(response_of)
        .collect();
    Ok(Json(PositionsPage {
        payment_position_list: page,
        page_info: PageInfo {
            page: query.page,
            limit,
            items_found: total,
            total_pages: pages,
        },
    })
    .into_response())
}

async fn pay(State(sim): State<Simulator>, body: Bytes) -> Answer {
    let request: PayRequest = serde_json::from_slice(&body)
        .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("body: {e}")))?;
    let notice: NoticeNumber = request
        .notice_number
        .parse()
        .map_err(|e| problem(StatusCode::BAD_REQUEST, format!("noticeNumber: {e}")))?;
    let now = sim.clock.now();
    let receipt = sim.with_ledger(|ledger| {
        let key = ledger
            .navs
            .get(notice.as_str())
            .cloned()
            .ok_or_else(|| problem(StatusCode::NOT_FOUND, "unknown notice number"))?;
        let next = ledger.receipts + 1;
        let position = ledger
            .positions
            .get_mut(&key)
            .ok_or_else(|| problem(StatusCode::NOT_FOUND, "unknown notice number"))?;
        if position.paid.is_some() {
            return Err(problem(StatusCode::CONFLICT, "the notice is paid already"));
        }
        if position.status != "VALID" {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the position is not payable ({})", position.status),
            ));
        }
        if request.amount != position.amount {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("wrong amount: the notice is for {} cents", position.amount),
            ));
        }
        let receipt_id = format!("sim-{next:012}");
        position.paid = Some(SimPayment {
            receipt_id: receipt_id.clone(),
            paid_at: now,
        });
        position.status = "PAID".to_owned();
        ledger.receipts = next;
        Ok(SimReceipt {
            receipt_id,
            organization_fiscal_code: position.organization.clone(),
            iupd: position.iupd.clone(),
            iuv: position.iuv.clone(),
            notice_number: position.nav.clone(),
            amount: position.amount,
            payment_date_time: gpd_datetime(now),
        })
    })??;
    sim.save();
    tracing::info!(receipt_id = %receipt.receipt_id, iupd = %receipt.iupd, "simulated payment taken");
    Ok(Json(receipt).into_response())
}
