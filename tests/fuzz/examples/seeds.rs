//! Writes the fuzz corpus's seeds: real valid and near-valid inputs for every target
//! (fiscal codes with omocodia, plates of each kind, notice numbers with their check
//! digits, the gateway's request bodies, the public RPCs' requests), under
//! `fuzz/corpus/<target>/seed-*`. Run once, before the fuzzer grows the corpus:
//! `cargo run -p sportello-fuzz --example seeds`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::{fs, path::Path};

use jiff::civil::date;
use prost::Message;
use sportello_pa::{
    BelfioreCode, CodiceFiscale, NoticeNumber, Sex,
    fiscal_code::{Person, encode},
    vat,
};
use sportello_proto::{
    common::v1::{Address, Channel},
    education::v1 as education,
    mobility::v1 as mobility,
    registry::v1 as registry,
    routing::v1 as routing,
    suap::v1 as suap,
    urp::v1 as urp,
};

const ISTAT: &str = "011015";
const CF: &str = "RSSMRA85T10A562S";
const UUID: &str = "0190f1c2-7b3a-7cde-8f00-123456789abc";
const RR: &str = "rr_0123456789abcdef0123456789abcdef";

fn write(target: &str, seeds: &[Vec<u8>]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    fs::create_dir_all(&dir).unwrap();
    for (i, seed) in seeds.iter().enumerate() {
        fs::write(dir.join(format!("seed-{i:03}")), seed).unwrap();
    }
    println!("{target}: {} seeds", seeds.len());
}

fn texts(items: &[String]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// Message `m` behind the selector byte `which`.
fn pick(which: u8, m: &impl Message) -> Vec<u8> {
    let mut out = vec![which];
    out.extend(m.encode_to_vec());
    out
}

fn fiscal_codes() -> Vec<String> {
    let mut out = vec![CF.to_owned(), CF.to_lowercase(), format!("  {CF} ")];
    let people = [
        ("Rossi", "Mario", Sex::Male, date(1985, 12, 10), "A562"),
        (
            "Bianchi",
            "Anna Maria",
            Sex::Female,
            date(2001, 2, 28),
            "E463",
        ),
        ("D'Amico", "Lu", Sex::Female, date(1960, 7, 1), "H501"),
        ("Ng", "Wu", Sex::Male, date(2012, 2, 29), "Z210"),
        ("Esposito", "Giuseppe", Sex::Male, date(1930, 1, 31), "F839"),
    ];
    for (surname, name, sex, birth_date, place) in people {
        let code = encode(&Person {
            surname,
            name,
            sex,
            birth_date,
            birthplace: place.parse::<BelfioreCode>().unwrap(),
        })
        .unwrap();
        out.push(code.to_string());
        out.extend(
            code.omocodia_variants()
                .iter()
                .map(CodiceFiscale::to_string),
        );
        out.push(format!("{surname}|{name}"));
    }
    // Near-valid: a wrong check character, 31 February, a month letter that is none,
    // omocodia out of order, provisional codes (a VAT number's shape) right and wrong.
    out.extend(
        [
            "RSSMRA85T10A562T",
            "RSSMRA85B31A562X",
            "RSSMRA85Q10A562S",
            "RSSMRA85T1LA562S",
            "RSSMRA8RT10A562S",
            "RSSMRA85T10A562",
            "RSSMRA85T10A562SS",
            "RSSMRÀ85T10A562S",
            "00743110157",
            "00743110158",
            "0074311015",
        ]
        .map(String::from),
    );
    out
}

fn plates() -> Vec<String> {
    [
        "AB123CD",
        "ab 123 cd",
        "AB-123-CD",
        "YA123AB",
        "XA123AB",
        "AB12345",
        "X2B3C4",
        "X23456",
        "SP123456",
        "SP A12345",
        "ROMA A12345",
        "ROMA 123456",
        "EE123AB",
        "CD1234AB",
        "CC12345",
        "PTA12345",
        "EI AA 123",
        "AM AB 123",
        "MM 123 AB",
        "CC AB 123",
        "POLIZIA A1234",
        "GdiF 123 AB",
        "VF 12345",
        "CRI 123 AB",
        "CH:ZH12345",
        "D:B-AB1234",
        "F:AB-123-CD",
        "ZZZZ:1",
        ":AB123",
        "AI123CD",
        "AB123CI",
        "",
        " ",
        "A",
        "ABCDEFGHIJK",
    ]
    .map(String::from)
    .to_vec()
}

fn notice_numbers() -> Vec<String> {
    let mut out = Vec::new();
    for n in [
        NoticeNumber::build_aux3("01", "1234567890123"),
        NoticeNumber::build_aux0("12", "1"),
        NoticeNumber::build_aux2("123456789012345"),
    ] {
        let n = n.unwrap().to_string();
        let spaced: String = n
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(" ");
        out.extend([n.clone(), spaced, format!("{}00", &n[..16])]);
    }
    out.extend(
        [
            "101234567890123456",
            "401234567890123456",
            "01|1234567890123",
            "12|1",
            "1234",
        ]
        .map(String::from),
    );
    out
}

fn vat_numbers() -> Vec<String> {
    let mut out = Vec::new();
    for first10 in [
        [0, 0, 7, 4, 3, 1, 1, 0, 1, 5],
        [1, 2, 3, 4, 5, 6, 7, 0, 0, 1],
    ] {
        let check = vat::check_digit(&first10);
        let digits: String = first10.iter().map(|d| char::from(b'0' + d)).collect();
        out.push(format!("{digits}{check}"));
        out.push(format!("{digits}{}", (check + 1) % 10));
        out.push(format!("IT{digits}{check}"));
    }
    out.extend(["00000000000", "1234567890", "123456789012"].map(String::from));
    out
}

fn belfiore() -> Vec<String> {
    [
        "E463",
        "e463",
        "H501",
        "A562",
        "Z404",
        "Z210",
        "F839",
        "A000",
        "ZZZZ",
        "E46",
        "La Spezia (SP)",
        "Roma",
        "Sant'Agata de' Goti",
        "Germania",
        "011015",
        "058091",
    ]
    .map(String::from)
    .to_vec()
}

fn http_bodies() -> Vec<Vec<u8>> {
    let bodies: [(u8, serde_json::Value); 11] = [
        (
            0,
            serde_json::json!({"service_codes": ["registry.residence_certificate"], "priority_category": "elderly", "idempotency_key": UUID}),
        ),
        (
            1,
            serde_json::json!({"fiscal_code": CF, "type": "residence", "use": "uso amministrativo", "exemption_code": ""}),
        ),
        (
            2,
            serde_json::json!({"window_id": UUID, "child_fiscal_code": "BNCNMR01B68E463R", "applicant_fiscal_code": CF, "applicant_name": "Mario Rossi", "working_parents": 2, "siblings_enrolled": "1", "disability_certified": false, "isee_value_cents": 1500000, "dsu_protocol": "INPS-ISEE-2026-00001", "idempotency_key": UUID}),
        ),
        (
            3,
            serde_json::json!({"origin": "within", "members": [{"fiscal_code": CF, "relationship": "head", "surname": "Rossi", "given_names": "Mario", "sex": "M", "birth_date": "1985-12-10", "birthplace_code": "A562", "citizenship": "IT"}], "declarant": 0, "address": {"street_code": "00123", "house_number": "12/B"}, "site": "palazzo-civico", "dwelling_title": "owner", "dwelling_title_reference": "atto 2020"}),
        ),
        (
            4,
            serde_json::json!({"code": "palazzo-civico", "name": "Palazzo civico", "street": "Piazza Europa", "house_number": "1", "postal_code": "19124", "counter_count": 6}),
        ),
        (
            5,
            serde_json::json!({"business_id": UUID, "procedure_code": "suap.dehors", "subject": "Dehors", "mandate": "signed_form", "mandate_reference": "2026-12-01", "documents": [], "occupation": {"kind": "dehors", "street": "Via Prione", "zone_category": 1, "start_date": "2027-01-01", "end_date": "2027-06-30", "vertices": [{"longitude": 9.82, "latitude": 44.10}, {"longitude": 9.821, "latitude": 44.10}, {"longitude": 9.821, "latitude": 44.101}]}}),
        ),
        (
            6,
            serde_json::json!([{"checklist_item": "scia_form", "media_type": "application/pdf", "content_base64": "JVBERi0xLjcKJeLjz9MK"}, {"checklist_item": "occupation_plan", "media_type": "image/png", "content_base64": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}]),
        ),
        (
            7,
            serde_json::json!({"service_code": "registry.residence_certificate", "site": "palazzo-civico", "start_time": "2026-12-09T08:30:00Z", "fiscal_code": CF, "email": "mario.rossi@example.org", "idempotency_key": UUID}),
        ),
        (8, serde_json::json!({"ticket": "B017"})),
        (8, serde_json::json!({"ticket": UUID})),
        (
            9,
            serde_json::json!({"display_name": "Anna Bianchi", "tier": "2", "department": "anagrafe", "skills": [{"service_code": "registry.residence_certificate", "level": 3}]}),
        ),
    ];
    let mut out: Vec<Vec<u8>> = bodies
        .iter()
        .map(|(which, body)| {
            let mut b = vec![*which];
            b.extend(serde_json::to_vec(body).unwrap());
            b
        })
        .collect();
    // Near-valid: a wrong type, a body cut short, not JSON, nothing.
    out.push(b"\x00{\"service_codes\": \"registry\"}".to_vec());
    out.push(b"\x04{\"code\": \"palazzo-civico\", \"counter_count\": -1".to_vec());
    out.push(b"\x01not json".to_vec());
    out.push(b"\x02".to_vec());
    out
}

fn grpc_routing() -> Vec<Vec<u8>> {
    vec![
        pick(
            0,
            &routing::OpenCaseRequest {
                municipality_istat_code: ISTAT.into(),
                service_code: "registry.residence_certificate".into(),
                channel: Channel::Counter as i32,
                site_id: UUID.into(),
                requester_ref: RR.into(),
                idempotency_key: UUID.into(),
                ..Default::default()
            },
        ),
        pick(
            0,
            &routing::OpenCaseRequest {
                municipality_istat_code: ISTAT.into(),
                service_code: "suap.dehors".into(),
                channel: Channel::Web as i32,
                tier: 4,
                ..Default::default()
            },
        ),
        pick(
            1,
            &routing::IssueTicketRequest {
                site_id: UUID.into(),
                service_codes: vec!["registry.residence_certificate".into(), "urp.info".into()],
                priority_category: 2,
                requester_ref: String::new(),
                idempotency_key: UUID.into(),
            },
        ),
        pick(
            2,
            &routing::CallNextRequest {
                operator_id: "anna.bianchi".into(),
            },
        ),
        pick(
            3,
            &routing::CallTicketRequest {
                operator_id: "op-1".into(),
                ticket: "B017".into(),
            },
        ),
        pick(
            4,
            &routing::GetCaseRequest {
                case_id: UUID.into(),
            },
        ),
        pick(
            5,
            &routing::ParkRequest {
                operator_id: "op-1".into(),
                case_id: UUID.into(),
                reason: "documento mancante".into(),
            },
        ),
        pick(
            6,
            &routing::TransferRequest {
                operator_id: "op-1".into(),
                case_id: UUID.into(),
                ..Default::default()
            },
        ),
        pick(
            7,
            &routing::CompleteRequest {
                operator_id: "op-1".into(),
                case_id: UUID.into(),
                outcome_code: "issued".into(),
                ..Default::default()
            },
        ),
        pick(
            8,
            &routing::CompleteWorkRequest {
                item_id: UUID.into(),
                operator_id: "op-1".into(),
                outcome_code: "approved".into(),
                ..Default::default()
            },
        ),
        pick(
            9,
            &routing::RegisterIncomingRequest {
                municipality_istat_code: ISTAT.into(),
                kind: 1,
                sender_ref: RR.into(),
                subject: "Istanza di dehors".into(),
                document_sha256: "a".repeat(64),
                channel: Channel::Web as i32,
                case_id: UUID.into(),
                sender_name: "Mario Rossi".into(),
                ..Default::default()
            },
        ),
        pick(
            10,
            &routing::CreateSiteRequest {
                municipality_istat_code: ISTAT.into(),
                code: "palazzo-civico".into(),
                name: "Palazzo civico".into(),
                address: Some(Address {
                    street_name: "Piazza Europa".into(),
                    house_number: "1".into(),
                    postal_code: "19124".into(),
                    ..Default::default()
                }),
                counter_count: 6,
                ..Default::default()
            },
        ),
    ]
}

fn grpc_registry() -> Vec<Vec<u8>> {
    use registry::issue_certificate_request::Person as P;
    let issue = registry::IssueCertificateRequest {
        municipality_istat_code: ISTAT.into(),
        person: Some(P::FiscalCode(CF.into())),
        r#type: 1,
        r#use: "uso amministrativo".into(),
        responsible_official: "Anna Bianchi".into(),
        case_id: UUID.into(),
        applicant_ref: RR.into(),
        idempotency_key: UUID.into(),
        ..Default::default()
    };
    vec![
        pick(0, &issue),
        pick(
            0,
            &registry::IssueCertificateRequest {
                person: Some(P::ResidentId(UUID.into())),
                exemption_code: "AS".into(),
                r#use: String::new(),
                ..issue.clone()
            },
        ),
        pick(
            1,
            &registry::IssueCertificateRequest {
                person: Some(P::RequesterRef(RR.into())),
                stamp_duty_payment: 2,
                stamp_duty_reference: "01234567890123".into(),
                ..issue.clone()
            },
        ),
        pick(
            2,
            &registry::GetCertificateRequest {
                certificate_id: UUID.into(),
                case_id: UUID.into(),
            },
        ),
        pick(
            3,
            &registry::VerifyCertificateRequest {
                verification_code: "7KQ2-M9XD-4RTA-0PWE".into(),
                document_sha256: "b".repeat(64),
            },
        ),
        pick(
            4,
            &registry::RegisterResidentRequest {
                municipality_istat_code: ISTAT.into(),
                fiscal_code: CF.into(),
                surname: "Rossi".into(),
                given_names: "Mario".into(),
                sex: 1,
                birth_date: "1985-12-10".into(),
                birthplace_code: "A562".into(),
                citizenship: "IT".into(),
                effective_date: "2026-12-01".into(),
                relationship: 1,
                ..Default::default()
            },
        ),
        pick(
            5,
            &registry::DeclareImmigrationRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(
            6,
            &registry::DeclareResidenceChangeRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(7, &registry::RecordAddressCheckRequest::default()),
        pick(8, &registry::SendReasonsAgainstRequest::default()),
        pick(9, &registry::RecordNoticeReceiptRequest::default()),
        pick(10, &registry::RecordObservationsRequest::default()),
        pick(11, &registry::AnswerObservationsRequest::default()),
        pick(
            12,
            &registry::RegisterStreetRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
    ]
}

fn grpc_education() -> Vec<Vec<u8>> {
    vec![
        pick(
            0,
            &education::FileApplicationRequest {
                window_id: UUID.into(),
                child_fiscal_code: "BNCNMR21B68E463R".into(),
                applicant_fiscal_code: CF.into(),
                applicant_name: "Mario Rossi".into(),
                working_parents: 2,
                siblings_enrolled: 1,
                isee_value_cents: Some(1_500_000),
                dsu_protocol: "INPS-ISEE-2026-00001".into(),
                channel: Channel::Counter as i32,
                ..Default::default()
            },
        ),
        pick(
            1,
            &education::OpenWindowRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(
            2,
            &education::RegisterSchoolRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(
            3,
            &education::SetFeeScheduleRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(
            4,
            &education::SubscribeRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
    ]
}

fn grpc_suap() -> Vec<Vec<u8>> {
    vec![
        pick(
            0,
            &suap::RegisterBusinessRequest {
                municipality_istat_code: ISTAT.into(),
                vat_number: "00743110157".into(),
                legal_name: "Bar Prione s.r.l.".into(),
                ateco_code: "56.30.00".into(),
                registered_office: Some(Address {
                    street_name: "Via Prione".into(),
                    house_number: "10".into(),
                    postal_code: "19121".into(),
                    ..Default::default()
                }),
                idempotency_key: UUID.into(),
            },
        ),
        pick(
            1,
            &suap::FileApplicationRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(
            2,
            &suap::RequestOccupationRequest {
                municipality_istat_code: ISTAT.into(),
                vertices: vec![
                    suap::LonLat {
                        longitude: 9.82,
                        latitude: 44.10,
                    },
                    suap::LonLat {
                        longitude: 9.821,
                        latitude: 44.10,
                    },
                    suap::LonLat {
                        longitude: 9.821,
                        latitude: 44.101,
                    },
                ],
                ..Default::default()
            },
        ),
        pick(
            3,
            &suap::QuoteCanoneRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
    ]
}

fn grpc_mobility() -> Vec<Vec<u8>> {
    let plates = vec![mobility::PlateInput {
        plate: "AB123CD".into(),
        kind: String::new(),
    }];
    vec![
        pick(
            0,
            &mobility::IssueBadgeRequest {
                municipality_istat_code: ISTAT.into(),
                holder_fiscal_code: CF.into(),
                certification_reference: "ASL5-2026-123".into(),
                permanent: true,
                plates: plates.clone(),
                channel: Channel::Counter as i32,
                ..Default::default()
            },
        ),
        pick(
            1,
            &mobility::IssuePermitRequest {
                municipality_istat_code: ISTAT.into(),
                zone_code: "ZTL1".into(),
                kind: 1,
                holder_fiscal_code: CF.into(),
                holder_name: "Mario Rossi".into(),
                plates,
                valid_from: "2027-01-01".into(),
                days: 365,
                channel: Channel::Counter as i32,
                idempotency_key: UUID.into(),
            },
        ),
        pick(
            2,
            &mobility::CheckTransitRequest {
                municipality_istat_code: ISTAT.into(),
                zone_code: "ZTL1".into(),
                plate: "AB123CD".into(),
                ..Default::default()
            },
        ),
        pick(
            2,
            &mobility::CheckTransitRequest {
                plate: "CH:ZH12345".into(),
                ..Default::default()
            },
        ),
    ]
}

fn grpc_urp() -> Vec<Vec<u8>> {
    vec![
        pick(
            0,
            &urp::SubmitFeedbackRequest {
                municipality_istat_code: ISTAT.into(),
                service_code: "registry.residence_certificate".into(),
                channel: Channel::Counter as i32,
                rating: 4,
                comment: "Veloce".into(),
                ..Default::default()
            },
        ),
        pick(1, &urp::GetRateableCaseRequest::default()),
        pick(
            2,
            &urp::GetSatisfactionReportRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(
            3,
            &urp::FileAccessRequest {
                municipality_istat_code: ISTAT.into(),
                ..Default::default()
            },
        ),
        pick(4, &urp::PublishAnswerRequest::default()),
        pick(
            5,
            &urp::SearchAnswersRequest {
                municipality_istat_code: ISTAT.into(),
                query: "certificato di residenza".into(),
                limit: 10,
            },
        ),
        pick(6, &urp::DefineCategoryRequest::default()),
        pick(
            7,
            &urp::FileReportRequest {
                municipality_istat_code: ISTAT.into(),
                category_code: "buche".into(),
                description: "Buca in via Prione".into(),
                channel: Channel::Web as i32,
                ..Default::default()
            },
        ),
        pick(8, &urp::ReplyToReportRequest::default()),
    ]
}

fn main() {
    write("fiscal_code", &texts(&fiscal_codes()));
    write("plate", &texts(&plates()));
    write("notice_number", &texts(&notice_numbers()));
    write("vat", &texts(&vat_numbers()));
    write("belfiore", &texts(&belfiore()));
    write("http_body", &http_bodies());
    write("grpc_routing", &grpc_routing());
    write("grpc_registry", &grpc_registry());
    write("grpc_education", &grpc_education());
    write("grpc_suap", &grpc_suap());
    write("grpc_mobility", &grpc_mobility());
    write("grpc_urp", &grpc_urp());
}
