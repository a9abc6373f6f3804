//! `sportello-suap`: the one-stop shop for productive activities (SUAP).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sportello_kit::main(
        &sportello_suap::SPEC,
        sportello_suap::SuapConfig::from_env,
        sportello_suap::start,
    )
    .await
}
