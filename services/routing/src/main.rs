//! `sportello-routing`: who serves whom, next.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let spec = &sportello_routing::SPEC;
    sportello_kit::main(
        spec,
        |env| spec.config_from_env(env),
        sportello_routing::start,
    )
    .await
}
