//! A local pagoPA for a test: the kit's simulator served in-process on a free port,
//! reading the test's clock, with a PSP's "pay this notice" at hand.

use tokio_util::sync::CancellationToken;

use crate::{
    Clock,
    payments::sim::{PayRequest, SimReceipt, Simulator},
};

/// A running simulator; stops when dropped.
#[derive(Debug)]
pub struct SimPagoPa {
    url: String,
    _stop: tokio_util::sync::DropGuard,
}

/// Why the simulator refused a payment: its HTTP status and ProblemJson detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The reason.
    pub detail: String,
}

impl SimPagoPa {
    /// Starts a simulator reading `clock` (payment times are the test's "now").
    pub async fn start(clock: Clock) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the simulator on a free port");
        let addr = listener.local_addr().expect("the simulator's address");
        let shutdown = CancellationToken::new();
        tokio::spawn(Simulator::new(clock, None).serve(listener, shutdown.clone()));
        Self {
            url: format!("http://{addr}"),
            _stop: shutdown.drop_guard(),
        }
    }

    /// The base URL: `PAGOPA_GPD_URL` for the service under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Pays `notice_number` with `amount_cents`, as a PSP would.
    pub async fn pay(&self, notice_number: &str, amount_cents: i64) -> Result<SimReceipt, Refusal> {
        let url: url::Url = format!("{}/sim/pay", self.url).parse().expect("URL");
        let body = serde_json::to_vec(&PayRequest {
            notice_number: notice_number.to_owned(),
            amount: amount_cents,
        })
        .expect("JSON");
        let client = crate::payments::http_client_for_tests();
        let (status, answer) = client
            .send(http::Method::POST, &url, &[], Some(body))
            .await
            .expect("the simulator answers");
        if status.is_success() {
            Ok(serde_json::from_slice(&answer).expect("a receipt"))
        } else {
            let problem: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
            Err(Refusal {
                status: status.as_u16(),
                detail: problem["detail"].as_str().unwrap_or_default().to_owned(),
            })
        }
    }
}
