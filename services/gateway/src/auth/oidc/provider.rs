//! The OpenID provider as this gateway sees it: its discovery document and keys (read
//! again every few minutes, so a key rotation is picked up) and a client for it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use openidconnect::{
    Client, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IdTokenVerifier, ProviderMetadataWithLogout, StandardErrorResponse, StandardTokenResponse,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
        CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
        CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
    },
};
use tokio::sync::Mutex;

use super::{claims::OtherClaims, config::OidcConfig};

/// The ID token's fields with every claim kept.
pub type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
/// The token endpoint's answer.
pub type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
/// The discovery document, with RP-initiated logout's `end_session_endpoint`.
pub type Metadata = ProviderMetadataWithLogout;
/// A client built from the discovery document.
pub type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long a discovery document and its keys are trusted before being read again.
const METADATA_TTL: Duration = Duration::from_secs(300);

/// The provider, its configuration and the HTTP client that reaches it.
pub struct Provider {
    /// What the deployer configured.
    pub config: Arc<OidcConfig>,
    http: reqwest::Client,
    cached: Mutex<Option<(Instant, Arc<Metadata>)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The provider could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the OpenID provider's discovery failed: {0}")]
pub struct Unreachable(pub String);

impl Provider {
    /// A provider client; nothing is fetched until the first sign-in.
    pub fn new(config: Arc<OidcConfig>) -> Result<Self, reqwest::Error> {
        // No redirects followed: the provider's endpoints answer directly, and following
        // them would let a redirect steer the gateway elsewhere (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            config,
            http,
            cached: Mutex::new(None),
        })
    }

    /// The HTTP client for the provider's endpoints.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The discovery document and keys, read at most every [`METADATA_TTL`]. Discovery
    /// checks the document's `issuer` equals the configured one.
    pub async fn metadata(&self) -> Result<Arc<Metadata>, Unreachable> {
        let mut cached = self.cached.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let metadata = Metadata::discover_async(self.config.issuer.clone(), &self.http)
            .await
            .map_err(|e| Unreachable(error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    /// A client for the provider as `metadata` describes it.
    pub fn client(&self, metadata: &Metadata) -> OidcClient {
        OidcClient::from_provider_metadata(
            metadata.clone(),
            self.config.client_id.clone(),
            self.config.client_secret.clone(),
        )
        .set_redirect_uri(self.config.redirect_url.clone())
    }

    /// The ID token verifier: signature by the provider's keys (never `none`, whatever
    /// the document lists), issuer, audience, expiry.
    pub fn verifier<'a>(
        &self,
        client: &'a OidcClient,
        metadata: &Metadata,
    ) -> IdTokenVerifier<'a, CoreJsonWebKey> {
        let algs: Vec<_> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|alg| **alg != CoreJwsSigningAlgorithm::None)
            .cloned()
            .collect();
        client.id_token_verifier().set_allowed_algs(algs)
    }
}

/// An error and its causes on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
