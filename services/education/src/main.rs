//! `sportello-education`: the education services (servizi educativi).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sportello_kit::main(
        &sportello_education::SPEC,
        sportello_education::EducationConfig::from_env,
        sportello_education::start,
    )
    .await
}
