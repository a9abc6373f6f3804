//! Runs the `sportello-pa` binary: exit codes, JSON on stdout, bad input.

// Helpers outside #[test] fns are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use serde_json::Value;

fn run(args: &[&str]) -> (i32, Value, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_sportello-pa"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

#[test]
fn fiscal_code_check_valid_and_invalid() {
    let (code, v, _) = run(&[
        "fiscal-code",
        "check",
        "RSSMRA85T10A562S",
        "--today",
        "2026-01-01",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["valid"], true);
    assert_eq!(v["decoded"]["birth_date"], "1985-12-10");
    assert_eq!(v["decoded"]["birthplace"]["name"], "San Giuliano Terme");

    let (code, v, _) = run(&["fiscal-code", "check", "RSSMRA85T10A562K"]);
    assert_eq!(code, 1);
    assert_eq!(v["error"], "check character is K, expected S");
}

#[test]
fn fiscal_code_mismatch_is_a_warning_not_a_rejection() {
    let (code, v, _) = run(&[
        "fiscal-code",
        "check",
        "RSSMRA85T10A562S",
        "--today",
        "2026-01-01",
        "--surname",
        "Bianchi",
        "--birthplace",
        "La Spezia",
    ]);
    assert_eq!(code, 0);
    let fields: Vec<&str> = v["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["surname", "birthplace"]);
}

#[test]
fn fiscal_code_encode_by_name_or_code() {
    let (code, v, _) = run(&[
        "fiscal-code",
        "encode",
        "--surname",
        "Rossi",
        "--name",
        "Maria",
        "--sex",
        "F",
        "--birth-date",
        "1990-03-19",
        "--birthplace",
        "La Spezia",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["code"], "RSSMRA90C59E463G");
    assert_eq!(v["omocodia_variants"].as_array().unwrap().len(), 7);
    // Before 1923 the town was "Spezia" in the province of Genova.
    let (code, v, _) = run(&[
        "fiscal-code",
        "encode",
        "--surname",
        "Rossi",
        "--name",
        "Mario",
        "--sex",
        "M",
        "--birth-date",
        "1920-01-01",
        "--birthplace",
        "Spezia (GE)",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["birthplace"]["name"], "Spezia");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["fiscal-code", "encode", "--surname", "Rossi"][..],
        &[
            "fiscal-code",
            "encode",
            "--surname",
            "Rossi",
            "--name",
            "M",
            "--sex",
            "X",
            "--birth-date",
            "1990-01-01",
            "--birthplace",
            "E463",
        ],
        &[
            "fiscal-code",
            "encode",
            "--surname",
            "Rossi",
            "--name",
            "M",
            "--sex",
            "M",
            "--birth-date",
            "1990-13-01",
            "--birthplace",
            "E463",
        ],
        &[
            "fiscal-code",
            "encode",
            "--surname",
            "Rossi",
            "--name",
            "M",
            "--sex",
            "M",
            "--birth-date",
            "1990-01-01",
            "--birthplace",
            "Atlantide",
        ],
        &["deadline", "--start", "yesterday", "--days", "30"],
        &["deadline", "--start", "2026-03-02"],
        &[
            "deadline",
            "--start",
            "2026-03-02",
            "--days",
            "30",
            "--suspend",
            "holiday",
            "2026-03-03",
            "2026-03-04",
        ],
        &[
            "deadline",
            "--start",
            "2026-03-02",
            "--days",
            "30",
            "--suspend",
            "information",
            "2026-03-03",
        ],
        &[
            "deadline",
            "--start",
            "2026-03-02",
            "--days",
            "30",
            "--municipality",
            "11015",
        ],
        &["calendar", "holidays", "twenty"],
        &["notice", "build", "--aux", "3", "--base", "1"],
        &["frobnicate"],
        &[],
    ] {
        let (code, _, _) = run(args);
        assert_eq!(code, 2, "{args:?}");
    }
    let (code, _, _) = run(&["--help"]);
    assert_eq!(code, 0);
}

#[test]
fn vat_notice_plate() {
    let (code, v, _) = run(&["vat", "check", "00743110157"]);
    assert_eq!((code, v["office_code"].as_str()), (0, Some("015")));
    let (code, v, _) = run(&["vat", "check", "00743110158"]);
    assert_eq!(
        (code, v["error"].as_str()),
        (1, Some("check digit is 8, expected 7"))
    );

    let (code, v, _) = run(&[
        "notice",
        "build",
        "--aux",
        "3",
        "--segregation",
        "01",
        "--base",
        "1",
    ]);
    assert_eq!(
        (code, v["notice_number"].as_str()),
        (0, Some("301000000000000144"))
    );
    let (code, v, _) = run(&["notice", "check", "301000000000000144"]);
    assert_eq!((code, v["iuv"].as_str()), (0, Some("01000000000000144")));
    let (code, v, _) = run(&["notice", "check", "301000000000000145"]);
    assert_eq!(
        (code, v["error"].as_str()),
        (1, Some("check digits are 45, expected 44"))
    );

    let (code, v, _) = run(&["plate", "check", "EM 700 TV"]);
    assert_eq!((code, v["plate"]["kind"].as_str()), (0, Some("car")));
    assert_eq!(v["ambiguous"], false);
    let (code, v, _) = run(&["plate", "check", "CH:ZH 12345"]);
    assert_eq!((code, v["plate"]["country"].as_str()), (0, Some("CH")));
    let (code, _, _) = run(&["plate", "check", "AB 123 QQ"]);
    assert_eq!(code, 1);
}

/// Plates report their kind, and a string that fits more than one format reports every
/// candidate instead of picking one (DPR 153/2006 mopeds, DM MIT 11 October 2023
/// diplomatic series, D.Lgs. 285/1992 art. 138 corps plates).
#[test]
fn plate_kinds_and_ambiguity() {
    for (plate, kind) in [
        ("X2B 3CD", "moped"),
        ("EE 123 AB", "escursionisti_esteri"),
        ("CD 1234 AB", "diplomatic"),
        ("EI AB 123", "corps"),
        ("POLIZIA F1234", "corps"),
    ] {
        let (code, v, _) = run(&["plate", "check", plate]);
        assert_eq!(code, 0, "{plate}");
        assert_eq!(v["plate"]["kind"], kind, "{plate}");
        assert_eq!(v["ambiguous"], false, "{plate}");
    }
    let (code, v, _) = run(&["plate", "check", "GdiF 123 AB"]);
    assert_eq!(
        (code, v["plate"]["corps"].as_str()),
        (0, Some("guardia_di_finanza"))
    );
    let (code, v, _) = run(&["plate", "check", "SP 12345"]);
    assert_eq!(code, 0);
    assert_eq!(v["ambiguous"], true);
    let kinds: Vec<&str> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["trailer_before_2013", "old_provincial"]);
    assert!(
        v.get("plate").is_none(),
        "an ambiguous plate is never classed"
    );
}

/// The 11-digit provisional code stands for the definitive one (kind `provisional`);
/// a century the code cannot tell gives a warning.
#[test]
fn fiscal_code_provisional_and_century() {
    let (code, v, _) = run(&["fiscal-code", "check", "12345678903"]);
    assert_eq!(code, 0);
    assert_eq!(v["code_kind"], "provisional");
    assert_eq!(v["office_code"], "890");
    let (code, v, _) = run(&["fiscal-code", "check", "12345678904"]);
    assert_eq!(
        (code, v["error"].as_str()),
        (1, Some("check digit is 4, expected 3"))
    );
    let (code, v, _) = run(&["fiscal-code", "check", "RSSMRA85T10"]);
    assert_eq!(code, 1);
    assert_eq!(
        v["error"],
        "a fiscal code has 16 characters, or 11 digits when provisional; found 11"
    );
    let (code, v, _) = run(&[
        "fiscal-code",
        "check",
        "RSSLCU12S10E463M",
        "--today",
        "2026-11-26",
    ]);
    assert_eq!((code, v["code_kind"].as_str()), (0, Some("definitive")));
    assert!(
        v["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("birth year 12 may be 2012 or 1912")
    );
}

#[test]
fn calendar_holidays() {
    let (code, v, _) = run(&["calendar", "holidays", "2026", "--municipality", "011015"]);
    assert_eq!(code, 0);
    let dates: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    assert!(dates.contains(&"2026-03-19"));
    assert!(dates.contains(&"2026-10-04"));
    assert!(dates.contains(&"2026-04-06"));
    assert_eq!(dates.len(), 14);
    let (_, v, _) = run(&["calendar", "holidays", "2026", "--municipality", "045010"]);
    assert!(v["note"].as_str().unwrap().contains("--patron"));
}

#[test]
fn deadline_with_suspensions() {
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-02-17",
        "--days",
        "30",
        "--municipality",
        "011015",
        "--suspend",
        "information",
        "2026-02-20",
        "2026-02-25",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["deadline"]["due"], "2026-03-24");
    assert_eq!(v["deadline"]["suspended_days"], 5);
    // An instant is taken as its day in Rome: 23:30 UTC on 16 February is 17 February.
    let (_, v, _) = run(&[
        "deadline",
        "--start",
        "2026-02-16T23:30:00Z",
        "--days",
        "30",
        "--municipality",
        "011015",
    ]);
    assert_eq!(v["deadline"]["due"], "2026-03-20");
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-03-02",
        "--procedure",
        "scia",
        "--suspend",
        "scia-conform",
        "2026-03-20",
        "-",
        "--conform-days",
        "30",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["deadline"]["waiting"]["since"], "2026-03-20");
    // L. 241/1990 art. 19 c. 3: the order's 30 days end on Sunday 19 April, so the
    // measures are due Monday 20; without them the activity is prohibited.
    assert_eq!(v["deadline"]["due"], "2026-04-20");
    assert_eq!(v["deadline"]["outcome_on_expiry"], "activity_prohibited");
    // Breaking a rule is an invalid input, not a usage error.
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-03-02",
        "--procedure",
        "suap_ordinary",
        "--suspend",
        "integration",
        "2026-04-02",
        "-",
    ]);
    assert_eq!(code, 1);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("after the 30-day window")
    );
}

/// DPR 160/2010 art. 7 c. 2 and L. 241/1990 art. 20 c. 4 from the command line: the
/// decision term after the integration window, and the matter's silence-assent rule.
#[test]
fn deadline_suap_ordinary_term_and_matter() {
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-05-04",
        "--procedure",
        "suap_ordinary",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["deadline"]["counting_from"], "2026-06-03");
    assert_eq!(v["deadline"]["due"], "2026-07-03");
    assert_eq!(v["deadline"]["outcome_on_expiry"], "silence_assent");
    assert_eq!(v["matter"], "general");
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-05-04",
        "--procedure",
        "suap_ordinary",
        "--matter",
        "environment",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["deadline"]["due"], "2026-07-03");
    assert_eq!(v["deadline"]["outcome_on_expiry"], "breach");
    assert!(
        v["deadline"]["outcome_rule"]
            .as_str()
            .unwrap()
            .starts_with("L. 241/1990 art. 20 c. 4")
    );
    let (code, _, err) = run(&[
        "deadline",
        "--start",
        "2026-05-04",
        "--procedure",
        "suap_ordinary",
        "--matter",
        "tourism",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown matter tourism"), "{err}");
    let (code, _, err) = run(&[
        "deadline",
        "--start",
        "2026-05-04",
        "--procedure",
        "scia",
        "--matter",
        "health",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--matter applies only to"), "{err}");
}

/// L. 241/1990 art. 10-bis from the command line: sent and received are two dates, and
/// with no receipt recorded the clock waits.
#[test]
fn deadline_reasons_against_has_two_dates() {
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-02-02",
        "--procedure",
        "residence_check",
        "--municipality",
        "011015",
        "--reasons-against",
        "2026-03-02",
        "2026-03-05",
        "-",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["deadline"]["observation_window"]["ends"], "2026-03-16");
    assert_eq!(v["deadline"]["due"], "2026-04-02");
    assert_eq!(v["deadline"]["outcome_on_expiry"], "breach");
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-02-02",
        "--procedure",
        "residence_check",
        "--reasons-against",
        "2026-03-02",
        "-",
        "-",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        v["deadline"]["waiting"]["awaiting"],
        "the day the notice was received"
    );
    assert!(v["deadline"].get("due").is_none());
    // After the 45 days: refused, naming the rule.
    let (code, v, _) = run(&[
        "deadline",
        "--start",
        "2026-02-02",
        "--procedure",
        "residence_check",
        "--municipality",
        "011015",
        "--reasons-against",
        "2026-03-21",
        "2026-03-21",
        "-",
    ]);
    assert_eq!(code, 1);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("DPR 223/1989 art. 18-bis c. 1")
    );
    for args in [
        &["--suspend", "reasons-against", "2026-03-02", "-"][..],
        &["--suspend", "scia-conform", "2026-03-02", "-"],
        &["--reasons-against", "2026-03-02", "2026-03-40", "-"],
    ] {
        let mut all = vec!["deadline", "--start", "2026-02-02", "--days", "45"];
        all.extend_from_slice(args);
        let (code, _, err) = run(&all);
        assert_eq!(code, 2, "{all:?}");
        assert!(!err.is_empty(), "{all:?}");
    }
}

#[test]
fn hostile_input_never_panics() {
    for s in [
        "",
        " ",
        "ÈÈÈÈÈÈÈÈÈÈÈÈÈÈÈÈ",
        "0000000000000000000000",
        "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂",
        "Z:",
        ":",
        "::::",
    ] {
        for cmd in [
            &["fiscal-code", "check"][..],
            &["vat", "check"],
            &["notice", "check"],
            &["plate", "check"],
        ] {
            let mut args = cmd.to_vec();
            args.push(s);
            let (code, _, _) = run(&args);
            assert!(code == 1 || code == 2, "{args:?} -> {code}");
        }
    }
    let (code, _, _) = run(&["deadline", "--start", "9999-12-01", "--months", "3"]);
    assert_eq!(code, 1);
    let (code, _, _) = run(&["calendar", "holidays", "32767"]);
    assert_eq!(code, 2);
}
