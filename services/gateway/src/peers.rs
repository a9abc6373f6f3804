//! The gRPC channels to the services: mutual TLS as the gateway, the signed person of
//! each call, a deadline per call. Channels connect lazily and reconnect by themselves,
//! so the gateway starts and serves even while a service is down.

use sportello_kit::{PeerChannel, ServiceConfig, TlsIdentity};

use crate::config::Peer;

/// One channel per service.
#[derive(Debug, Clone)]
pub struct Peers {
    channels: Vec<(&'static str, String, PeerChannel)>,
}

/// A malformed service URL.
#[derive(Debug, thiserror::Error)]
#[error("{name} service URL is invalid: {reason}")]
pub struct PeerError {
    name: &'static str,
    reason: String,
}

impl Peers {
    /// Channels to every peer as `identity`, connecting on first use.
    pub fn connect(
        peers: &[Peer],
        identity: &TlsIdentity,
        config: &ServiceConfig,
    ) -> Result<Self, PeerError> {
        let channels = peers
            .iter()
            .map(|peer| {
                let channel = PeerChannel::lazy(
                    identity,
                    peer.name,
                    &peer.url,
                    config.grpc_timeout_for(peer.name),
                )
                .map_err(|e| PeerError {
                    name: peer.name,
                    reason: e.to_string(),
                })?;
                Ok((peer.name, peer.url.clone(), channel))
            })
            .collect::<Result<_, PeerError>>()?;
        Ok(Self { channels })
    }

    /// Every peer: name, URL and channel.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &str, PeerChannel)> + '_ {
        self.channels
            .iter()
            .map(|(name, url, channel)| (*name, url.as_str(), channel.clone()))
    }

    /// The channel to `name`.
    pub fn channel(&self, name: &str) -> Option<PeerChannel> {
        self.channels
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, _, c)| c.clone())
    }
}
