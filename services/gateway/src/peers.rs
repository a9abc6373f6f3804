//! The gRPC channels to the services. Channels connect lazily and reconnect by
//! themselves, so the gateway starts and serves even while a service is down.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::config::Peer;

/// One channel per service.
#[derive(Debug, Clone)]
pub struct Peers {
    channels: Vec<(&'static str, String, Channel)>,
}

/// A malformed service URL.
#[derive(Debug, thiserror::Error)]
#[error("{name} service URL is invalid: {reason}")]
pub struct PeerError {
    name: &'static str,
    reason: String,
}

impl Peers {
    /// Channels to every peer, connecting on first use.
    pub fn connect(peers: &[Peer]) -> Result<Self, PeerError> {
        let channels = peers
            .iter()
            .map(|peer| {
                let endpoint = Endpoint::from_shared(peer.url.clone())
                    .map_err(|e| PeerError {
                        name: peer.name,
                        reason: e.to_string(),
                    })?
                    .connect_timeout(Duration::from_secs(2))
                    .tcp_nodelay(true);
                Ok((peer.name, peer.url.clone(), endpoint.connect_lazy()))
            })
            .collect::<Result<_, PeerError>>()?;
        Ok(Self { channels })
    }

    /// Every peer: name, URL and channel.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &str, Channel)> + '_ {
        self.channels
            .iter()
            .map(|(name, url, channel)| (*name, url.as_str(), channel.clone()))
    }

    /// The channel to `name`.
    pub fn channel(&self, name: &str) -> Option<Channel> {
        self.channels
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, _, c)| c.clone())
    }
}
