//! `sportello-suap`: the one-stop shop for productive activities (SUAP).

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let spec = &sportello_suap::SPEC;
    sportello_kit::main(
        spec,
        sportello_suap::config::SuapConfig::from_env,
        sportello_suap::start,
    )
    .await
}
