//! Two journeys of the mixed load beside the counter's: appointments (booked by the
//! information desk on a citizen's behalf, checked in on arrival) and a department
//! procedure (a SUAP filing at the business desk, handed to routing's back office).
//!
//! The stack is prepared for them once, as a municipality's administrator would through
//! the gateway: booking rules that let a citizen arrive up to two hours early, calendars
//! open all day at both sites with one operator per counter (so a slot is 20 minutes and
//! ten can be held at once), and the business the desk files for.
//!
//! Online booking (the citizen's own page) needs the e-mailed confirmation code and so an
//! SMTP server, which routing refuses to go without (UNAVAILABLE, "SMTP_URL"): the booking
//! on the citizen's behalf is the same `Book` call, confirmed at once, and needs none.

use std::sync::atomic::Ordering;

use base64::Engine;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::load::{Journey, Load, Record, Session, acknowledged};

/// The service booked: an identity card, at a tier-2 anagrafe counter.
pub const BOOKED_SERVICE: &str = "registry.identity_card";

/// How early a citizen may check in (the rules' most): bookings this close are checked
/// in at once.
const EARLY: SignedDuration = SignedDuration::from_mins(120);

/// The demo's sites and their counters: one appointment operator per counter.
const SITES: [(&str, u32); 2] = [("palazzo-civico", 6), ("via-costantini", 4)];

/// Where the kiosk stands; elsewhere the information desk checks citizens in.
const KIOSK_SITE: &str = "palazzo-civico";

/// The business the desk files for (a VAT number with a valid check digit).
const VAT: &str = "01234560116";

/// The SCIA filed: opening a neighbourhood shop, whose control is back-office work.
pub const FILED_PROCEDURE: &str = "commercio.vicinato_apertura";

/// A minimal PDF (the SUAP checks the %PDF- signature).
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

impl Load {
    /// Prepares the stack for the appointment and SUAP journeys (idempotent: a second
    /// call sets the same again).
    pub async fn prepare(&self) -> Result<(), String> {
        let admin = self.sign_in("admin").await?;
        let rules = self
            .expect_ok(&admin, "GET", "/api/v1/admin/booking-rules", None)
            .await?;
        let rules = &rules["rules"];
        let body = json!({
            "buffer_minutes": 0,
            "max_open_per_service": 10,
            "max_per_person_per_day": 10,
            "max_per_source_per_day": 10_000,
            "max_per_email_per_day": 100,
            "release_days_ahead": 30,
            "release_time": rules["release_time"],
            "release_tranches": 1,
            "tranche_interval_minutes": 60,
            "confirm_minutes": 15,
            "check_in_early_minutes": EARLY.as_mins(),
            "check_in_late_minutes": 60,
            "waitlist_offer_minutes": 120,
            "version": rules["version"],
        });
        self.expect_ok(&admin, "PUT", "/api/v1/admin/booking-rules", Some(&body))
            .await?;
        let all_day = |d: u32| json!({"weekday": d, "opens": "00:00", "closes": "23:59"});
        let mut n = 0;
        for (site, counters) in SITES {
            let hours =
                json!({"service_group": "", "hours": (1..=7).map(all_day).collect::<Vec<_>>()});
            self.expect_ok(
                &admin,
                "PUT",
                &format!("/api/v1/admin/sites/{site}/appointment-hours"),
                Some(&hours),
            )
            .await?;
            for counter in 1..=counters {
                n += 1;
                let operator = format!("chaos.anagrafe{n}");
                let profile = json!({
                    "display_name": format!("Sportello anagrafe {n}"),
                    "tier": 2,
                    "department": "anagrafe",
                    "skills": [{"skill": "anagrafe", "proficiency": 3}],
                });
                self.expect_ok(
                    &admin,
                    "PUT",
                    &format!("/api/v1/admin/operators/{operator}"),
                    Some(&profile),
                )
                .await?;
                let blocks: Vec<Value> = (1..=7)
                    .map(|d| {
                        json!({"weekday": d, "starts": "00:00", "ends": "23:59",
                               "site": site, "counter_number": counter})
                    })
                    .collect();
                self.expect_ok(
                    &admin,
                    "PUT",
                    &format!("/api/v1/admin/operators/{operator}/schedule"),
                    Some(&json!({ "blocks": blocks })),
                )
                .await?;
            }
        }

        let desk = self.sign_in("tec.neri").await?;
        let mut attempts = 0;
        let found = self
            .call(
                &desk,
                "GET",
                &format!("/api/v1/suap/businesses?vat_number={VAT}"),
                None,
                &mut attempts,
            )
            .await
            .ok_or("SUAP business lookup: no answer")?;
        let business = if found.status == 200 {
            serde_json::from_str::<Value>(&found.body).map_err(|e| e.to_string())?
        } else {
            let body = json!({
                "vat_number": VAT,
                "legal_name": "Bottega della prova S.n.c.",
                "ateco_code": "47.11",
                "registered_office": {"street_name": "Via del Prione", "house_number": "42",
                                      "postal_code": "19121"},
                "idempotency_key": Uuid::new_v4().to_string(),
            });
            self.expect_ok(&desk, "POST", "/api/v1/suap/businesses", Some(&body))
                .await?
        };
        let id = business["business"]["id"]
            .as_str()
            .ok_or_else(|| format!("no business id in {business}"))?;
        if let Ok(mut slot) = self.business.lock() {
            *slot = Some(id.to_owned());
        }
        Ok(())
    }

    /// One call that must succeed (2xx), its body as JSON.
    async fn expect_ok(
        &self,
        session: &Session,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut attempts = 0;
        let reply = self
            .call(session, method, path, body, &mut attempts)
            .await
            .ok_or_else(|| format!("{method} {path}: no answer"))?;
        if !(200..300).contains(&reply.status) {
            return Err(format!("{method} {path}: {} {}", reply.status, reply.body));
        }
        serde_json::from_str(&reply.body).map_err(|e| format!("{method} {path}: {e}"))
    }

    /// The information desk books the earliest free slot for a resident, one after the
    /// other; a booking whose time is within the check-in window is checked in at once —
    /// at the kiosk where there is one, by the desk elsewhere.
    pub(super) async fn appointments(
        &self,
        desk: Session,
        kiosk: Session,
        stop: CancellationToken,
    ) {
        while !stop.is_cancelled() {
            self.book_one(&desk, &kiosk).await;
            tokio::select! {
                () = tokio::time::sleep(self.rate.ticket_every * 20) => {}
                () = stop.cancelled() => {}
            }
        }
    }

    async fn book_one(&self, desk: &Session, kiosk: &Session) {
        let mut attempts = 0;
        let Some(found) = self
            .call(
                desk,
                "GET",
                &format!("/api/v1/appointments/slots?service={BOOKED_SERVICE}&days=7"),
                None,
                &mut attempts,
            )
            .await
        else {
            return;
        };
        let earliest = serde_json::from_str::<Value>(&found.body)
            .ok()
            .and_then(|v| v["slots"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| {
                let start: Timestamp = s["start_time"].as_str()?.parse().ok()?;
                Some((start, s["site"].as_str()?.to_owned()))
            })
            .min();
        let Some((start, site)) = earliest else {
            self.ledger.note(
                &self.ledger.failed,
                format!("no free {BOOKED_SERVICE} slot in a week: {}", found.status),
            );
            return;
        };
        let residents = &self.people.residents;
        let n = self.booked.fetch_add(1, Ordering::Relaxed);
        let fiscal_code = &residents[n % residents.len().max(1)];
        let key = Uuid::new_v4();
        let body = json!({
            "service_code": BOOKED_SERVICE,
            "site": site,
            "start_time": start.to_string(),
            "fiscal_code": fiscal_code,
            "idempotency_key": key.to_string(),
        });
        let mut attempts = 0;
        let reply = self
            .call(
                desk,
                "POST",
                "/api/v1/appointments/on-behalf",
                Some(&body),
                &mut attempts,
            )
            .await;
        let body_of = reply.as_ref().map(|r| r.body.clone()).unwrap_or_default();
        let (status, code) = acknowledged(reply, 201, |v| v["booking"]["code"].as_str());
        // 409: the slot went between the search and the booking (it cannot here: the desk
        // is the only one booking) — or a retried booking answered "taken" instead of
        // with its own reply: a finding either way.
        if status != 201 && status != 0 {
            self.ledger.note(
                &self.ledger.failed,
                format!("booking (attempt {attempts}): {status} {body_of}"),
            );
        }
        self.ledger.push(Record {
            journey: Journey::Booking,
            key,
            id: code.clone(),
            attempts,
            status,
        });
        let Some(code) = code else {
            return;
        };
        if start.duration_since(Timestamp::now()) > EARLY - SignedDuration::from_mins(2) {
            return;
        }
        let session = if site == KIOSK_SITE { kiosk } else { desk };
        let mut attempts = 0;
        let reply = self
            .call(
                session,
                "POST",
                &format!("/api/v1/sites/{site}/check-in"),
                Some(&json!({ "code": code })),
                &mut attempts,
            )
            .await;
        let body_of = reply.as_ref().map(|r| r.body.clone()).unwrap_or_default();
        let (status, label) = acknowledged(reply, 200, |v| v["ticket_label"].as_str());
        if status != 200 && status != 0 {
            self.ledger
                .note(&self.ledger.failed, format!("check-in: {status} {body_of}"));
        }
        self.ledger.push(Record {
            journey: Journey::CheckIn,
            key: Uuid::new_v4(),
            id: label.map(|_| code),
            attempts,
            status,
        });
    }

    /// The business desk files a SCIA for the prepared business, one after the other;
    /// each is registered in routing's protocol and handed to routing's back office.
    pub(super) async fn filings(&self, desk: Session, stop: CancellationToken) {
        let business = self.business.lock().ok().and_then(|b| b.clone());
        let Some(business) = business else {
            self.ledger.note(
                &self.ledger.failed,
                "SUAP filings: the stack was not prepared (Load::prepare)".into(),
            );
            return;
        };
        let pdf = base64::engine::general_purpose::STANDARD.encode(PDF);
        let mut n = 0usize;
        while !stop.is_cancelled() {
            n += 1;
            let key = Uuid::new_v4();
            let documents: Vec<Value> = ["scia_form", "moral_requirements", "floor_plan"]
                .iter()
                .map(|item| {
                    json!({"checklist_item": item, "media_type": "application/pdf",
                           "content_base64": pdf})
                })
                .collect();
            let body = json!({
                "business_id": business,
                "procedure_code": FILED_PROCEDURE,
                "subject": format!("Apertura di un esercizio di vicinato, locale {n}"),
                "mandate": "signed_form",
                "mandate_reference": "Modulo firmato digitalmente il 2026-12-07",
                "documents": documents,
                "idempotency_key": key.to_string(),
            });
            let mut attempts = 0;
            let reply = self
                .call(
                    &desk,
                    "POST",
                    "/api/v1/suap/applications",
                    Some(&body),
                    &mut attempts,
                )
                .await;
            let body_of = reply.as_ref().map(|r| r.body.clone()).unwrap_or_default();
            let (status, id) = acknowledged(reply, 201, |v| v["application"]["id"].as_str());
            if status != 201 && status != 0 {
                self.ledger.note(
                    &self.ledger.failed,
                    format!("SUAP filing: {status} {body_of}"),
                );
            }
            self.ledger.push(Record {
                journey: Journey::Filing,
                key,
                id,
                attempts,
                status,
            });
            tokio::select! {
                () = tokio::time::sleep(self.rate.ticket_every * 20) => {}
                () = stop.cancelled() => {}
            }
        }
    }
}
