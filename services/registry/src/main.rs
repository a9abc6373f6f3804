//! `sportello-registry`: the registry (anagrafe) service.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sportello_kit::main(
        &sportello_registry::SPEC,
        sportello_registry::RegistryConfig::from_env,
        sportello_registry::start,
    )
    .await
}
