//! `sportello-urp`: the public-relations office (URP) service.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sportello_kit::main(
        &sportello_urp::SPEC,
        sportello_urp::UrpConfig::from_env,
        sportello_urp::start,
    )
    .await
}
