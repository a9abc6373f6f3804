//! `sportello-pa`: the public-administration rules for back-office staff and scripts.
//! Prints JSON on stdout; exit status 0 valid, 1 invalid, 2 usage error.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use jiff::civil::Date;
use serde_json::{Value, json};
use sportello_pa::calendar::{Calendar, Closure, rome};
use sportello_pa::clock::{self, ClockOptions, Matter, Procedure, Stop, Term};
use sportello_pa::fiscal_code::{self, Declared, Person, PersonCode};
use sportello_pa::plate::{self, Recognition};
use sportello_pa::{BelfioreCode, NoticeNumber, PartitaIva, Sex, birthplace};

#[derive(Parser, Debug)]
#[command(
    name = "sportello-pa",
    version,
    about = "Italian public-administration rules: fiscal codes, VAT numbers, pagoPA notices, plates, calendar, deadlines. Prints JSON; exit 0 valid, 1 invalid, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Personal fiscal codes.
    #[command(subcommand)]
    FiscalCode(FiscalCodeCmd),
    /// VAT numbers (partita IVA).
    #[command(subcommand)]
    Vat(VatCmd),
    /// pagoPA notice numbers.
    #[command(subcommand)]
    Notice(NoticeCmd),
    /// Vehicle plates.
    #[command(subcommand)]
    Plate(PlateCmd),
    /// The business calendar.
    #[command(subcommand)]
    Calendar(CalendarCmd),
    /// A statutory deadline.
    Deadline(DeadlineArgs),
}

#[derive(Subcommand, Debug)]
enum FiscalCodeCmd {
    /// Validate and decode a code (16 characters, or the 11-digit provisional code);
    /// with declared data, list mismatches as warnings.
    Check {
        /// The code.
        code: String,
        /// Reference day for the century (default: today in Rome).
        #[arg(long)]
        today: Option<Date>,
        /// Declared surname to compare.
        #[arg(long)]
        surname: Option<String>,
        /// Declared name to compare.
        #[arg(long)]
        name: Option<String>,
        /// Declared sex (M or F).
        #[arg(long)]
        sex: Option<Sex>,
        /// Declared birth date (YYYY-MM-DD).
        #[arg(long)]
        birth_date: Option<Date>,
        /// Declared birthplace: Belfiore code (E463) or name ("La Spezia", "Spezia (SP)").
        #[arg(long)]
        birthplace: Option<String>,
    },
    /// Compute the code from a person's data.
    Encode {
        /// Surname.
        #[arg(long)]
        surname: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// M or F.
        #[arg(long)]
        sex: Sex,
        /// YYYY-MM-DD.
        #[arg(long)]
        birth_date: Date,
        /// Belfiore code (E463) or name ("La Spezia", "Spezia (SP)").
        #[arg(long)]
        birthplace: String,
    },
}

#[derive(Subcommand, Debug)]
enum VatCmd {
    /// Validate a VAT number.
    Check {
        /// Eleven digits (an IT prefix is accepted).
        number: String,
    },
}

#[derive(Subcommand, Debug)]
enum NoticeCmd {
    /// Validate a notice number and show its parts.
    Check {
        /// Eighteen digits (spaces ignored).
        number: String,
    },
    /// Build a notice number with its check digits.
    Build {
        /// Aux digit: 3 (segregation code), 0 (application code) or 2.
        #[arg(long)]
        aux: u8,
        /// Segregation code, two digits (aux 3).
        #[arg(long)]
        segregation: Option<String>,
        /// Application code, two digits (aux 0).
        #[arg(long)]
        application: Option<String>,
        /// IUV base: up to 13 digits (aux 0 and 3), 15 (aux 2).
        #[arg(long)]
        base: String,
    },
}

#[derive(Subcommand, Debug)]
enum PlateCmd {
    /// Recognise a plate and its kind, or every kind it may be; mark foreign ones as
    /// COUNTRY:PLATE (e.g. CH:ZH12345).
    Check {
        /// The plate.
        plate: String,
    },
}

#[derive(Subcommand, Debug)]
enum CalendarCmd {
    /// The holidays and closures of a year.
    Holidays {
        /// The year.
        year: i16,
        #[command(flatten)]
        cal: CalendarArgs,
    },
}

#[derive(Args, Debug, Clone)]
struct CalendarArgs {
    /// ISTAT code of the municipality (adds its patron day when known).
    #[arg(long)]
    municipality: Option<String>,
    /// Patron day as MM-DD, for a municipality the table lacks.
    #[arg(long)]
    patron: Option<String>,
    /// Extra closure (office closed, deadlines not moved), YYYY-MM-DD; repeatable.
    #[arg(long = "closure")]
    closures: Vec<Date>,
    /// Move deadlines falling on a Saturday to the next working day.
    #[arg(long)]
    saturday_rollover: bool,
}

#[derive(Args, Debug)]
struct DeadlineArgs {
    /// Day of receipt, YYYY-MM-DD (or an RFC 3339 instant, taken as its day in Rome).
    #[arg(long)]
    start: String,
    /// Term in days (L. 241/1990 art. 2: 30 unless a rule says otherwise); alone, or
    /// with --procedure generic or opinion_protected.
    #[arg(long, conflicts_with = "months")]
    days: Option<u32>,
    /// Term in months; alone, or with --procedure generic or opinion_protected.
    #[arg(long)]
    months: Option<u32>,
    /// A named procedure: generic, residence_registration, residence_check, scia,
    /// scia_building, suap_ordinary, opinion, opinion_protected (needs --days or
    /// --months), assent, assent_sensitive, silence_assent_attestation.
    #[arg(long)]
    procedure: Option<String>,
    /// With suap_ordinary: what the application concerns, which decides silence-assent
    /// (L. 241/1990 art. 20 c. 4): general (default), heritage, environment,
    /// hydrogeological_risk, national_defence, public_safety, immigration, health,
    /// eu_formal_measure, silence_is_rejection, excluded_by_decree.
    #[arg(long)]
    matter: Option<String>,
    /// With a generic term: silence-assent on expiry (L. 241/1990 art. 20).
    #[arg(long)]
    silence_assent: bool,
    /// KIND FROM TO: information, integration, instruction, scia-conform; TO is a date
    /// or '-' when not yet answered. Repeatable.
    #[arg(long = "suspend", num_args = 3, value_names = ["KIND", "FROM", "TO"])]
    suspend: Vec<String>,
    /// With scia-conform: the days the order gives to take the measures (at least 30,
    /// L. 241/1990 art. 19 c. 3).
    #[arg(long)]
    conform_days: Option<u32>,
    /// A 10-bis notice: the day it was sent, the day it was received ('-': not yet) and
    /// the day of the observations ('-': none). Repeatable.
    #[arg(long = "reasons-against", num_args = 3, value_names = ["SENT", "RECEIVED", "OBSERVATIONS"])]
    reasons_against: Vec<String>,
    /// Warn when this share of the term has run (1-99).
    #[arg(long, default_value_t = 80)]
    warning_percent: u8,
    #[command(flatten)]
    cal: CalendarArgs,
}

/// Exit statuses.
const VALID: u8 = 0;
const INVALID: u8 = 1;
const USAGE: u8 = 2;

fn emit(value: &Value) {
    let mut out = std::io::stdout().lock();
    // A closed pipe is not worth a panic.
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

fn usage(msg: impl Into<String>) -> u8 {
    let mut err = std::io::stderr().lock();
    let _ = serde_json::to_writer(&mut err, &json!({ "error": msg.into() }));
    let _ = writeln!(err);
    USAGE
}

fn invalid(what: &str, input: &str, error: impl ToString) -> u8 {
    emit(&json!({ "kind": what, "input": input, "valid": false, "error": error.to_string() }));
    INVALID
}

fn today() -> Date {
    rome::date_of(jiff::Timestamp::now())
}

/// A birthplace given as a Belfiore code or as a name (optionally "Name (PR)").
fn resolve_birthplace(s: &str, date: Option<Date>) -> Result<BelfioreCode, String> {
    if let Ok(code) = s.parse::<BelfioreCode>() {
        return Ok(code);
    }
    let mut found = birthplace::find_by_name(s, date);
    if found.is_empty() && date.is_some() {
        found = birthplace::find_by_name(s, None);
    }
    let mut codes: Vec<BelfioreCode> = found.iter().map(|b| b.code).collect();
    codes.sort();
    codes.dedup();
    match codes.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("no municipality or country named {s}")),
        many => {
            let list: Vec<String> = found
                .iter()
                .map(|b| format!("{} {} ({})", b.code, b.name, b.province))
                .collect();
            Err(format!(
                "{s} is ambiguous ({} codes): {}; give the code or \"Name (PR)\"",
                many.len(),
                list.join(", ")
            ))
        }
    }
}

fn build_calendar(args: &CalendarArgs) -> Result<Calendar, String> {
    let mut cal = match &args.municipality {
        Some(m) => {
            if m.len() != 6 || !m.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("municipality {m} is not a six-digit ISTAT code"));
            }
            Calendar::for_municipality(m)
        }
        None => Calendar::national(),
    };
    if let Some(p) = &args.patron {
        let parsed = p
            .split_once('-')
            .and_then(|(m, d)| Some((m.parse::<i8>().ok()?, d.parse::<i8>().ok()?)))
            .filter(|&(m, d)| Date::new(2024, m, d).is_ok());
        match parsed {
            Some((m, d)) => cal = cal.with_patron_day(m, d, "Santo patrono"),
            None => return Err(format!("patron day {p} is not MM-DD")),
        }
    }
    for &date in &args.closures {
        cal = cal.with_closure(Closure {
            date,
            name: "Chiusura straordinaria".into(),
            moves_deadlines: false,
        });
    }
    Ok(cal.with_saturday_rollover(args.saturday_rollover))
}

fn fiscal_code(cmd: FiscalCodeCmd) -> u8 {
    match cmd {
        FiscalCodeCmd::Check {
            code,
            today: t,
            surname,
            name,
            sex,
            birth_date,
            birthplace,
        } => {
            let cf = match code.parse::<PersonCode>() {
                Ok(PersonCode::Definitive(cf)) => cf,
                Ok(PersonCode::Provisional(p)) => {
                    let given = [&surname, &name, &birthplace].iter().any(|x| x.is_some())
                        || sex.is_some()
                        || birth_date.is_some();
                    let mut warnings = vec![Value::from(
                        "provisional code: it stands for the definitive one until the agency assigns it, and says nothing about the person",
                    )];
                    if given {
                        warnings.push(Value::from(
                            "declared data cannot be compared with a provisional code",
                        ));
                    }
                    emit(&json!({
                        "kind": "fiscal_code", "input": code, "valid": true,
                        "code_kind": "provisional", "code": p,
                        "office_code": format!("{:03}", p.office_code()),
                        "mismatches": [], "warnings": warnings,
                    }));
                    return VALID;
                }
                Err(e) => return invalid("fiscal_code", &code, e),
            };
            let t = t.unwrap_or_else(today);
            let place = match birthplace
                .as_deref()
                .map(|b| resolve_birthplace(b, birth_date))
                .transpose()
            {
                Ok(p) => p,
                Err(e) => return usage(e),
            };
            let declared = Declared {
                surname: surname.as_deref(),
                name: name.as_deref(),
                sex,
                birth_date,
                birthplace: place,
            };
            let decoded = cf.decode(t);
            let mut warnings: Vec<Value> = cf
                .warnings_with(t, &declared)
                .into_iter()
                .map(Value::from)
                .collect();
            let mismatches = cf.compare(&declared);
            warnings.extend(mismatches.iter().map(|m| {
                Value::from(format!(
                    "{}: code has {}, declared data give {}",
                    m.field, m.in_code, m.declared
                ))
            }));
            emit(&json!({
                "kind": "fiscal_code", "input": code, "valid": true, "code_kind": "definitive",
                "decoded": decoded, "mismatches": mismatches, "warnings": warnings,
            }));
            VALID
        }
        FiscalCodeCmd::Encode {
            surname,
            name,
            sex,
            birth_date,
            birthplace,
        } => {
            let place = match resolve_birthplace(&birthplace, Some(birth_date)) {
                Ok(p) => p,
                Err(e) => return usage(e),
            };
            let person = Person {
                surname: &surname,
                name: &name,
                sex,
                birth_date,
                birthplace: place,
            };
            match fiscal_code::encode(&person) {
                Ok(cf) => {
                    let variants: Vec<String> = cf
                        .omocodia_variants()
                        .iter()
                        .map(|v| v.to_string())
                        .collect();
                    emit(&json!({
                        "kind": "fiscal_code", "code": cf.to_string(), "person": person,
                        "birthplace": birthplace::at(place, birth_date),
                        "omocodia_variants": variants,
                        "note": "computed from the rules; only the tax agency assigns codes (omocodia)",
                    }));
                    VALID
                }
                Err(e) => invalid("fiscal_code", &format!("{surname} {name}"), e),
            }
        }
    }
}

fn notice(cmd: NoticeCmd) -> u8 {
    let (input, result) = match cmd {
        NoticeCmd::Check { number } => {
            let r = number.parse::<NoticeNumber>();
            (number, r)
        }
        NoticeCmd::Build {
            aux,
            segregation,
            application,
            base,
        } => {
            let r = match aux {
                3 => match segregation {
                    Some(s) => NoticeNumber::build_aux3(&s, &base),
                    None => return usage("aux 3 needs --segregation"),
                },
                0 => match application {
                    Some(a) => NoticeNumber::build_aux0(&a, &base),
                    None => return usage("aux 0 needs --application"),
                },
                2 => NoticeNumber::build_aux2(&base),
                other => {
                    return usage(format!(
                        "cannot build aux {other}: use 3, 0 or 2 (aux 1 has no check digits)"
                    ));
                }
            };
            (base, r)
        }
    };
    match result {
        Ok(n) => {
            emit(&json!({
                "kind": "notice_number", "input": input, "valid": true, "notice_number": n,
                "aux_digit": n.aux_digit(), "segregation_code": n.segregation_code(),
                "application_code": n.application_code(), "iuv": n.iuv(), "iuv_base": n.iuv_base(),
                "check_digits": n.check(),
            }));
            VALID
        }
        Err(e) => invalid("notice_number", &input, e),
    }
}

fn parse_start(s: &str) -> Result<Date, String> {
    if let Ok(d) = s.parse::<Date>() {
        return Ok(d);
    }
    s.parse::<jiff::Timestamp>()
        .map(rome::date_of)
        .map_err(|_| format!("start {s} is neither a date (YYYY-MM-DD) nor an RFC 3339 instant"))
}

/// A date argument, or `-` for "not yet" when `dash` allows it.
fn date_arg(what: &str, raw: &str, dash: bool) -> Result<Option<Date>, String> {
    if dash && raw == "-" {
        return Ok(None);
    }
    raw.parse::<Date>().map(Some).map_err(|_| {
        if dash {
            format!("{what} {raw} is not YYYY-MM-DD or '-'")
        } else {
            format!("{what} {raw} is not YYYY-MM-DD")
        }
    })
}

fn procedure_of(args: &DeadlineArgs) -> Result<Procedure, String> {
    let term = match (args.days, args.months) {
        (Some(d), _) => Some(Term::Days(d)),
        (None, Some(m)) => Some(Term::Months(m)),
        (None, None) => None,
    };
    let mut procedure = match (&args.procedure, term) {
        (Some(p), term) => Procedure::parse(p, term).map_err(|e| e.to_string())?,
        (None, Some(term)) => Procedure::Generic {
            term,
            silence_assent: false,
        },
        (None, None) => return Err("give --days N, --months N or --procedure NAME".into()),
    };
    match &mut procedure {
        Procedure::Generic { silence_assent, .. } => *silence_assent = args.silence_assent,
        _ if args.silence_assent => {
            return Err(format!(
                "--silence-assent applies only to a generic term; {} has its own rule",
                procedure.id()
            ));
        }
        _ => {}
    }
    if let Some(m) = &args.matter {
        let Procedure::SuapOrdinary { matter } = &mut procedure else {
            return Err("--matter applies only to --procedure suap_ordinary".into());
        };
        *matter = Matter::from_id(m)
            .ok_or_else(|| format!("unknown matter {m}; one of {}", Matter::IDS.join(", ")))?;
    }
    Ok(procedure)
}

fn stops_of(args: &DeadlineArgs) -> Result<Vec<Stop>, String> {
    let mut stops = Vec::new();
    for triple in args.suspend.chunks(3) {
        let [kind, from, to] = triple else {
            return Err("--suspend takes KIND FROM TO".into());
        };
        let from = date_arg("suspension start", from, false)?
            .ok_or_else(|| format!("suspension start {from} is not YYYY-MM-DD"))?;
        let until = date_arg("suspension end", to, true)?;
        stops.push(match kind.as_str() {
            "information" => Stop::InformationRequest { from, until },
            "integration" => Stop::SuapIntegration { from, until },
            "instruction" => Stop::InstructionRequest { from, until },
            "irregular-request" => Stop::IrregularRequest {
                notified: from,
                corrected: until,
            },
            "counter-interested" => Stop::CounterInterested {
                notified: from,
                objection: until,
            },
            "garante" => Stop::GaranteOpinion {
                asked: from,
                given: until,
            },
            "scia-conform" => Stop::SciaConformOrder {
                from,
                until,
                days: args.conform_days.ok_or(
                    "scia-conform needs --conform-days N: the days the order gives to take the measures (at least 30, L. 241/1990 art. 19 c. 3)",
                )?,
            },
            "reasons-against" | "10-bis" => {
                return Err("a 10-bis notice has the day it was sent and the day it was received: use --reasons-against SENT RECEIVED|- OBSERVATIONS|-".into());
            }
            other => {
                return Err(format!(
                    "unknown suspension kind {other}; one of information, integration, instruction, scia-conform, irregular-request, counter-interested, garante (10-bis: --reasons-against)"
                ));
            }
        });
    }
    for triple in args.reasons_against.chunks(3) {
        let [sent, received, observations] = triple else {
            return Err("--reasons-against takes SENT RECEIVED OBSERVATIONS".into());
        };
        stops.push(Stop::ReasonsAgainst {
            sent: date_arg("--reasons-against SENT", sent, false)?
                .ok_or_else(|| format!("--reasons-against SENT {sent} is not YYYY-MM-DD"))?,
            received: date_arg("--reasons-against RECEIVED", received, true)?,
            observations: date_arg("--reasons-against OBSERVATIONS", observations, true)?,
        });
    }
    if args.conform_days.is_some()
        && !stops
            .iter()
            .any(|s| matches!(s, Stop::SciaConformOrder { .. }))
    {
        return Err("--conform-days goes with --suspend scia-conform FROM TO".into());
    }
    Ok(stops)
}

fn deadline(args: DeadlineArgs) -> u8 {
    let cal = match build_calendar(&args.cal) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let start = match parse_start(&args.start) {
        Ok(d) => d,
        Err(e) => return usage(e),
    };
    let procedure = match procedure_of(&args) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let stops = match stops_of(&args) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let options = ClockOptions {
        warning_percent: args.warning_percent,
    };
    match clock::deadline(&cal, procedure, start, &stops, options) {
        Ok(d) => {
            let mut out = json!({ "kind": "deadline", "valid": true, "municipality": cal.municipality, "deadline": d });
            if let Procedure::SuapOrdinary { matter } = procedure {
                out["matter"] = Value::from(matter.id());
            }
            emit(&out);
            VALID
        }
        Err(clock::ClockError::WarningPercent(p)) => {
            usage(format!("warning percent {p} is not 1-99"))
        }
        Err(e) => invalid("deadline", &args.start, e),
    }
}

/// A recognised plate: its kind, or every kind it may be when formats share a shape
/// (valid either way: it is a plate; which one, only the vehicle's documents say).
fn plate_json(input: &str, r: Recognition) -> Value {
    let described = |kind: &plate::PlateKind| {
        let mut v = serde_json::to_value(kind).unwrap_or(Value::Null);
        v["format"] = Value::from(kind.format());
        v
    };
    let mut out = json!({
        "kind": "plate", "input": input, "valid": true, "text": r.text,
        "ambiguous": r.is_ambiguous(),
    });
    match r.candidates.as_slice() {
        [one] => out["plate"] = described(one),
        many => {
            out["candidates"] = many.iter().map(described).collect();
            out["note"] = Value::from(
                "the string fits more than one format; the registration certificate says which",
            );
        }
    }
    out
}

fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::FiscalCode(cmd) => fiscal_code(cmd),
        Command::Vat(VatCmd::Check { number }) => match number.parse::<PartitaIva>() {
            Ok(p) => {
                emit(&json!({
                    "kind": "vat_number", "input": number, "valid": true, "vat_number": p,
                    "office_code": format!("{:03}", p.office_code()),
                }));
                VALID
            }
            Err(e) => invalid("vat_number", &number, e),
        },
        Command::Notice(cmd) => notice(cmd),
        Command::Plate(PlateCmd::Check { plate: input }) => match plate::recognise(&input) {
            Ok(r) => {
                emit(&plate_json(&input, r));
                VALID
            }
            Err(e) => invalid("plate", &input, e),
        },
        Command::Calendar(CalendarCmd::Holidays { year, cal }) => {
            let calendar = match build_calendar(&cal) {
                Ok(c) => c,
                Err(e) => return usage(e),
            };
            if !(1583..=9998).contains(&year) {
                return usage(format!("year {year} is outside 1583-9998"));
            }
            let mut out = json!({
                "kind": "calendar", "year": year, "municipality": calendar.municipality,
                "saturday_rollover": calendar.saturday_rollover, "entries": calendar.entries(year),
            });
            if calendar.municipality.is_some() && !calendar.has_patron_day() {
                out["note"] = Value::from("patron day not in the table: pass --patron MM-DD");
            }
            emit(&out);
            VALID
        }
        Command::Deadline(args) => deadline(args),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { USAGE } else { VALID };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(run(cli))
}
