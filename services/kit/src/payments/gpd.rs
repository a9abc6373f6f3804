//! GPD's REST shape (pagoPA *Gestione Posizioni Debitorie*, the external API v1 of
//! `pagopa/pagopa-debt-position`): the JSON bodies, shared with the simulator, and
//! [`GpdClient`], the real [`Payments`] over HTTP.
//!
//! The subset used: `POST /organizations/{fc}/debtpositions?toPublish=true` (create and
//! publish; `409` when the IUPD or IUV exists), `GET /organizations/{fc}/debtpositions/{iupd}`
//! (one position and its status) and `GET /organizations/{fc}/debtpositions?
//! payment_date_time_from=…&payment_date_time_to=…&page=…&limit=50` (the positions paid in
//! the window, each option carrying `idReceipt` and `paymentDate`: the receipts; no
//! `status=PAID` filter, since a paid position turns `REPORTED` once the PSP's reporting
//! arrives and must still be seen). Every call carries
//! the `Ocp-Apim-Subscription-Key` header. GPD's date-times are local times without an
//! offset; they are read and written in Europe/Rome.

use futures::future::BoxFuture;
use http::{Method, StatusCode};
use jiff::{Timestamp, civil::DateTime};
use serde::{Deserialize, Serialize};
use sportello_pa::pagopa::NoticeNumber;

use super::{
    Payments, PaymentsError,
    config::PaymentsConfig,
    domain::{CreditorFiscalCode, DebtPosition, Notice, PositionStatus, Receipt, ReceiptPage},
    http::HttpClient,
};
use crate::clock::rome;

/// GPD's page size limit for listing positions.
pub const PAGE_LIMIT: u32 = 50;

/// The header GPD reads the subscription key from.
pub const KEY_HEADER: &str = "Ocp-Apim-Subscription-Key";

/// A debt position as it is created (`PaymentPositionModel`). It carries the debtor:
/// `Debug` leaves them out.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PositionBody {
    pub(crate) iupd: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) fiscal_code: String,
    pub(crate) full_name: String,
    #[serde(default)]
    pub(crate) switch_to_expired: bool,
    pub(crate) company_name: String,
    #[serde(default)]
    pub(crate) payment_option: Vec<OptionBody>,
}

impl std::fmt::Debug for PositionBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PositionBody")
            .field("iupd", &self.iupd)
            .field("type", &self.kind)
            .field("fiscal_code", &"<redacted>")
            .field("full_name", &"<redacted>")
            .field("payment_option", &self.payment_option)
            .finish_non_exhaustive()
    }
}

/// A payment option as it is created (`PaymentOptionModel`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OptionBody {
    pub(crate) iuv: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nav: Option<String>,
    pub(crate) amount: i64,
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) is_partial_payment: bool,
    pub(crate) due_date: String,
    #[serde(default)]
    pub(crate) transfer: Vec<TransferBody>,
}

/// Where the money goes (`TransferModel`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TransferBody {
    pub(crate) id_transfer: String,
    pub(crate) amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) organization_fiscal_code: Option<String>,
    pub(crate) remittance_information: String,
    pub(crate) category: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iban: Option<String>,
}

/// A position as GPD returns it (`PaymentPositionModelBaseResponse`; the create
/// answer has the same fields that matter). Debtor fields in answers are not read.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PositionResponse {
    pub(crate) iupd: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) organization_fiscal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) payment_date: Option<String>,
    #[serde(default)]
    pub(crate) payment_option: Vec<OptionResponse>,
}

/// A payment option as GPD returns it (`PaymentOptionModelResponse`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OptionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nav: Option<String>,
    pub(crate) iuv: String,
    pub(crate) amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) due_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) payment_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id_receipt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<String>,
}

/// A page of positions (`PaymentPositionsInfo`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PositionsPage {
    pub(crate) payment_position_list: Vec<PositionResponse>,
    pub(crate) page_info: PageInfo,
}

/// GPD's paging (`PageInfo`).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PageInfo {
    pub(crate) page: u32,
    pub(crate) limit: u32,
    pub(crate) items_found: u64,
    pub(crate) total_pages: u32,
}

/// GPD's error body (`ProblemJson`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Problem {
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) status: u16,
    #[serde(default)]
    pub(crate) detail: String,
}

/// A GPD local date-time (`2026-12-31T23:59:59`, Europe/Rome) for an instant.
pub(crate) fn gpd_datetime(at: Timestamp) -> String {
    at.to_zoned(rome())
        .datetime()
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Reads a GPD date-time: local (Europe/Rome) as GPD writes it, or with an offset.
pub(crate) fn parse_gpd_datetime(raw: &str) -> Option<Timestamp> {
    if let Ok(at) = raw.parse::<Timestamp>() {
        return Some(at);
    }
    let local: DateTime = raw.parse().ok()?;
    local.to_zoned(rome()).ok().map(|z| z.timestamp())
}

impl PositionBody {
    /// The body for `position`: one option, one transfer of the whole amount to the
    /// creditor's account.
    pub(crate) fn from_position(position: &DebtPosition) -> Self {
        let option = &position.option;
        let due = option
            .due_date
            .at(23, 59, 59, 0)
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string();
        Self {
            iupd: position.iupd.clone(),
            kind: position.debtor.kind().gpd_type().to_owned(),
            fiscal_code: position.debtor.fiscal_code().to_owned(),
            full_name: position.debtor.full_name().to_owned(),
            switch_to_expired: false,
            company_name: position.creditor.name.clone(),
            payment_option: vec![OptionBody {
                iuv: option.iuv().as_str().to_owned(),
                nav: Some(option.notice_number.as_str().to_owned()),
                amount: option.amount_cents,
                description: option.description.clone(),
                is_partial_payment: false,
                due_date: due,
                transfer: vec![TransferBody {
                    id_transfer: "1".to_owned(),
                    amount: option.amount_cents,
                    organization_fiscal_code: Some(
                        position.creditor.fiscal_code.as_str().to_owned(),
                    ),
                    remittance_information: option.description.clone(),
                    category: position.taxonomy.clone(),
                    iban: Some(position.creditor.iban.clone()),
                }],
            }],
        }
    }
}

impl PositionResponse {
    /// The notice of a position with exactly one option.
    pub(crate) fn notice(&self) -> Result<Notice, PaymentsError> {
        let [option] = self.payment_option.as_slice() else {
            return Err(PaymentsError::Malformed(format!(
                "position {} has {} payment options, expected 1",
                self.iupd,
                self.payment_option.len()
            )));
        };
        let nav = option
            .nav
            .clone()
            .unwrap_or_else(|| format!("3{}", option.iuv));
        let notice_number: NoticeNumber = nav
            .parse()
            .map_err(|e| PaymentsError::Malformed(format!("notice number {nav}: {e}")))?;
        let due_date = option
            .due_date
            .as_deref()
            .and_then(parse_gpd_datetime)
            .map(|at| at.to_zoned(rome()).date())
            .ok_or_else(|| PaymentsError::Malformed("due date missing or invalid".to_owned()))?;
        Ok(Notice {
            iupd: self.iupd.clone(),
            iuv: notice_number.iuv(),
            notice_number,
            amount_cents: option.amount,
            due_date,
        })
    }

    /// The receipts in a listed position: its paid options.
    pub(crate) fn receipts(&self, creditor: &CreditorFiscalCode) -> Vec<Receipt> {
        self.payment_option
            .iter()
            .filter(|o| {
                matches!(
                    o.status.as_deref(),
                    Some("PO_PAID" | "PO_PARTIALLY_REPORTED" | "PO_REPORTED")
                )
            })
            .filter_map(|o| {
                let paid_at = o
                    .payment_date
                    .as_deref()
                    .or(self.payment_date.as_deref())
                    .and_then(parse_gpd_datetime)?;
                Some(Receipt {
                    // A receipt without an id is still one payment of one IUV.
                    receipt_id: o.id_receipt.clone().unwrap_or_else(|| o.iuv.clone()),
                    creditor: creditor.clone(),
                    iupd: self.iupd.clone(),
                    iuv: o.iuv.clone(),
                    amount_cents: o.amount,
                    paid_at,
                })
            })
            .collect()
    }
}

/// The real GPD, over HTTP.
#[derive(Clone)]
pub struct GpdClient {
    base: String,
    key: Option<String>,
    http: HttpClient,
}

/// Debug shows where, never the key.
impl std::fmt::Debug for GpdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpdClient")
            .field("base", &self.base)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl GpdClient {
    /// A client for the GPD at `config.gpd_url`.
    pub fn new(config: &PaymentsConfig) -> Result<Self, PaymentsError> {
        let https = config.gpd_url.scheme() == "https";
        Ok(Self {
            base: config.gpd_url.as_str().trim_end_matches('/').to_owned(),
            key: config.gpd_key().map(str::to_owned),
            http: HttpClient::new(https, config.timeout).map_err(PaymentsError::Unavailable)?,
        })
    }

    fn url(&self, path: &str, query: &[(&str, String)]) -> Result<url::Url, PaymentsError> {
        let mut url = url::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| PaymentsError::Malformed(format!("URL: {e}")))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    async fn call(
        &self,
        method: Method,
        url: url::Url,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, bytes::Bytes), PaymentsError> {
        let mut headers = Vec::new();
        if let Some(key) = &self.key {
            headers.push((KEY_HEADER, key.as_str()));
        }
        let (status, body) = self
            .http
            .send(method, &url, &headers, body)
            .await
            .map_err(|e| PaymentsError::Unavailable(format!("GPD: {e}")))?;
        match status.as_u16() {
            200..=299 | 404 | 409 => Ok((status, body)),
            401 | 403 => Err(PaymentsError::Unavailable(format!(
                "GPD refused the subscription key ({status}): check PAGOPA_GPD_KEY"
            ))),
            400 | 422 => Err(PaymentsError::Refused(problem(&body))),
            _ => Err(PaymentsError::Unavailable(format!(
                "GPD answered {status}: {}",
                problem(&body)
            ))),
        }
    }

    async fn get_position(
        &self,
        creditor: &CreditorFiscalCode,
        iupd: &str,
    ) -> Result<Option<PositionResponse>, PaymentsError> {
        let url = self.url(
            &format!(
                "/organizations/{}/debtpositions/{}",
                creditor.as_str(),
                encode_segment(iupd)
            ),
            &[],
        )?;
        let (status, body) = self.call(Method::GET, url, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        json(&body).map(Some)
    }
}

/// The ProblemJson's title and detail, or a word when the body is not one. GPD's detail
/// may quote the request, debtor included: fiscal codes and the like are masked, since
/// the text ends up in errors and logs.
fn problem(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Problem>(body) {
        Ok(p) if !p.detail.is_empty() => format!("{} ({})", p.detail, p.title),
        Ok(p) if !p.title.is_empty() => p.title,
        _ => return "no details".to_owned(),
    };
    crate::privacy::mask(&text).0
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PaymentsError> {
    serde_json::from_slice(body).map_err(|e| PaymentsError::Malformed(format!("GPD's answer: {e}")))
}

/// IUPDs are letters, digits and dashes here; anything else is percent-encoded.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Payments for GpdClient {
    fn create<'a>(
        &'a self,
        position: &'a DebtPosition,
    ) -> BoxFuture<'a, Result<Notice, PaymentsError>> {
        Box::pin(async move {
            let creditor = &position.creditor.fiscal_code;
            let url = self.url(
                &format!("/organizations/{}/debtpositions", creditor.as_str()),
                &[("toPublish", "true".to_owned())],
            )?;
            let body = serde_json::to_vec(&PositionBody::from_position(position))
                .map_err(|e| PaymentsError::Malformed(e.to_string()))?;
            let (status, answer) = self.call(Method::POST, url, Some(body)).await?;
            let existing = if status == StatusCode::CONFLICT {
                // Created before (a retry after a lost answer): the existing position is
                // the answer, if it is this one.
                self.get_position(creditor, &position.iupd)
                    .await?
                    .ok_or_else(|| {
                        PaymentsError::Conflict(format!(
                            "GPD refused IUPD {} as a duplicate but does not know it: its IUV \
                         is taken by another position",
                            position.iupd
                        ))
                    })?
            } else if status.is_success() {
                json::<PositionResponse>(&answer)?
            } else {
                return Err(PaymentsError::Unavailable(format!("GPD answered {status}")));
            };
            let notice = existing.notice()?;
            same_notice(position, &notice)?;
            Ok(notice)
        })
    }

    fn status<'a>(
        &'a self,
        creditor: &'a CreditorFiscalCode,
        iupd: &'a str,
    ) -> BoxFuture<'a, Result<PositionStatus, PaymentsError>> {
        Box::pin(async move {
            let position = self
                .get_position(creditor, iupd)
                .await?
                .ok_or_else(|| PaymentsError::NotFound(iupd.to_owned()))?;
            let word = position.status.unwrap_or_default();
            PositionStatus::from_gpd(&word)
                .ok_or_else(|| PaymentsError::Malformed(format!("unknown status {word:?}")))
        })
    }

    fn receipts<'a>(
        &'a self,
        creditor: &'a CreditorFiscalCode,
        from: Timestamp,
        to: Timestamp,
        page: u32,
    ) -> BoxFuture<'a, Result<ReceiptPage, PaymentsError>> {
        Box::pin(async move {
            let url = self.url(
                &format!("/organizations/{}/debtpositions", creditor.as_str()),
                // No `status=PAID`: a paid position becomes REPORTED once the PSP's
                // reporting flow arrives, and a poller that was down a day must still
                // see it. The payment-time window already lists only paid positions.
                &[
                    ("payment_date_time_from", gpd_datetime(from)),
                    ("payment_date_time_to", gpd_datetime(to)),
                    ("page", page.to_string()),
                    ("limit", PAGE_LIMIT.to_string()),
                ],
            )?;
            let (status, body) = self.call(Method::GET, url, None).await?;
            if status == StatusCode::NOT_FOUND {
                // GPD answers 404 to an empty listing.
                return Ok(ReceiptPage::default());
            }
            let listed: PositionsPage = json(&body)?;
            Ok(ReceiptPage {
                receipts: listed
                    .payment_position_list
                    .iter()
                    .flat_map(|p| p.receipts(creditor))
                    .collect(),
                more: listed.page_info.page.saturating_add(1) < listed.page_info.total_pages,
            })
        })
    }
}

/// A position GPD already had must be the one asked for: same IUV and amount.
pub(crate) fn same_notice(position: &DebtPosition, notice: &Notice) -> Result<(), PaymentsError> {
    if notice.notice_number != position.option.notice_number
        || notice.amount_cents != position.option.amount_cents
    {
        return Err(PaymentsError::Conflict(format!(
            "IUPD {} exists at pagoPA with another notice or amount",
            position.iupd
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn gpd_times_are_rome_local_in_winter_and_summer() {
        let winter: Timestamp = "2026-12-31T22:59:59Z".parse().unwrap();
        assert_eq!(gpd_datetime(winter), "2026-12-31T23:59:59");
        let summer: Timestamp = "2026-07-01T08:00:00Z".parse().unwrap();
        assert_eq!(gpd_datetime(summer), "2026-07-01T10:00:00");
        for at in [winter, summer] {
            assert_eq!(parse_gpd_datetime(&gpd_datetime(at)), Some(at));
        }
        // An answer with an offset is read as such.
        assert_eq!(parse_gpd_datetime("2026-07-01T08:00:00Z"), Some(summer));
        assert_eq!(parse_gpd_datetime("31/12/2026"), None);
    }

    #[test]
    fn a_refusal_quoting_the_debtor_is_masked() {
        let text = problem(
            br#"{"title":"Bad Request","status":400,"detail":"fiscalCode RSSMRA80A01E463K is not valid"}"#,
        );
        assert!(!text.contains("RSSMRA80A01E463K"), "{text}");
        assert!(text.contains("Bad Request"), "{text}");
    }

    #[test]
    fn only_paid_options_are_receipts() {
        let listed: PositionResponse = serde_json::from_str(
            r#"{"iupd":"suap-1","status":"PAID","paymentOption":[
                {"iuv":"02000000000000184","amount":4500,"status":"PO_PAID",
                 "paymentDate":"2026-12-06T16:10:53","idReceipt":"r-1"},
                {"iuv":"02000000000000285","amount":100,"status":"PO_UNPAID"}]}"#,
        )
        .unwrap();
        let creditor: CreditorFiscalCode = "00211160114".parse().unwrap();
        let receipts = listed.receipts(&creditor);
        assert_eq!(receipts.len(), 1);
        assert_eq!(receipts[0].receipt_id, "r-1");
        assert_eq!(receipts[0].paid_at.to_string(), "2026-12-06T15:10:53Z");
    }
}
