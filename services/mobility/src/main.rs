//! `sportello-mobility`: the mobility permits service.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sportello_kit::main(
        &sportello_mobility::SPEC,
        sportello_mobility::MobilityConfig::from_env,
        sportello_mobility::start,
    )
    .await
}
