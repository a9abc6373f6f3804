//! `sportello-demo`: seeds the demo municipality (sites, counters, operators, accounts
//! with one known password) into a running stack, and prints how to sign in. `make run`
//! calls it once every service serves.
//!
//! Environment: `DATABASE_URL` (the gateway's PostgreSQL), `ROUTING_URL` (`https://…`),
//! `TLS_CERT`/`TLS_KEY`/`TLS_CA` (its certificate as `tool/demo`, which routing lets
//! administer the demo municipality), `SUAP_URL` (optional: the SUAP, whose canone
//! tariffs it seeds), `EDUCATION_URL` (optional: education, whose enrolment windows of
//! the next school year it opens), `URP_URL` (optional: URP, whose report categories it
//! defines), `DEMO_PASSWORD` (default `demo-sportello`), `DEMO_OPEN311_KEY` (the demo's
//! Open311 API key, default `o311_demo_la_spezia`), `PUBLIC_MUNICIPALITY` (default
//! 011015).

use std::{io::Write, process::ExitCode, time::Duration};

use sportello_gateway::{config::DEMO_MUNICIPALITY, demo};
use sportello_kit::{ConfigError, Env, MunicipalityCode, PeerChannel, TlsIdentity, db};

struct Settings {
    database_url: String,
    routing_url: String,
    suap_url: Option<String>,
    education_url: Option<String>,
    urp_url: Option<String>,
    open311_key: String,
    identity: TlsIdentity,
    password: String,
    municipality: MunicipalityCode,
}

fn settings(env: &Env) -> Result<Settings, ConfigError> {
    Ok(Settings {
        database_url: env.required("DATABASE_URL", "the gateway's PostgreSQL URL")?,
        routing_url: env.required("ROUTING_URL", "the routing service's gRPC URL")?,
        suap_url: env.optional("SUAP_URL")?,
        education_url: env.optional("EDUCATION_URL")?,
        urp_url: env.optional("URP_URL")?,
        open311_key: env.or("DEMO_OPEN311_KEY", demo::DEMO_OPEN311_KEY.to_owned())?,
        identity: TlsIdentity::from_env(env)?,
        password: env.or("DEMO_PASSWORD", "demo-sportello".to_owned())?,
        municipality: env.or("PUBLIC_MUNICIPALITY", DEMO_MUNICIPALITY)?,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match settings(&Env::from_process()) {
        Ok(s) => s,
        Err(error) => {
            eprintln!("sportello-demo: {error}");
            return ExitCode::from(2);
        }
    };
    match run(&settings).await {
        Ok(()) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "Demo accounts (password: {}):", settings.password);
            for account in &demo::ACCOUNTS {
                let _ = writeln!(
                    out,
                    "  {:<14} {:<22} {}",
                    account.id,
                    account.display_name,
                    account.roles.join(", ")
                );
            }
            let _ = writeln!(
                out,
                "Open311 API key (api_key) of the demo application: {}",
                settings.open311_key
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("sportello-demo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: &Settings) -> Result<(), Box<dyn std::error::Error>> {
    let spec = &sportello_gateway::SPEC;
    let pool = db::connect(
        &settings.database_url,
        spec.name,
        2,
        Duration::from_secs(30),
        Duration::from_secs(60),
    )
    .await?;
    db::migrate(&pool, spec.name, spec.migrator).await?;
    let db = sportello_kit::Db::for_tool(pool);
    let routing = PeerChannel::connect(
        &settings.identity,
        "routing",
        &settings.routing_url,
        Duration::from_secs(30),
    )
    .await?;
    demo::seed(&db, routing, settings.municipality, &settings.password).await?;
    demo::seed_open311_key(&db, settings.municipality, &settings.open311_key).await?;
    if let Some(url) = &settings.urp_url {
        let urp =
            PeerChannel::connect(&settings.identity, "urp", url, Duration::from_secs(30)).await?;
        demo::seed_knowledge(urp.clone(), settings.municipality).await?;
        match demo::seed_urp(urp, settings.municipality).await {
            Ok(()) => {}
            // The rest of the demo stands without the categories: say what is missing.
            Err(e) if e.kind() == sportello_kit::ErrorKind::PermissionDenied => eprintln!(
                "sportello-demo: URP refused the demo's report categories ({e}); its access \
                 policy must let tool/demo call ReportService/DefineCategory"
            ),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(url) = &settings.suap_url {
        let suap =
            PeerChannel::connect(&settings.identity, "suap", url, Duration::from_secs(30)).await?;
        let this_year = jiff::Zoned::now().year();
        demo::seed_suap(suap, settings.municipality, this_year).await?;
    }
    if let Some(url) = &settings.education_url {
        let education = PeerChannel::connect(
            &settings.identity,
            "education",
            url,
            Duration::from_secs(30),
        )
        .await?;
        let now = jiff::Timestamp::now();
        let today = now
            .in_tz("Europe/Rome")
            .map_or_else(|_| jiff::Zoned::now().date(), |z| z.date());
        demo::seed_education(education, settings.municipality, today).await?;
    }
    Ok(())
}
