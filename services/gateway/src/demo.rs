//! The demo municipality `make run` seeds so a newcomer can click through at once:
//! La Spezia's two front-desk sites with their counters, operators of every tier, a
//! kiosk, a manager and an administrator, all with one known demo password. Seeding is
//! idempotent: run it again and it leaves the same state (demo accounts' passwords are
//! reset to the demo password).

use jiff::civil::{Date, date};
use sportello_kit::{CallContext, Db, ErrorKind, MunicipalityCode, ServiceError};
use sportello_proto::{
    common::v1::Address,
    education::v1::{
        Criteria, IncomeBand, OpenWindowRequest, SchoolLevel,
        enrolment_service_client::EnrolmentServiceClient,
    },
    routing::v1::{
        CreateSiteRequest, GetOperatorRequest, GetSurgeRosterRequest, ListSitesRequest, Operator,
        ScheduleBlock, SetOpeningHoursRequest, SetOperatorScheduleRequest, SetSurgeRosterRequest,
        SiteSettings, Skill, SurgeRoster, UpsertOperatorRequest, WeeklyHours,
        appointment_service_client::AppointmentServiceClient,
        operator_service_client::OperatorServiceClient, site_service_client::SiteServiceClient,
        surge_service_client::SurgeServiceClient,
    },
    suap::v1::{
        ListTariffsRequest, OccupationKind, SetTariffsRequest, TariffRate,
        occupation_service_client::OccupationServiceClient,
    },
};

use crate::auth::accounts::{self, AccountInput};

/// A demo site.
struct DemoSite {
    code: &'static str,
    name: &'static str,
    street: &'static str,
    house_number: &'static str,
    counters: u32,
    key: &'static str,
}

const SITES: [DemoSite; 2] = [
    DemoSite {
        code: "palazzo-civico",
        name: "Palazzo Civico",
        street: "Piazza Europa",
        house_number: "1",
        counters: 6,
        key: "0195f3a0-0000-7000-8000-000000000001",
    },
    DemoSite {
        code: "via-costantini",
        name: "Sportello di Via Costantini",
        street: "Via Costantini",
        house_number: "4",
        counters: 4,
        key: "0195f3a0-0000-7000-8000-000000000002",
    },
];

/// A demo account, and its operator profile when it serves citizens.
#[derive(Debug)]
pub struct DemoAccount {
    /// Account id.
    pub id: &'static str,
    /// Shown name.
    pub display_name: &'static str,
    /// Roles.
    pub roles: &'static [&'static str],
    /// Department.
    pub department: Option<&'static str>,
    /// Routing tier (0: not an operator).
    pub tier: i32,
    /// Skills with proficiency.
    pub skills: &'static [(&'static str, u32)],
}

/// Every demo account.
pub const ACCOUNTS: [DemoAccount; 10] = [
    DemoAccount {
        id: "info.rossi",
        display_name: "Giulia Rossi",
        roles: &["info_desk"],
        department: Some("urp"),
        tier: 1,
        skills: &[
            ("anagrafe", 2),
            ("urp", 3),
            ("servizi_educativi", 1),
            ("sociale", 1),
        ],
    },
    DemoAccount {
        id: "poli.bianchi",
        display_name: "Marco Bianchi",
        roles: &["polivalente"],
        department: None,
        tier: 2,
        skills: &[
            ("anagrafe", 3),
            ("servizi_educativi", 3),
            ("mobilita", 3),
            ("suap", 2),
            ("sociale", 2),
        ],
    },
    DemoAccount {
        id: "poli.verdi",
        display_name: "Sara Verdi",
        roles: &["polivalente"],
        department: None,
        tier: 2,
        skills: &[("urp", 3), ("mobilita", 2), ("sociale", 2)],
    },
    DemoAccount {
        id: "tec.neri",
        display_name: "Paolo Neri",
        roles: &["tecnico"],
        department: Some("suap"),
        tier: 3,
        skills: &[("suap", 5), ("commercio", 4)],
    },
    DemoAccount {
        id: "bo.gialli",
        display_name: "Anna Gialli",
        roles: &["back_office"],
        department: Some("anagrafe"),
        tier: 4,
        skills: &[("anagrafe", 5)],
    },
    DemoAccount {
        id: "bo.viola",
        display_name: "Chiara Viola",
        roles: &["back_office"],
        department: Some("suap"),
        tier: 4,
        skills: &[("suap", 5), ("commercio", 4)],
    },
    DemoAccount {
        id: "bo.azzurri",
        display_name: "Elena Azzurri",
        roles: &["back_office"],
        department: Some("urp"),
        tier: 4,
        skills: &[("urp", 5)],
    },
    DemoAccount {
        id: "resp.blu",
        display_name: "Luca Blu",
        roles: &["manager"],
        department: None,
        tier: 0,
        skills: &[],
    },
    DemoAccount {
        id: "admin",
        display_name: "Amministratore",
        roles: &["admin"],
        department: None,
        tier: 0,
        skills: &[],
    },
    DemoAccount {
        id: "totem.civico",
        display_name: "Totem Palazzo Civico",
        roles: &["kiosk"],
        department: None,
        tier: 0,
        skills: &[],
    },
];

/// Makes sure `db` is the demo's to seed, and marks it so: a database seeded before, or
/// one whose accounts are all the demo's (none, on a fresh one). Any other account means a
/// municipality's real data, where the demo's known password and published Open311 key
/// must never land: FAILED_PRECONDITION, and nothing is written.
pub async fn claim_for_demo(db: &Db) -> Result<(), ServiceError> {
    let demo_ids: Vec<&str> = ACCOUNTS.iter().map(|a| a.id).collect();
    let (seeded, others): (bool, i64) = sqlx::query_as(
        "select exists (select 1 from demo_installation),
                (select count(*) from accounts where id <> all($1))",
    )
    .bind(&demo_ids)
    .fetch_one(db.pool())
    .await
    .map_err(|e| ServiceError::internal(e.to_string()))?;
    if !seeded && others > 0 {
        return Err(ServiceError::new(
            ErrorKind::FailedPrecondition,
            format!(
                "il database contiene {others} account che non sono della demo: i dati demo \
                 (password nota, chiave Open311 pubblica) vanno solo in un database vuoto o già \
                 demo / the database holds {others} accounts that are not the demo's: the demo \
                 data (a known password, a published Open311 key) go only into an empty or demo \
                 database"
            ),
        ));
    }
    sqlx::query(
        "insert into demo_installation (seeded_at) values ($1) on conflict (only_row) do nothing",
    )
    .bind(sportello_kit::uow::SqlTimestamp::from(db.clock().now()))
    .execute(db.pool())
    .await
    .map_err(|e| ServiceError::internal(e.to_string()))?;
    Ok(())
}

/// Seeds the demo municipality through routing (sites, operators) and the gateway's
/// own database (accounts), once [`claim_for_demo`] found the database the demo's.
pub async fn seed(
    db: &Db,
    routing: sportello_kit::PeerChannel,
    municipality: MunicipalityCode,
    password: &str,
) -> Result<(), ServiceError> {
    claim_for_demo(db).await?;
    // The seeder administers the demo municipality: it asserts an administrator.
    let context = CallContext::new(
        "tool/demo",
        "system:demo-seed",
        municipality.as_str(),
        "demo.seed",
    )
    .map_err(|e| ServiceError::internal(e.to_string()))?
    .with_roles(&[sportello_kit::Role::Admin]);
    let mut sites = SiteServiceClient::new(routing.clone());
    for site in &SITES {
        let reply = sites
            .create_site(context.request(CreateSiteRequest {
                municipality_istat_code: municipality.to_string(),
                code: site.code.to_owned(),
                name: site.name.to_owned(),
                address: Some(Address {
                    street_name: site.street.to_owned(),
                    house_number: site.house_number.to_owned(),
                    postal_code: "19124".to_owned(),
                    municipality_istat_code: municipality.to_string(),
                    locality: "La Spezia".to_owned(),
                    ..Address::default()
                }),
                counter_count: site.counters,
                idempotency_key: site.key.to_owned(),
                settings: Some(SiteSettings {
                    priority_bound_minutes: 20,
                    no_show_after_calls: 2,
                    service_groups: Vec::new(),
                }),
            }))
            .await;
        match reply {
            Ok(_) => {}
            // Created by an earlier seeding under another key, or by hand: keep it.
            Err(status) if status.code() == tonic::Code::AlreadyExists => {}
            Err(status) => return Err(status.into()),
        }
    }
    let mut operators = OperatorServiceClient::new(routing.clone());
    for account in &ACCOUNTS {
        if account.tier > 0 {
            // Updating a profile names the version it read (routing's optimistic check).
            let existing = match operators
                .get_operator(context.request(GetOperatorRequest {
                    operator_id: account.id.to_owned(),
                }))
                .await
            {
                Ok(reply) => reply.into_inner().operator,
                Err(status) if status.code() == tonic::Code::NotFound => None,
                Err(status) => return Err(status.into()),
            };
            let version = existing.as_ref().map_or(0, |o| o.version);
            let mut skills: Vec<Skill> = account
                .skills
                .iter()
                .map(|(skill, proficiency)| Skill {
                    skill: (*skill).to_owned(),
                    proficiency: *proficiency,
                })
                .collect();
            // A skill the demo does not give — one an enrolment surge added while its
            // window runs — stays: routing restores it when the window closes.
            for skill in existing.map(|o| o.skills).unwrap_or_default() {
                if !skills.iter().any(|s| s.skill == skill.skill) {
                    skills.push(skill);
                }
            }
            operators
                .upsert_operator(context.request(UpsertOperatorRequest {
                    operator: Some(Operator {
                        id: account.id.to_owned(),
                        municipality_istat_code: municipality.to_string(),
                        display_name: account.display_name.to_owned(),
                        tier: account.tier,
                        department: account.department.unwrap_or("urp").to_owned(),
                        skills,
                        version,
                        ..Operator::default()
                    }),
                }))
                .await?;
        }
        accounts::upsert_seeded(
            db,
            municipality,
            AccountInput {
                id: account.id.to_owned(),
                display_name: account.display_name.to_owned(),
                password: password.to_owned(),
                roles: account.roles.iter().map(|r| (*r).to_owned()).collect(),
                department: account.department.map(str::to_owned),
                active: true,
            },
        )
        .await
        .map_err(|e| {
            if e.kind() == ErrorKind::InvalidArgument {
                ServiceError::invalid_field("DEMO_PASSWORD", e.message().to_owned())
            } else {
                e
            }
        })?;
    }
    seed_surge_roster(&context, routing.clone(), municipality).await?;
    seed_appointments(&context, routing, municipality, &mut sites).await
}

/// The polivalente who reinforces the education services while an enrolment window is
/// open (routing's surge roster), so the manager page shows the demo's windows' surges.
async fn seed_surge_roster(
    context: &CallContext,
    routing: sportello_kit::PeerChannel,
    municipality: MunicipalityCode,
) -> Result<(), ServiceError> {
    let mut surges = SurgeServiceClient::new(routing);
    let roster = surges
        .get_surge_roster(context.request(GetSurgeRosterRequest {
            municipality_istat_code: municipality.to_string(),
            skill: SURGE_SKILL.to_owned(),
        }))
        .await?
        .into_inner()
        .roster
        .unwrap_or_default();
    if roster.version > 0 {
        // Set before, or by the manager since: theirs.
        return Ok(());
    }
    surges
        .set_surge_roster(context.request(SetSurgeRosterRequest {
            roster: Some(SurgeRoster {
                municipality_istat_code: municipality.to_string(),
                skill: SURGE_SKILL.to_owned(),
                proficiency: 2,
                operator_ids: vec!["poli.verdi".to_owned()],
                version: 0,
            }),
        }))
        .await?;
    Ok(())
}

/// The skill the catalogue's education services require.
const SURGE_SKILL: &str = "servizi_educativi";

/// The technician receiving by appointment: Palazzo Civico takes appointments Monday to
/// Friday 08:30-13:00 (and Thursday afternoon), and Paolo Neri receives there at counter
/// 6 in the mornings. Setting them again replaces them with the same.
async fn seed_appointments(
    context: &CallContext,
    routing: sportello_kit::PeerChannel,
    municipality: MunicipalityCode,
    sites: &mut SiteServiceClient<sportello_kit::PeerChannel>,
) -> Result<(), ServiceError> {
    let Some(civico) = sites
        .list_sites(context.request(ListSitesRequest {
            municipality_istat_code: municipality.to_string(),
        }))
        .await?
        .into_inner()
        .sites
        .into_iter()
        .find(|s| s.code == "palazzo-civico")
    else {
        return Ok(());
    };
    let mut appointments = AppointmentServiceClient::new(routing);
    let mut hours: Vec<WeeklyHours> = (1..=5)
        .map(|weekday| WeeklyHours {
            weekday,
            opens: "08:30".into(),
            closes: "13:00".into(),
        })
        .collect();
    hours.push(WeeklyHours {
        weekday: 4,
        opens: "14:30".into(),
        closes: "17:00".into(),
    });
    appointments
        .set_opening_hours(context.request(SetOpeningHoursRequest {
            site_id: civico.id.clone(),
            service_group: String::new(),
            hours,
        }))
        .await?;
    appointments
        .set_operator_schedule(
            context.request(SetOperatorScheduleRequest {
                operator_id: "tec.neri".into(),
                blocks: (1..=5)
                    .map(|weekday| ScheduleBlock {
                        weekday,
                        starts: "09:00".into(),
                        ends: "12:30".into(),
                        site_id: civico.id.clone(),
                        counter_number: 6,
                    })
                    .collect(),
            }),
        )
        .await?;
    Ok(())
}

/// The demo municipality's resident population for the canone's standard tariff
/// (L. 160/2019 c. 826: the population at 31 December of the year before last; La Spezia,
/// ISTAT).
const POPULATION: i64 = 92_659;

/// Demo coefficients of the canone unico per zone category — a municipality sets its own
/// by deliberation (L. 160/2019 c. 817, 821); these are samples, not La Spezia's.
const ZONE_COEFFICIENTS_MILLI: [(i32, i32); 3] = [(1, 1_500), (2, 1_000), (3, 800)];

/// Seeds the SUAP's canone tariffs for this year and the next, so that a dehors filed in
/// the demo can be granted and billed. A year that has tariffs keeps them (seeded before,
/// or set by hand).
pub async fn seed_suap(
    suap: sportello_kit::PeerChannel,
    municipality: MunicipalityCode,
    this_year: i16,
) -> Result<(), ServiceError> {
    let context = CallContext::new(
        "tool/demo",
        "system:demo-seed",
        municipality.as_str(),
        "demo.seed",
    )
    .map_err(|e| ServiceError::internal(e.to_string()))?
    .with_roles(&[sportello_kit::Role::Admin]);
    let mut rates = Vec::new();
    for (zone, coefficient) in ZONE_COEFFICIENTS_MILLI {
        for kind in [
            OccupationKind::Dehors,
            OccupationKind::Scaffolding,
            OccupationKind::Event,
            OccupationKind::MarketStall,
        ] {
            for permanent in [false, true] {
                rates.push(TariffRate {
                    zone_category: zone,
                    kind: kind as i32,
                    permanent,
                    coefficient_milli: coefficient,
                    reduction_percent: 0,
                });
            }
        }
    }
    let mut occupations = OccupationServiceClient::new(suap);
    let set: Vec<i32> = occupations
        .list_tariffs(context.request(ListTariffsRequest {
            municipality_istat_code: municipality.to_string(),
            year: 0,
        }))
        .await?
        .into_inner()
        .tables
        .iter()
        .map(|t| t.year)
        .collect();
    for year in [this_year, this_year + 1] {
        if set.contains(&i32::from(year)) {
            continue;
        }
        let reply = occupations
            .set_tariffs(context.request(SetTariffsRequest {
                municipality_istat_code: municipality.to_string(),
                year: i32::from(year),
                population: POPULATION,
                rates: rates.clone(),
                idempotency_key: format!("0195f3a0-0000-7000-8000-0000000{year:05}"),
            }))
            .await;
        match reply {
            Ok(_) => {}
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::AlreadyExists | tonic::Code::FailedPrecondition
                ) => {}
            Err(status) => return Err(status.into()),
        }
    }
    Ok(())
}

/// The demo's enrolment criteria: 10 points for residence, 0/4/8 by working parents, 3
/// per sibling attending (up to 2), 12 for an L. 104/1992 certification, and 6/4/2/0 by
/// the household's ISEE up to €8,000, €15,000, €25,000 and above — samples, not La
/// Spezia's published criteria.
fn enrolment_criteria() -> Criteria {
    Criteria {
        version: 1,
        resident_points: 10,
        working_parents_points: vec![0, 4, 8],
        sibling_points: 3,
        max_siblings: 2,
        disability_points: 12,
        income_bands: vec![
            IncomeBand {
                up_to_cents: Some(800_000),
                points: 6,
            },
            IncomeBand {
                up_to_cents: Some(1_500_000),
                points: 4,
            },
            IncomeBand {
                up_to_cents: Some(2_500_000),
                points: 2,
            },
            IncomeBand {
                up_to_cents: None,
                points: 0,
            },
        ],
    }
}

/// The school year a demo window open on `today` is for, and its dates: applications
/// from 1 August of the year before to 31 July, the service starting on 1 September —
/// so whatever day `make run` seeds on, the window of the next school year is open
/// (a real window is a few weeks in January; the demo wants one to try).
pub fn enrolment_year(today: Date) -> (i16, Date, Date, Date) {
    let year = if today.month() >= 8 {
        today.year() + 1
    } else {
        today.year()
    };
    (
        year,
        date(year - 1, 8, 1),
        date(year, 7, 31),
        date(year, 9, 1),
    )
}

/// Opens the nursery's and the pre-school's enrolment windows of the school year open
/// on `today` ([`enrolment_year`]), so a counter can take an application at once. A
/// window already opened (seeded before, or by hand) is kept.
pub async fn seed_education(
    education: sportello_kit::PeerChannel,
    municipality: MunicipalityCode,
    today: Date,
) -> Result<(), ServiceError> {
    let context = CallContext::new(
        "tool/demo",
        "system:demo-seed",
        municipality.as_str(),
        "demo.seed",
    )
    .map_err(|e| ServiceError::internal(e.to_string()))?
    .with_roles(&[sportello_kit::Role::Admin]);
    let (year, opens_on, closes_on, starts_on) = enrolment_year(today);
    let mut enrolment = EnrolmentServiceClient::new(education);
    for (level, places) in [(SchoolLevel::Nido, 60), (SchoolLevel::Infanzia, 120)] {
        let reply = enrolment
            .open_window(context.request(OpenWindowRequest {
                municipality_istat_code: municipality.to_string(),
                level: level as i32,
                school_year: i32::from(year),
                opens_on: opens_on.to_string(),
                closes_on: closes_on.to_string(),
                starts_on: starts_on.to_string(),
                criteria: Some(enrolment_criteria()),
                idempotency_key: format!("0195f3a0-0000-7000-8001-0{}00000{year:05}", level as i32),
                objection_days: 0,
                places,
                acceptance_days: 0,
                check_percent: 0,
            }))
            .await;
        match reply {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::AlreadyExists => {}
            Err(status) => return Err(status.into()),
        }
    }
    Ok(())
}

/// A demo report category: code, name, group, office, whether a place is needed,
/// keywords; the last one is a complaint.
type DemoCategory = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
);

/// The demo's report categories (Open311 services): real-sounding for La Spezia, not
/// the municipality's published list.
const REPORT_CATEGORIES: [DemoCategory; 5] = [
    (
        "strade.buca",
        "Buca o avvallamento stradale",
        "Strade e marciapiedi",
        "Manutenzione strade",
        true,
        &["buca", "asfalto", "avvallamento", "marciapiede"],
    ),
    (
        "illuminazione.lampione_spento",
        "Lampione spento o guasto",
        "Illuminazione pubblica",
        "Illuminazione pubblica",
        true,
        &["lampione", "luce", "buio", "illuminazione"],
    ),
    (
        "rifiuti.abbandono",
        "Rifiuti abbandonati",
        "Rifiuti e pulizia",
        "Igiene urbana",
        true,
        &["rifiuti", "ingombranti", "discarica", "sacchi"],
    ),
    (
        "verde.potatura",
        "Alberi e siepi: potatura o rami pericolosi",
        "Verde pubblico",
        "Verde pubblico",
        true,
        &["albero", "ramo", "potatura", "siepe"],
    ),
    (
        "servizi.reclamo",
        "Reclamo su un servizio comunale",
        "Reclami",
        "URP",
        false,
        &["reclamo", "disservizio", "lamentela"],
    ),
];

/// Defines the demo's report categories in URP (redefining them is harmless), so the
/// Open311 API and the counter have something to report under.
pub async fn seed_urp(
    urp: sportello_kit::PeerChannel,
    municipality: MunicipalityCode,
) -> Result<(), ServiceError> {
    use sportello_proto::urp::v1::{
        Category, DefineCategoryRequest, ReportKind, report_service_client::ReportServiceClient,
    };
    let context = CallContext::new(
        "tool/demo",
        "system:demo-seed",
        municipality.as_str(),
        "demo.seed",
    )
    .map_err(|e| ServiceError::internal(e.to_string()))?
    .with_roles(&[sportello_kit::Role::Admin]);
    let mut reports = ReportServiceClient::new(urp);
    for (code, name, group, office, location_required, keywords) in REPORT_CATEGORIES {
        let kind = if code == "servizi.reclamo" {
            ReportKind::Complaint
        } else {
            ReportKind::Report
        };
        reports
            .define_category(context.request(DefineCategoryRequest {
                category: Some(Category {
                    municipality_istat_code: municipality.to_string(),
                    code: code.to_owned(),
                    name: name.to_owned(),
                    description: String::new(),
                    group: group.to_owned(),
                    kind: kind as i32,
                    location_required,
                    reply_days: 0,
                    keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
                    office: office.to_owned(),
                    active: true,
                }),
            }))
            .await?;
    }
    Ok(())
}

/// The demo's Open311 API key (`DEMO_OPEN311_KEY` changes it), printed by `make run`
/// like the demo password: a known key is for a demo only.
pub const DEMO_OPEN311_KEY: &str = "o311_demo_la_spezia";

/// Installs the demo's Open311 key for the application "Demo (make run)", live again
/// at every seeding.
pub async fn seed_open311_key(
    db: &Db,
    municipality: MunicipalityCode,
    key: &str,
) -> Result<(), ServiceError> {
    let id = uuid::Uuid::from_u128(0x0195_f3a0_0000_7000_8311_0000_0000_0001);
    crate::open311::keys::install(
        db,
        id,
        municipality,
        "Demo (make run)",
        key,
        "system:demo-seed",
    )
    .await
}

/// A quick answer: (service, title, answer, what to bring, where to go, how much, how
/// long, other words).
type DemoAnswer = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The demo's quick answers for the info desk. Sample wording of the kind a URP publishes,
/// not the municipality's official text.
const ANSWERS: [DemoAnswer; 6] = [
    (
        "registry.residence_certificate",
        "Certificato di residenza",
        "Il certificato di residenza si rilascia subito allo sportello polivalente, anche a \
         chi non è l'interessato se conosce nome, cognome e data di nascita. Per la maggior \
         parte degli usi verso altre amministrazioni basta l'autocertificazione (DPR \
         445/2000): il certificato serve ai privati.",
        "Documento d'identità; una marca da bollo da € 16,00 salvo esenzione",
        "Sportello Unico Servizi, Palazzo Civico, piazza Europa 1 — ticket coda A",
        "€ 16,00 di bollo più € 0,52 di diritti; in carta libera € 0,26 se esente",
        "Subito allo sportello",
        "anagrafe residenza certificato autocertificazione bollo",
    ),
    (
        "registry.identity_card",
        "Carta d'identità elettronica: perché serve la prenotazione",
        "La carta d'identità elettronica (CIE) si chiede su appuntamento: l'operatore \
         acquisisce foto, impronte e firma e la carta arriva per posta dal Poligrafico. La \
         vecchia carta scade il giorno del compleanno dopo la data indicata. Chi ha \
         urgenza documentata (viaggio, concorso) lo dica allo sportello.",
        "Una fototessera recente su sfondo bianco; la vecchia carta o la denuncia di \
         smarrimento; il codice fiscale",
        "Sportello Unico Servizi, via Costantini — su prenotazione",
        "€ 22,21 (€ 27,37 per il duplicato), pagati allo sportello con carta o pagoPA",
        "Circa 6 giorni lavorativi per la spedizione",
        "cie carta identita documento prenotazione scaduta smarrita",
    ),
    (
        "urp.information",
        "Moduli del Comune: dove trovarli",
        "I moduli più chiesti (autocertificazioni, accesso agli atti, occupazione di suolo \
         pubblico, iscrizioni scolastiche) si ritirano al banco informazioni o si scaricano \
         dal sito del Comune, sezione Modulistica. Allo sportello informazioni aiutiamo a \
         compilarli e diciamo a quale ufficio consegnarli.",
        "Nulla",
        "Banco informazioni URP, Palazzo Civico, piano terra — ticket coda E",
        "Gratuito",
        "Pochi minuti",
        "modulo moduli modulistica stampato autocertificazione",
    ),
    (
        "mobility.ztl_permit",
        "Permesso ZTL per i residenti",
        "Il permesso per entrare nella zona a traffico limitato spetta ai residenti nella \
         zona, per i veicoli intestati al nucleo familiare, entro il numero di posti della \
         zona. Si chiede allo sportello mobilità su appuntamento; è attivo dal pagamento \
         dell'avviso pagoPA.",
        "Libretto di circolazione dei veicoli; documento d'identità",
        "Sportello mobilità, via Costantini — su prenotazione",
        "Secondo la tariffa della zona, con avviso pagoPA",
        "Attivo dal giorno del pagamento",
        "ztl permesso varco telecamere residenti auto targa",
    ),
    (
        "education.canteen_subscription",
        "Mensa scolastica: iscrizione e tariffa",
        "L'iscrizione alla mensa si fa allo sportello polivalente o online prima dell'inizio \
         dell'anno scolastico. La tariffa dipende dall'ISEE: senza ISEE si applica la fascia \
         massima. Gli avvisi di pagamento arrivano con pagoPA.",
        "Codice fiscale del bambino e del genitore; attestazione ISEE se si chiede la \
         riduzione",
        "Sportello Unico Servizi, Palazzo Civico — ticket coda B",
        "Per fascia ISEE, da € 1,50 a € 5,20 a pasto",
        "Subito allo sportello",
        "mensa pasti scuola refezione isee tariffa",
    ),
    (
        "suap.dehors",
        "Dehors: tavolini all'aperto davanti al locale",
        "Per mettere tavolini, sedie e ombrelloni su suolo pubblico serve la concessione per \
         il dehors, chiesta al SUAP con la planimetria dell'area. Si paga il canone unico in \
         base ai metri quadri, alla zona e ai mesi.",
        "Planimetria dell'area con le misure; foto del luogo; visura camerale",
        "Sportello imprese (SUAP), via Costantini — anche online",
        "Canone unico secondo zona e superficie; bollo € 16,00",
        "60 giorni al più",
        "dehors tavolini sedie ombrelloni suolo pubblico bar ristorante",
    ),
];

/// Publishes the demo's quick answers in URP's knowledge base (a new version each time:
/// harmless), so the console's knowledge-base panel finds something at once.
pub async fn seed_knowledge(
    urp: sportello_kit::PeerChannel,
    municipality: MunicipalityCode,
) -> Result<(), ServiceError> {
    use sportello_proto::urp::v1::{
        Answer, PublishAnswerRequest, knowledge_service_client::KnowledgeServiceClient,
    };
    let context = CallContext::new(
        "tool/demo",
        "system:demo-seed",
        municipality.as_str(),
        "demo.seed",
    )
    .map_err(|e| ServiceError::internal(e.to_string()))?
    .with_roles(&[sportello_kit::Role::Admin]);
    let mut knowledge = KnowledgeServiceClient::new(urp);
    for (service, title, body, bring, place, cost, duration, keywords) in ANSWERS {
        knowledge
            .publish_answer(context.request(PublishAnswerRequest {
                answer: Some(Answer {
                    municipality_istat_code: municipality.to_string(),
                    service_code: service.to_owned(),
                    title: title.to_owned(),
                    body: body.to_owned(),
                    what_to_bring: bring.to_owned(),
                    where_to_go: place.to_owned(),
                    cost: cost.to_owned(),
                    duration: duration.to_owned(),
                    keywords: keywords.to_owned(),
                    ..Default::default()
                }),
            }))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_window_is_open_every_day_for_the_next_school_year() {
        for (today, year) in [
            (date(2026, 12, 7), 2027),
            (date(2027, 7, 31), 2027),
            (date(2027, 8, 1), 2028),
            (date(2027, 1, 1), 2027),
        ] {
            let (y, opens, closes, starts) = enrolment_year(today);
            assert_eq!(y, year);
            assert!(
                opens <= today && today <= closes && closes < starts,
                "{today}"
            );
        }
    }
}
