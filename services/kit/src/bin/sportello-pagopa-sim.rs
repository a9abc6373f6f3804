//! `sportello-pagopa-sim`: a local pagoPA (GPD's debt positions and a PSP's payments) for
//! `make run` and the test stack. Never part of a deployment.
//!
//! `PAGOPA_SIM_LISTEN` (default `127.0.0.1:8099`) is where it listens; `PAGOPA_SIM_STATE`
//! a JSON file that keeps its positions across restarts; `PAGOPA_GPD_KEY`, if set, the
//! subscription key it requires. Pay a notice as a PSP would:
//!
//! ```text
//! curl -s -X POST http://127.0.0.1:8099/sim/pay -H 'content-type: application/json' \
//!   -d '{"noticeNumber":"302000000000000123","amount":4500}'
//! ```

use std::{net::SocketAddr, process::ExitCode};

use sportello_kit::{
    Clock,
    config::{Env, LogFormat},
    payments::sim::Simulator,
};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let program = "sportello-pagopa-sim";
    let env = Env::from_process();
    let _telemetry = sportello_kit::telemetry::init("pagopa-sim", LogFormat::Text, None);
    let listen: SocketAddr = match env.or(
        "PAGOPA_SIM_LISTEN",
        SocketAddr::from(([127, 0, 0, 1], 8099)),
    ) {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("{program}: {error}");
            return ExitCode::from(2);
        }
    };
    let mut simulator = Simulator::new(
        Clock::system(),
        env.raw("PAGOPA_GPD_KEY").map(str::to_owned),
    );
    if let Some(file) = env.raw("PAGOPA_SIM_STATE") {
        simulator = match simulator.with_state_file(file.into()) {
            Ok(simulator) => simulator,
            Err(error) => {
                eprintln!("{program}: PAGOPA_SIM_STATE: {error}");
                return ExitCode::from(2);
            }
        };
    }
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("{program}: cannot listen on {listen}: {error}");
            return ExitCode::from(1);
        }
    };
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
        });
    }
    tracing::info!(%listen, "local pagoPA simulator listening");
    match simulator.serve(listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::from(1)
        }
    }
}
