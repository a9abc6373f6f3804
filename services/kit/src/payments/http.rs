//! The smallest HTTP/1.1 client that GPD needs: one connection per request (a debt
//! position is created once per payment request and receipts are polled every few
//! seconds, so a pool would buy nothing), TLS through tokio-rustls with the system's
//! roots, a deadline on the whole exchange and a cap on the response body.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};

/// The largest response read: a page of 50 positions is a few tens of kilobytes.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Why a request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Connecting, TLS, writing or reading failed.
    #[error("{0}")]
    Io(String),
    /// The whole exchange took longer than the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// A client for one base URL's host.
#[derive(Clone)]
pub(crate) struct HttpClient {
    tls: Option<tokio_rustls::TlsConnector>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpClient {
    /// A client for plain HTTP (the simulator).
    pub(crate) fn plain(timeout: Duration) -> Self {
        Self { tls: None, timeout }
    }

    /// A client; `https` loads the system's trusted roots (once, here).
    pub(crate) fn new(https: bool, timeout: Duration) -> Result<Self, String> {
        if !https {
            return Ok(Self::plain(timeout));
        }
        let tls = {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A root the system holds but rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err("no trusted root certificates found on this system".to_owned());
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        };
        Ok(Self { tls, timeout })
    }

    /// Sends one request to `url` and reads the whole answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &url::Url,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        tokio::time::timeout(self.timeout, self.exchange(method, url, headers, body))
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
    }

    async fn exchange(
        &self,
        method: Method,
        url: &url::Url,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), HttpError> {
        let host = url
            .host_str()
            .ok_or_else(|| HttpError::Io("the URL has no host".to_owned()))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .ok_or_else(|| HttpError::Io("the URL has no port".to_owned()))?;
        let path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, authority)
            .header(header::ACCEPT, "application/json")
            .header(header::CONNECTION, "close");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = match body {
            Some(bytes) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request
            .body(body)
            .map_err(|e| HttpError::Io(format!("request: {e}")))?;

        let tcp = TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| HttpError::Io(format!("connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| HttpError::Io(format!("server name: {e}")))?;
                let stream = tls
                    .connect(name, tcp)
                    .await
                    .map_err(|e| HttpError::Io(format!("TLS: {e}")))?;
                round_trip(stream, request).await
            }
            None => round_trip(tcp, request).await,
        }
    }
}

async fn round_trip<S>(
    stream: S,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Io(format!("handshake: {e}")))?;
    // The connection is driven beside the request; it ends when the answer is read
    // (`Connection: close`) or when the request is dropped on timeout.
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| HttpError::Io(format!("request: {e}")))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| HttpError::Io(format!("reading the answer: {e}")))?
        .to_bytes();
    driver.abort();
    Ok((status, body))
}
