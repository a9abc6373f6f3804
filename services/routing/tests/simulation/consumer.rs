//! A durable consumer of routing's events with the kit's inbox (`kit::inbox`): fetch,
//! record the event id and apply its effect in one transaction, then acknowledge. A crash
//! between the commit and the ack, a lost ack or a redelivery brings the event again; the
//! inbox recognises it.

use std::{net::SocketAddr, rc::Rc, time::Duration};

use rand::Rng;
use turmoil::net::UdpSocket;

use super::{
    model_stream::{self, PORT, Wire},
    world::World,
};

fn nats() -> SocketAddr {
    (turmoil::lookup("nats"), PORT).into()
}

/// The "consumer" host.
pub(crate) async fn consumer(world: Rc<World>) -> turmoil::Result {
    let life = world.started("consumer");
    let mut rng = world.rng("consumer", life, 0);
    let socket: Rc<UdpSocket> = model_stream::bind().await?;
    let mut buf = vec![0u8; 65_536];
    loop {
        let fetch = Wire::Fetch { max: 8 };
        let _ = socket.send_to(&fetch.encode(), nats()).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(5);
        while let Ok(Ok((n, _))) =
            tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await
        {
            let Some(Wire::Deliver { seq, id }) = Wire::decode(&buf[..n]) else {
                continue;
            };
            // The transaction's round trip: a crash here rolls it back.
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..=1))).await;
            if !world.db.borrow_mut().consume(id) {
                world.redeliveries.set(world.redeliveries.get() + 1);
            }
            // Committed, not yet acknowledged: a crash here brings a redelivery.
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..=1))).await;
            let _ = socket.send_to(&Wire::Ack { seq }.encode(), nats()).await;
        }
    }
}
