//! `sportello-mobility`: the mobility permits service.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let spec = &sportello_mobility::SPEC;
    sportello_kit::main(
        spec,
        |env| spec.config_from_env(env),
        sportello_mobility::start,
    )
    .await
}
