//! `sportello-gateway`: Sportello's HTTP face.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sportello_kit::main(
        &sportello_gateway::SPEC,
        sportello_gateway::config::GatewayConfig::from_env,
        sportello_gateway::start,
    )
    .await
}
