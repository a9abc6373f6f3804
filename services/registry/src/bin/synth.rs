//! `sportello-registry-synth`: loads the synthetic La Spezia into the registry's database,
//! once. `make run` calls it for demo data; it does nothing when the municipality's
//! register already holds someone.
//!
//! Environment: `DATABASE_URL` and `PSEUDONYM_KEY` (required, as for the service),
//! `SYNTH_MUNICIPALITY` (default 011015), `SYNTH_RESIDENTS` (default 95000),
//! `SYNTH_SEED` (default 2014).

use std::{process::ExitCode, time::Duration};

use sportello_kit::{ConfigError, Env, MunicipalityCode, PseudonymKey, db};
use sportello_registry::synth::{self, LoadOutcome, Options};

struct Settings {
    database_url: String,
    key: PseudonymKey,
    options: Options,
}

fn settings(env: &Env) -> Result<Settings, ConfigError> {
    let database_url: String = env.required("DATABASE_URL", "the registry's PostgreSQL URL")?;
    let key: PseudonymKey = env.required(
        "PSEUDONYM_KEY",
        "the secret the services share, 64 or more hex digits",
    )?;
    let municipality: MunicipalityCode = env.or(
        "SYNTH_MUNICIPALITY",
        "011015"
            .parse()
            .map_err(|e| ConfigError::invalid("SYNTH_MUNICIPALITY", "011015", e))?,
    )?;
    let mut options = Options::for_municipality(municipality);
    options.residents = env.or("SYNTH_RESIDENTS", options.residents)?;
    options.seed = env.or("SYNTH_SEED", options.seed)?;
    Ok(Settings {
        database_url,
        key,
        options,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let settings = match settings(&Env::from_process()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("sportello-registry-synth: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let spec = &sportello_registry::SPEC;
    let run = async {
        let pool = db::connect(
            &settings.database_url,
            spec.name,
            2,
            Duration::from_secs(30),
            Duration::from_secs(600),
        )
        .await?;
        db::migrate(&pool, spec.name, spec.migrator).await?;
        let now = sportello_kit::Clock::system().now();
        synth::ensure_loaded(&pool, &settings.options, &settings.key, now)
            .await
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
    };
    let started = std::time::Instant::now();
    match run.await {
        Ok(LoadOutcome::Loaded { people, residents }) => {
            eprintln!(
                "sportello-registry-synth: loaded {people} people ({residents} resident) into {} in {:.1} s",
                settings.options.municipality,
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Ok(LoadOutcome::AlreadyPresent { people }) => {
            eprintln!(
                "sportello-registry-synth: {} already has {people} people in its register; nothing loaded",
                settings.options.municipality
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("sportello-registry-synth: {error}");
            ExitCode::from(1)
        }
    }
}
