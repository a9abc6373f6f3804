//! Occupations of public land against PostgreSQL: the database's no-overlap rule on true
//! shapes (L-shapes, shared edges, periods, revocations), the canone of a sample tariff,
//! idempotent grants, and bad input that writes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Harness, REQUESTER, SPEZIA, count, dehors, event_types, operator, rect, ring};
use sportello_proto::suap::v1::{
    GetOccupationRequest, GrantOccupationRequest, ListOccupationsRequest, LonLatBox, Occupation,
    OccupationKind, OccupationStatus, QuoteCanoneRequest, RenewOccupationRequest,
    RequestOccupationRequest, RevokeOccupationRequest, SetTariffsRequest, TariffRate,
};
use tonic::Code;
use uuid::Uuid;

impl Harness {
    async fn request(&self, request: RequestOccupationRequest) -> Occupation {
        self.occupations()
            .await
            .request_occupation(operator().request(request))
            .await
            .unwrap()
            .into_inner()
            .occupation
            .unwrap()
    }

    async fn grant(&self, id: &str) -> Result<Occupation, tonic::Status> {
        self.occupations()
            .await
            .grant_occupation(operator().request(GrantOccupationRequest {
                occupation_id: id.into(),
                idempotency_key: String::new(),
            }))
            .await
            .map(|r| r.into_inner().occupation.unwrap())
    }

    async fn request_and_grant(
        &self,
        request: RequestOccupationRequest,
    ) -> Result<Occupation, tonic::Status> {
        let requested = self.request(request).await;
        self.grant(&requested.id).await
    }
}

#[tokio::test]
async fn two_overlapping_dehors_the_second_is_refused_by_the_database_rule() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let first = h
        .request_and_grant(dehors(rect(0.0, 0.0, 4.0, 4.0), "2027-06-01", "2027-09-30"))
        .await
        .unwrap();
    assert_eq!(first.status, OccupationStatus::Granted as i32);

    let second = h
        .request(dehors(rect(2.0, 2.0, 6.0, 6.0), "2027-07-01", "2027-07-31"))
        .await;
    let refused = h.grant(&second.id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains(&first.id),
        "names the other: {}",
        refused.message()
    );
    assert!(
        refused.message().contains("database rule"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("regola del database"),
        "{}",
        refused.message()
    );

    // The second is still only requested, and no grant event was written for it.
    let still = h
        .occupations()
        .await
        .get_occupation(operator().request(GetOccupationRequest {
            occupation_id: second.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    assert_eq!(still.status, OccupationStatus::Requested as i32);
    assert!(still.canone.is_none());
    let granted = event_types(h.pool())
        .await
        .iter()
        .filter(|t| *t == "suap.occupation.granted")
        .count();
    assert_eq!(granted, 1);

    // The rule is the database's, not the flow's: a direct write is refused too.
    let direct =
        sqlx::query("update occupations set status = 'granted', canone_cents = 0 where id = $1")
            .bind(Uuid::parse_str(&second.id).unwrap())
            .execute(h.pool())
            .await
            .unwrap_err();
    assert_eq!(
        sportello_kit::db::violated_constraint(
            &direct,
            sportello_kit::db::sqlstate::EXCLUSION_VIOLATION
        ),
        Some("occupations_no_overlap")
    );
}

#[tokio::test]
async fn two_overlapping_grants_at_the_same_instant_one_wins_and_the_other_names_it() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let a = h
        .request(dehors(rect(0.0, 0.0, 4.0, 4.0), "2027-06-01", "2027-06-30"))
        .await;
    let b = h
        .request(dehors(rect(3.0, 3.0, 7.0, 7.0), "2027-06-15", "2027-07-15"))
        .await;
    let (first, second) = tokio::join!(h.grant(&a.id), h.grant(&b.id));
    let (winner, loser) = match (first, second) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        other => panic!("exactly one must win: {other:?}"),
    };
    assert_eq!(loser.code(), Code::FailedPrecondition);
    assert!(loser.message().contains(&winner.id), "{}", loser.message());
    let holding: i64 =
        sqlx::query_scalar("select count(*) from occupations where status = 'granted'")
            .fetch_one(h.pool())
            .await
            .unwrap();
    assert_eq!(holding, 1);
}

#[tokio::test]
async fn two_l_shapes_whose_bounding_boxes_overlap_are_both_granted() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    // Two L-shaped dehors around a corner table: each one's bounding box covers most of
    // the other, the shapes are 1 m apart.
    let first = ring(&[
        (0.0, 0.0),
        (10.0, 0.0),
        (10.0, 2.0),
        (2.0, 2.0),
        (2.0, 10.0),
        (0.0, 10.0),
    ]);
    let second = ring(&[
        (10.0, 10.0),
        (3.0, 10.0),
        (3.0, 8.0),
        (8.0, 8.0),
        (8.0, 3.0),
        (10.0, 3.0),
    ]);
    let a = h
        .request_and_grant(dehors(first, "2027-06-01", "2027-09-30"))
        .await
        .unwrap();
    let b = h
        .request_and_grant(dehors(second, "2027-06-01", "2027-09-30"))
        .await
        .unwrap();
    assert_eq!(a.status, OccupationStatus::Granted as i32);
    assert_eq!(b.status, OccupationStatus::Granted as i32);
    // 36 m² and 24 m² (not the 100 and 49 of their boxes).
    assert!((a.area_m2 - 36.0).abs() < 0.01, "{}", a.area_m2);
    assert!((b.area_m2 - 24.0).abs() < 0.01, "{}", b.area_m2);

    // A table in the notch of the first L, inside both boxes, touching neither L's arms.
    let notch = h
        .request_and_grant(dehors(rect(3.0, 3.0, 7.0, 7.0), "2027-06-01", "2027-09-30"))
        .await;
    assert!(notch.is_ok(), "{notch:?}");
    // But one that reaches into the first L's arm is refused, naming it.
    let into_arm = h
        .request_and_grant(dehors(rect(1.5, 3.0, 2.9, 7.0), "2027-06-01", "2027-09-30"))
        .await
        .unwrap_err();
    assert!(into_arm.message().contains(&a.id), "{}", into_arm.message());
}

#[tokio::test]
async fn two_dehors_sharing_an_edge_are_both_granted() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let left = h
        .request_and_grant(dehors(rect(0.0, 0.0, 4.0, 3.0), "2027-06-01", "2027-09-30"))
        .await;
    let right = h
        .request_and_grant(dehors(rect(4.0, 0.0, 8.0, 3.0), "2027-06-01", "2027-09-30"))
        .await;
    // Sharing part of an edge, and touching at a corner only.
    let above = h
        .request_and_grant(dehors(rect(2.0, 3.0, 6.0, 5.0), "2027-06-01", "2027-09-30"))
        .await;
    let corner = h
        .request_and_grant(dehors(
            rect(8.0, 3.0, 10.0, 5.0),
            "2027-06-01",
            "2027-09-30",
        ))
        .await;
    for granted in [&left, &right, &above, &corner] {
        assert_eq!(
            granted.as_ref().unwrap().status,
            OccupationStatus::Granted as i32
        );
    }
    // Two centimetres over the shared edge is an overlap.
    let over = h
        .request_and_grant(dehors(
            rect(3.98, 0.0, 3.99 + 0.1, 3.0),
            "2027-06-01",
            "2027-09-30",
        ))
        .await;
    assert_eq!(over.unwrap_err().code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn the_same_place_in_different_periods_is_granted_each_time() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let place = || rect(0.0, 0.0, 5.0, 4.0);
    let june = h
        .request_and_grant(dehors(place(), "2027-06-01", "2027-06-30"))
        .await
        .unwrap();
    let july = h
        .request_and_grant(dehors(place(), "2027-07-01", "2027-07-31"))
        .await;
    assert!(july.is_ok(), "back to back: {july:?}");
    // Periods include their last day: 30 June is June's.
    let overlapping = h
        .request_and_grant(dehors(place(), "2027-06-30", "2027-06-30"))
        .await
        .unwrap_err();
    assert!(
        overlapping.message().contains(&june.id),
        "{}",
        overlapping.message()
    );

    // A renewal is a new application for the same place: granted for a free period.
    let renewal = h
        .occupations()
        .await
        .renew_occupation(operator().request(RenewOccupationRequest {
            occupation_id: june.id.clone(),
            start_date: "2027-08-01".into(),
            end_date: "2027-08-31".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    assert_eq!(renewal.renews_occupation_id, june.id);
    assert_eq!(renewal.vertices, june.vertices);
    let renewed = h.grant(&renewal.id).await.unwrap();
    assert_eq!(renewed.status, OccupationStatus::Granted as i32);

    // The map of the street for the summer: all three granted, in a box around them.
    let (sw, ne) = (ring(&[(-1.0, -1.0)])[0], ring(&[(6.0, 5.0)])[0]);
    let listed = h
        .occupations()
        .await
        .list_occupations(operator().request(ListOccupationsRequest {
            municipality_istat_code: SPEZIA.into(),
            street: "via del prione".into(),
            bounds: Some(LonLatBox {
                south_west: Some(sw),
                north_east: Some(ne),
            }),
            from_date: "2027-06-15".into(),
            to_date: "2027-08-15".into(),
            statuses: vec![OccupationStatus::Granted as i32],
            page: None,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.occupations.len(), 3);
}

#[tokio::test]
async fn a_revoked_occupation_frees_the_place() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let scaffolding = RequestOccupationRequest {
        kind: OccupationKind::Scaffolding as i32,
        ..dehors(rect(0.0, 0.0, 12.0, 1.5), "2027-03-01", "2027-05-31")
    };
    let first = h.request_and_grant(scaffolding.clone()).await.unwrap();
    assert!(h.request_and_grant(scaffolding.clone()).await.is_err());

    let revoked = h
        .occupations()
        .await
        .revoke_occupation(operator().request(RevokeOccupationRequest {
            occupation_id: first.id.clone(),
            reason: "cantiere sospeso / works suspended".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    assert_eq!(revoked.status, OccupationStatus::Revoked as i32);
    let again = h.request_and_grant(scaffolding).await;
    assert!(again.is_ok(), "{again:?}");
    // A revoked one cannot be granted again.
    assert_eq!(
        h.grant(&first.id).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    assert!(
        event_types(h.pool())
            .await
            .contains(&"suap.occupation.revoked".to_owned())
    );
}

#[tokio::test]
async fn the_canone_of_a_summer_dehors_at_la_spezias_tariffs() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    // 6 m × 3.9 m = 23.4 m², billed 24 m²; zone 1 (coefficient 1.5); 1 June - 30 September
    // = 122 days at the daily €1.20 of c. 827 (30,000-100,000 residents):
    // 1.20 × 1.5 × 24 × 122 = €5,270.40.
    let granted = h
        .request_and_grant(dehors(rect(0.0, 0.0, 6.0, 3.9), "2027-06-01", "2027-09-30"))
        .await
        .unwrap();
    let canone = granted.canone.clone().unwrap();
    assert_eq!(canone.amount.unwrap().amount_minor, 527_040);
    assert_eq!(canone.billed_area_m2, 24);
    assert_eq!(canone.billed_days, 122);
    assert_eq!((canone.tariff_year, canone.tariff_version), (2027, 1));
    assert_eq!(canone.standard_tariff_cents, 120);
    assert!(!canone.permanent);

    // A new version of 2027's tariffs changes quotes, not the canone already computed.
    h.occupations()
        .await
        .set_tariffs(common::administrator().request(SetTariffsRequest {
            municipality_istat_code: SPEZIA.into(),
            year: 2027,
            population: common::SPEZIA_POPULATION,
            rates: vec![TariffRate {
                zone_category: 1,
                kind: OccupationKind::Dehors as i32,
                permanent: false,
                coefficient_milli: 2_000,
                reduction_percent: 0,
            }],
            idempotency_key: String::new(),
        }))
        .await
        .unwrap();
    let quote = h
        .occupations()
        .await
        .quote_canone(operator().request(QuoteCanoneRequest {
            municipality_istat_code: SPEZIA.into(),
            kind: OccupationKind::Dehors as i32,
            vertices: rect(0.0, 0.0, 6.0, 3.9),
            zone_category: 1,
            start_date: "2027-06-01".into(),
            end_date: "2027-09-30".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let quoted = quote.canone.unwrap();
    assert_eq!(quoted.tariff_version, 2);
    assert_eq!(quoted.amount.unwrap().amount_minor, 702_720);
    let stored = h
        .occupations()
        .await
        .get_occupation(operator().request(GetOccupationRequest {
            occupation_id: granted.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner()
        .occupation
        .unwrap();
    assert_eq!(stored.canone.unwrap().amount.unwrap().amount_minor, 527_040);
    let tables = h
        .occupations()
        .await
        .list_tariffs(
            operator().request(sportello_proto::suap::v1::ListTariffsRequest {
                municipality_istat_code: SPEZIA.into(),
                year: 0,
            }),
        )
        .await
        .unwrap()
        .into_inner()
        .tables;
    assert_eq!(tables.len(), 1, "the latest table of each year");
    assert_eq!((tables[0].year, tables[0].version), (2027, 2));
    assert_eq!(
        (
            tables[0].standard_annual_cents,
            tables[0].standard_daily_cents
        ),
        (5_000, 120)
    );

    // Paid (the payments seam calls the flow): valid, and still holding the place.
    let id = Uuid::parse_str(&granted.id).unwrap();
    let mut uow = h.db().begin().await.unwrap();
    let paid_at = uow.now();
    let valid =
        sportello_suap::occupations::flow::mark_paid(&mut uow, id, paid_at, "RT-2027-000123")
            .await
            .unwrap();
    uow.commit().await.unwrap();
    assert_eq!(valid.status, "valid");
    let clash = h
        .request_and_grant(dehors(rect(1.0, 1.0, 2.0, 2.0), "2027-07-01", "2027-07-02"))
        .await
        .unwrap_err();
    assert!(clash.message().contains(&granted.id), "{}", clash.message());
    assert!(
        event_types(h.pool())
            .await
            .contains(&"suap.occupation.validated".to_owned())
    );

    // No tariff for 2028 yet: said, not guessed.
    let next_year = h
        .request_and_grant(dehors(
            rect(20.0, 0.0, 24.0, 4.0),
            "2028-06-01",
            "2028-06-30",
        ))
        .await
        .unwrap_err();
    assert_eq!(next_year.code(), Code::FailedPrecondition);
    assert!(
        next_year.message().contains("2028"),
        "{}",
        next_year.message()
    );
}

#[tokio::test]
async fn a_grant_repeated_with_its_idempotency_key_is_answered_once() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let requested = h
        .request(dehors(rect(0.0, 0.0, 4.0, 4.0), "2027-06-01", "2027-06-30"))
        .await;
    let key = Uuid::new_v4().to_string();
    let grant = || GrantOccupationRequest {
        occupation_id: requested.id.clone(),
        idempotency_key: key.clone(),
    };
    let mut client = h.occupations().await;
    let first = client
        .grant_occupation(operator().request(grant()))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .grant_occupation(operator().request(grant()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    let granted = event_types(h.pool())
        .await
        .iter()
        .filter(|t| *t == "suap.occupation.granted")
        .count();
    assert_eq!(granted, 1);
    // Without the key, a second grant is a state error, not a second canone.
    let plain = h.grant(&requested.id).await.unwrap_err();
    assert_eq!(plain.code(), Code::FailedPrecondition);

    // The request too: one application per key.
    let key = Uuid::new_v4().to_string();
    let application = RequestOccupationRequest {
        idempotency_key: key,
        ..dehors(rect(10.0, 0.0, 14.0, 4.0), "2027-06-01", "2027-06-30")
    };
    let one = h.request(application.clone()).await;
    let two = h.request(application).await;
    assert_eq!(one.id, two.id);
}

#[tokio::test]
async fn each_bad_input_is_named_and_nothing_is_written() {
    let h = Harness::start().await;
    let good = || dehors(rect(0.0, 0.0, 4.0, 4.0), "2027-06-01", "2027-09-30");
    let before_outbox = count(h.pool(), "outbox").await;
    let cases: Vec<(&str, RequestOccupationRequest)> = vec![
        (
            "vertices",
            RequestOccupationRequest {
                vertices: ring(&[(0.0, 0.0), (4.0, 0.0), (8.0, 0.0)]),
                ..good()
            },
        ),
        (
            "vertices",
            RequestOccupationRequest {
                vertices: ring(&[(0.0, 0.0), (4.0, 0.0)]),
                ..good()
            },
        ),
        (
            "vertices",
            RequestOccupationRequest {
                vertices: ring(&[(0.0, 0.0), (4.0, 0.0), (0.0, 4.0), (4.0, 4.0)]),
                ..good()
            },
        ),
        (
            "vertices",
            RequestOccupationRequest {
                vertices: ring(&[(0.0, 0.0), (0.05, 0.0), (0.05, 3.0), (0.0, 3.0)]),
                ..good()
            },
        ),
        (
            "vertices",
            RequestOccupationRequest {
                vertices: vec![
                    sportello_proto::suap::v1::LonLat {
                        longitude: 9.82,
                        latitude: 95.0,
                    },
                    sportello_proto::suap::v1::LonLat {
                        longitude: 9.83,
                        latitude: 44.0,
                    },
                    sportello_proto::suap::v1::LonLat {
                        longitude: 9.83,
                        latitude: 44.1,
                    },
                ],
                ..good()
            },
        ),
        (
            "end_date",
            RequestOccupationRequest {
                end_date: "2027-05-31".into(),
                ..good()
            },
        ),
        (
            "start_date",
            RequestOccupationRequest {
                start_date: "2027-13-01".into(),
                ..good()
            },
        ),
        ("kind", RequestOccupationRequest { kind: 0, ..good() }),
        ("kind", RequestOccupationRequest { kind: 42, ..good() }),
        (
            "zone_category",
            RequestOccupationRequest {
                zone_category: 0,
                ..good()
            },
        ),
        (
            "street",
            RequestOccupationRequest {
                street: " ".into(),
                ..good()
            },
        ),
        (
            "requester_ref",
            RequestOccupationRequest {
                requester_ref: "MRARSS80A01E463X".into(),
                ..good()
            },
        ),
        (
            "business_id",
            RequestOccupationRequest {
                business_id: Uuid::now_v7().to_string(),
                requester_ref: String::new(),
                ..good()
            },
        ),
        (
            "municipality_istat_code",
            RequestOccupationRequest {
                municipality_istat_code: "11015".into(),
                ..good()
            },
        ),
    ];
    let mut client = h.occupations().await;
    for (field, request) in cases {
        let status = client
            .request_occupation(operator().request(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            status.message().starts_with(field),
            "{field}: {}",
            status.message()
        );
    }
    assert_eq!(count(h.pool(), "occupations").await, 0);
    assert_eq!(count(h.pool(), "outbox").await, before_outbox);

    // Tariffs: bad rows are named by index, and only administrators publish.
    let bad_rate = SetTariffsRequest {
        municipality_istat_code: SPEZIA.into(),
        year: 2027,
        population: 92_659,
        rates: vec![TariffRate {
            zone_category: 1,
            kind: OccupationKind::Dehors as i32,
            permanent: false,
            coefficient_milli: 0,
            reduction_percent: 0,
        }],
        idempotency_key: String::new(),
    };
    let status = client
        .set_tariffs(common::administrator().request(bad_rate.clone()))
        .await
        .unwrap_err();
    assert!(
        status.message().starts_with("rates[0].coefficient_milli"),
        "{}",
        status.message()
    );
    let status = client
        .set_tariffs(operator().request(bad_rate))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(count(h.pool(), "occupation_tariff_tables").await, 0);
}

#[tokio::test]
async fn every_transition_is_published_through_the_outbox_with_ids_only() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let granted = h
        .request_and_grant(dehors(rect(0.0, 0.0, 4.0, 4.0), "2027-06-01", "2027-06-30"))
        .await
        .unwrap();
    let mut uow = h.db().begin().await.unwrap();
    let paid_at = uow.now();
    let id = Uuid::parse_str(&granted.id).unwrap();
    sportello_suap::occupations::flow::mark_paid(&mut uow, id, paid_at, "RT-1")
        .await
        .unwrap();
    uow.commit().await.unwrap();
    h.occupations()
        .await
        .revoke_occupation(operator().request(RevokeOccupationRequest {
            occupation_id: granted.id.clone(),
            reason: "revoca / revoked".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap();
    assert_eq!(
        event_types(h.pool()).await,
        [
            "suap.occupation.tariffs_published",
            "suap.occupation.requested",
            "suap.occupation.granted",
            "suap.occupation.validated",
            "suap.occupation.revoked",
        ]
    );
    let payloads: Vec<Vec<u8>> = sqlx::query_scalar("select payload from outbox")
        .fetch_all(h.pool())
        .await
        .unwrap();
    for payload in payloads {
        let text = String::from_utf8_lossy(&payload);
        assert!(
            !text.contains(REQUESTER) && !text.contains("Prione"),
            "{text}"
        );
    }
    h.suap.running.workers.relay.run_once().await.unwrap();
    assert_eq!(
        count(h.pool(), "outbox where published_at is null").await,
        0
    );
}

#[tokio::test]
async fn a_registered_business_applies_by_its_id() {
    use sportello_proto::{
        common::v1::Address,
        suap::v1::{RegisterBusinessRequest, business_service_client::BusinessServiceClient},
    };
    let h = Harness::start().await;
    let business = BusinessServiceClient::new(h.suap.channel().await)
        .register_business(operator().request(RegisterBusinessRequest {
            municipality_istat_code: SPEZIA.into(),
            vat_number: "01234560116".into(),
            legal_name: "Trattoria del Prione S.n.c.".into(),
            ateco_code: "56.10.11".into(),
            registered_office: Some(Address {
                street_name: "Via del Prione".into(),
                house_number: "42".into(),
                postal_code: "19121".into(),
                ..Default::default()
            }),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner()
        .business
        .unwrap();
    let requested = h
        .request(RequestOccupationRequest {
            business_id: business.id.clone(),
            requester_ref: String::new(),
            ..dehors(rect(0.0, 0.0, 4.0, 4.0), "2027-06-01", "2027-06-30")
        })
        .await;
    assert_eq!(requested.business_id, business.id);
    assert!(requested.requester_ref.is_empty());
    assert_eq!(requested.status, OccupationStatus::Requested as i32);
}

/// A temporary occupation expires the day after its last day (a durable timer), saying so
/// in an event; a revoked one and a permanent one do not.
#[tokio::test]
async fn a_temporary_occupation_expires_the_day_after_its_last_day() {
    let h = Harness::start().await;
    h.spezia_tariffs_2027().await;
    let summer = h
        .request_and_grant(dehors(rect(0.0, 0.0, 6.0, 4.0), "2027-05-01", "2027-08-31"))
        .await
        .unwrap();
    let revoked = h
        .request_and_grant(dehors(
            rect(20.0, 0.0, 26.0, 4.0),
            "2027-05-01",
            "2027-08-31",
        ))
        .await
        .unwrap();
    h.occupations()
        .await
        .revoke_occupation(operator().request(RevokeOccupationRequest {
            occupation_id: revoked.id.clone(),
            reason: "rinuncia / withdrawn".into(),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap();
    let permanent = h
        .request_and_grant(dehors(rect(40.0, 0.0, 46.0, 4.0), "2027-05-01", ""))
        .await
        .unwrap();
    let h = &h;
    let status = |id: String| async move {
        h.occupations()
            .await
            .get_occupation(operator().request(GetOccupationRequest { occupation_id: id }))
            .await
            .unwrap()
            .into_inner()
            .occupation
            .unwrap()
            .status
    };

    // The last day: still granted.
    h.ctx
        .clock
        .set("2027-08-31T21:59:00Z".parse::<jiff::Timestamp>().unwrap());
    h.suap.running.workers.timers.run_once().await.unwrap();
    assert_eq!(
        status(summer.id.clone()).await,
        OccupationStatus::Granted as i32
    );
    // Midnight in Rome (CEST): expired.
    h.ctx
        .clock
        .set("2027-08-31T22:00:00Z".parse::<jiff::Timestamp>().unwrap());
    h.suap.running.workers.timers.run_once().await.unwrap();
    assert_eq!(
        status(summer.id.clone()).await,
        OccupationStatus::Expired as i32
    );
    assert_eq!(
        status(revoked.id.clone()).await,
        OccupationStatus::Revoked as i32
    );
    assert_eq!(
        status(permanent.id.clone()).await,
        OccupationStatus::Granted as i32
    );
    let expired: Vec<String> = event_types(h.pool())
        .await
        .into_iter()
        .filter(|e| e == "suap.occupation.expired")
        .collect();
    assert_eq!(expired.len(), 1);
}
