//! `sportello-routing`: who serves whom, next.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use sportello_routing::{RoutingConfig, SPEC, start};
    sportello_kit::main(&SPEC, RoutingConfig::from_env, start).await
}
