//! Protobuf requests to the public RPCs: the bytes decoded as a request message (as tonic
//! decodes a call's body), then passed through the service's own parse-at-the-edge
//! function — the one its handler calls before it reads or writes anything.
//!
//! One target per service; the input's first byte picks the request message (modulo the
//! number of messages), the rest is the encoded message. A request refused must be refused
//! as the caller's fault, never as the service's.

pub mod education;
pub mod mobility;
pub mod registry;
pub mod routing;
pub mod suap;
pub mod urp;

use prost::Message;
use sportello_kit::{ErrorKind, ServiceError};

/// Decodes `bytes` as `M` and, when they are one, runs `edge` on it.
fn parse<M: Message + Default>(bytes: &[u8], edge: impl FnOnce(&M) -> Result<(), ServiceError>) {
    let Ok(message) = M::decode(bytes) else {
        return;
    };
    if let Err(error) = edge(&message) {
        assert!(
            !matches!(
                error.kind(),
                ErrorKind::Internal | ErrorKind::Unavailable | ErrorKind::DeadlineExceeded
            ),
            "a request was refused as {:?}, the service's fault: {}",
            error.kind(),
            error.message()
        );
    }
}

/// Hands the input after its first byte to the parser that byte picks.
fn dispatch(data: &[u8], parsers: &[fn(&[u8])]) {
    if let Some((&which, bytes)) = data.split_first()
        && let Some(parser) = parsers.get(usize::from(which) % parsers.len())
    {
        parser(bytes);
    }
}
