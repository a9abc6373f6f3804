//! `sportello-urp`: the public-relations office (URP) service.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let spec = &sportello_urp::SPEC;
    sportello_kit::main(spec, |env| spec.config_from_env(env), sportello_urp::start).await
}
