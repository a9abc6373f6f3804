//! `sportello-registry`: the registry (anagrafe) service.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let spec = &sportello_registry::SPEC;
    sportello_kit::main(
        spec,
        |env| spec.config_from_env(env),
        sportello_registry::start,
    )
    .await
}
