//! `sportello-education`: the education services (servizi educativi).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let spec = &sportello_education::SPEC;
    sportello_kit::main(
        spec,
        |env| spec.config_from_env(env),
        sportello_education::start,
    )
    .await
}
