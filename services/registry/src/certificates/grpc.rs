//! `sportello.registry.v1.CertificateService`.

use sha2::{Digest, Sha256};
use sportello_kit::{
    Aggregate, CallContext, ErrorKind, IdempotencyKey, MunicipalityCode, RequesterRef, Role,
    ServiceError, domain as kit, events::to_proto_timestamp,
};
use sportello_proto::{
    common::v1::Money,
    registry::v1::{
        Certificate as CertificateMessage, CertificateIssued, GetCertificateRequest,
        GetCertificateResponse, IssueCertificateRequest, IssueCertificateResponse,
        ListStampDutyExemptionsRequest, ListStampDutyExemptionsResponse, StampDutyExemption,
        StampDutyPayment, VerifyCertificateRequest, VerifyCertificateResponse,
        certificate_service_server::CertificateService, issue_certificate_request::Person,
    },
};
use tonic::{Request, Response, Status};

use super::{
    code::VerificationCode,
    compose::{Facts, compose},
    kind::CertificateType,
    pdf,
    stamp::{self, Charges, Exemption, Payment},
    store::{self, Certificate},
};
use crate::{
    audit::{Access, RecordKind},
    domain::{CertificateId, ResidentId},
    error::RegistryError,
    residents::domain::parse_fiscal_code,
    source::PersonKey,
    state::Registry,
};

/// The certificates' gRPC service.
#[derive(Debug, Clone)]
pub struct Certificates {
    registry: Registry,
}

impl Certificates {
    /// Issues and verifies certificates from `registry`.
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }

    fn message(&self, c: &Certificate) -> CertificateMessage {
        let euros = |cents: i32| Money {
            currency_code: "EUR".into(),
            amount_minor: i64::from(cents),
        };
        CertificateMessage {
            id: c.id.to_string(),
            municipality_istat_code: c.municipality.to_string(),
            r#type: c.kind.to_proto() as i32,
            resident_id: c.resident_id.to_string(),
            verification_code: c.code.to_string(),
            verification_url: format!("{}/{}", self.registry.verify_url, c.code.as_str()),
            issue_time: Some(to_proto_timestamp(c.issued_at)),
            valid_until: c.valid_until.map(|d| d.to_string()).unwrap_or_default(),
            r#use: c.use_text.clone(),
            stamp_duty: Some(euros(c.stamp_duty_cents)),
            exemption: c
                .exemption_code
                .as_deref()
                .and_then(stamp::by_code)
                .map(exemption_message),
            fees: Some(euros(c.fees_cents)),
            content_sha256: hex(&c.content_sha256),
            case_id: c.case_id.clone().unwrap_or_default(),
            third_party: c.third_party,
        }
    }
}

/// The department of the registry office's staff (the anagrafe), as accounts name it.
pub const REGISTRY_DEPARTMENT: &str = "anagrafe";

/// Whether `context` may read `certificate` again (its PDF names people): the registry
/// office's back office, or an operator who names the counter case it was issued in (the
/// gateway checks the operator holds that case). A service acting as itself is allowed
/// by the access table. Italian, then English.
pub fn ensure_may_read(
    context: &CallContext,
    certificate: &Certificate,
    case_id: Option<&str>,
) -> Result<(), ServiceError> {
    if !context.asserts_person() {
        return Ok(());
    }
    crate::access::ensure_reads_personal_data(context)?;
    if context.has_any_role(&[Role::BackOffice])
        && context.department() == Some(REGISTRY_DEPARTMENT)
    {
        return Ok(());
    }
    match (case_id, certificate.case_id.as_deref()) {
        (Some(given), Some(issued_in)) if given == issued_in => Ok(()),
        _ => Err(ServiceError::new(
            ErrorKind::PermissionDenied,
            "case_id: un certificato già rilasciato si rilegge solo dall'ufficio anagrafe o \
             con la pratica di sportello in cui è stato rilasciato (GDPR art. 5 c. 1 lett. \
             b-c: finalità e minimizzazione) / an issued certificate is read again only by \
             the registry office or with the counter case it was issued in (GDPR art. 5(1)(b)-(c))",
        )),
    }
}

fn exemption_message(e: &Exemption) -> StampDutyExemption {
    StampDutyExemption {
        code: e.code.into(),
        r#use: e.use_text.into(),
        rule: e.rule.into(),
        fees_waived: e.fees_waived,
        before_public_office: e.before_public_office,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request to issue, parsed.
struct Issue {
    municipality: MunicipalityCode,
    key: PersonKey,
    field: &'static str,
    kind: CertificateType,
    charges: Charges,
    use_text: String,
    official: String,
    payment: Option<Payment>,
    case_id: Option<String>,
    applicant: Option<RequesterRef>,
}

/// An optional case id: a UUID, kept in its canonical form.
fn optional_case_id(raw: &str) -> Result<Option<String>, ServiceError> {
    match raw.trim() {
        "" => Ok(None),
        raw => uuid::Uuid::parse_str(raw)
            .map(|id| Some(id.to_string()))
            .map_err(|_| ServiceError::invalid_field("case_id", "must be a case id (a UUID)")),
    }
}

impl Issue {
    fn parse(
        request: &IssueCertificateRequest,
        virtual_authorisation: Option<&str>,
    ) -> Result<Self, ServiceError> {
        let municipality: MunicipalityCode =
            kit::parse_field("municipality_istat_code", &request.municipality_istat_code)?;
        let (key, field) = match &request.person {
            Some(Person::ResidentId(raw)) => (
                PersonKey::Id(ResidentId::parse("resident_id", raw)?),
                "resident_id",
            ),
            Some(Person::FiscalCode(raw)) => (
                PersonKey::FiscalCode(municipality, parse_fiscal_code("fiscal_code", raw)?),
                "fiscal_code",
            ),
            Some(Person::RequesterRef(raw)) => (
                PersonKey::RequesterRef(kit::parse_field("requester_ref", raw.trim())?),
                "requester_ref",
            ),
            None => {
                return Err(ServiceError::invalid_field(
                    "person",
                    "is required: a resident_id, fiscal_code or requester_ref",
                ));
            }
        };
        let kind = CertificateType::from_proto("type", request.r#type)?;
        let charges = Charges::parse("exemption_code", &request.exemption_code)?;
        let use_text = match (request.r#use.trim(), charges.exemption) {
            ("", Some(exemption)) => exemption.use_text.to_owned(),
            ("", None) => {
                return Err(ServiceError::invalid_field(
                    "use",
                    "is required: the use the certificate is for",
                ));
            }
            (text, _) => kit::required_text("use", text, 120)?,
        };
        // D.Lgs 39/1993 art. 3 c. 2: the printed signature names the official.
        let official =
            kit::required_text("responsible_official", &request.responsible_official, 100)?;
        if official.chars().count() < 2 {
            return Err(ServiceError::invalid_field(
                "responsible_official",
                "must name the official (2-100 characters)",
            ));
        }
        let method = StampDutyPayment::try_from(request.stamp_duty_payment)
            .map_err(|_| ServiceError::invalid_field("stamp_duty_payment", "is not a method"))?;
        let payment = match charges.exemption {
            Some(_)
                if method != StampDutyPayment::Unspecified
                    || !request.stamp_duty_reference.trim().is_empty() =>
            {
                return Err(ServiceError::invalid_field(
                    "stamp_duty_payment",
                    "no stamp duty is due under the exemption claimed",
                ));
            }
            Some(_) => None,
            None => Payment::parse(method, &request.stamp_duty_reference, virtual_authorisation)?,
        };
        let case_id = optional_case_id(&request.case_id)?;
        let applicant = match request.applicant_ref.trim() {
            "" => None,
            raw => Some(kit::parse_field("applicant_ref", raw)?),
        };
        Ok(Self {
            municipality,
            key,
            field,
            kind,
            charges,
            use_text,
            official,
            payment,
            case_id,
            applicant,
        })
    }
}

/// Parses an `IssueCertificate` request as the handler does, before any look-up: for the
/// fuzz targets (tests/fuzz), which hold the parse-at-the-edge to "no panic, a named field".
#[doc(hidden)]
pub fn parse_issue(
    request: &IssueCertificateRequest,
    virtual_authorisation: Option<&str>,
) -> Result<(), ServiceError> {
    Issue::parse(request, virtual_authorisation).map(|_| ())
}

/// An optional case id, as `GetCertificate` reads it (for the fuzz targets).
#[doc(hidden)]
pub fn parse_case_id(raw: &str) -> Result<Option<String>, ServiceError> {
    optional_case_id(raw)
}

#[tonic::async_trait]
impl CertificateService for Certificates {
    #[tracing::instrument(skip_all, fields(caller, certificate_type))]
    async fn issue_certificate(
        &self,
        request: Request<IssueCertificateRequest>,
    ) -> Result<Response<IssueCertificateResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let issue = Issue::parse(
            &request,
            self.registry.virtual_stamp_authorisation.as_deref(),
        )?;
        let span = tracing::Span::current();
        span.record("caller", context.caller());
        span.record("certificate_type", issue.kind.as_db());
        context.ensure_municipality(issue.municipality)?;

        let registry = &self.registry;
        let today = registry.today();
        let person = registry
            .find_person(&context, &issue.key, today, issue.field)
            .await?;
        let state = person.state.clone().ok_or(RegistryError::NotFound {
            field: issue.field,
            what: "the person is not in the register today",
        })?;
        if !issue.kind.allowed_for(state.status) {
            return Err(ServiceError::invalid_field(
                "type",
                format!(
                    "{} cannot be issued for a person who is {}",
                    issue.kind.words(),
                    state.status.words()
                ),
            )
            .into());
        }
        if let Some(why) = issue
            .kind
            .refused_for_citizenship(state.data.citizenship.is_italian())
        {
            return Err(ServiceError::invalid_field("type", why).into());
        }
        // DPR 223/1989 art. 33 c. 1: residence and family status for anyone who asks — no
        // ground is asked; the applicant is recorded and the read flagged in the audit.
        let third_party = issue
            .applicant
            .as_ref()
            .is_none_or(|applicant| applicant.as_str() != person.requester_ref.as_str());
        if third_party && let Some(why) = issue.kind.refused_to_third_party() {
            return Err(RegistryError::Precondition(why).into());
        }
        let family = match (&state.home, issue.kind.lists_family()) {
            (Some(home), true) => Some(
                registry
                    .source
                    .family(home.family_id, today)
                    .await
                    .map_err(ServiceError::from)?
                    .ok_or(RegistryError::Conflict(
                        "the record changed meanwhile; retry",
                    ))?,
            ),
            _ => None,
        };

        let code = VerificationCode::random();
        // Sealed at the precision PostgreSQL stores (microseconds): sealed with the
        // clock's nanoseconds, the stored certificate would never verify again.
        let now = registry.db.clock().now();
        let issued_at = jiff::Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now);
        let valid_until = issue.kind.valid_until(today);
        let document = compose(&Facts {
            kind: issue.kind,
            municipality: issue.municipality,
            person: &person,
            state: &state,
            family: family.as_ref(),
            charges: issue.charges,
            use_text: &issue.use_text,
            issued_at,
            valid_until,
            code: &code,
            verify_url: &registry.verify_url,
            official: &issue.official,
            payment: issue.payment.as_ref(),
        });
        let pdf = pdf::render(&document).map_err(ServiceError::internal)?;
        let mut certificate = Certificate {
            id: CertificateId::new(),
            municipality: issue.municipality,
            code,
            kind: issue.kind,
            resident_id: person.id,
            disclosed: family
                .as_ref()
                .map_or_else(|| vec![person.id], |f| f.member_ids()),
            use_text: issue.use_text,
            exemption_code: issue.charges.exemption.map(|e| e.code.to_owned()),
            stamp_duty_cents: issue.charges.stamp_duty_cents,
            fees_cents: issue.charges.fees_cents,
            issued_at,
            valid_until,
            content_sha256: Sha256::digest(&pdf).into(),
            seal: [0; 32],
            pdf,
            pdf_purged_at: None,
            case_id: issue.case_id,
            applicant_ref: issue.applicant.as_ref().map(ToString::to_string),
            third_party,
        };
        certificate.seal = certificate.compute_seal(&registry.seal_key);

        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = IssueCertificateRequest {
            idempotency_key: String::new(),
            ..request
        };
        let message = self.message(&certificate);
        let mut warnings: Vec<String> = issue
            .charges
            .exemption
            .and_then(|e| e.warning())
            .into_iter()
            .collect();
        if issue.charges.exemption.is_none() && issue.payment.is_none() {
            warnings.push(stamp::PAYMENT_MISSING_WARNING.to_owned());
        }
        let requester_ref = person.requester_ref.to_string();
        let replay_context = context.clone();
        let auditor = registry.clone();
        let (response, replayed) = registry
            .db
            .idempotent_or_replay("registry.issue_certificate", key, &fingerprint, |uow| {
                Box::pin(async move {
                    store::insert(uow.conn(), &certificate, context.caller(), context.actor())
                        .await?;
                    let id = certificate.id.to_string();
                    uow.emit(
                        &CertificateIssued {
                            certificate_id: id.clone(),
                            r#type: certificate.kind.to_proto() as i32,
                            resident_id: certificate.resident_id.to_string(),
                            requester_ref,
                            stamp_duty_exempt: certificate.exemption_code.is_some(),
                        },
                        Aggregate {
                            kind: "registry.certificate",
                            id: &id,
                            version: 1,
                            municipality: certificate.municipality,
                        },
                    )
                    .await?;
                    // The audit row and the certificate commit together: no certificate
                    // leaves without its read being recorded. Issued to someone other
                    // than the person, the row says so (who asked is on the certificate).
                    // Written last: the row takes the audit chain's head lock, held to the
                    // commit, so the certificate and its event are written before it.
                    auditor
                        .audit_in(
                            uow,
                            &context,
                            Access {
                                action: if certificate.third_party {
                                    "certificate.issue_third_party"
                                } else {
                                    "certificate.issue"
                                },
                                record_kind: RecordKind::Certificate,
                                record_id: certificate.id.0,
                                disclosed: &certificate.disclosed,
                            },
                        )
                        .await?;
                    Ok(IssueCertificateResponse {
                        certificate: Some(message),
                        pdf: certificate.pdf,
                        warnings,
                    })
                })
            })
            .await?;
        if replayed {
            // The stored answer discloses the certificate again: audited as a read.
            let id = CertificateId::parse(
                "certificate_id",
                response.certificate.as_ref().map_or("", |c| c.id.as_str()),
            )
            .map_err(|_| ServiceError::internal("a replayed answer names no certificate"))?;
            let stored = store::by_id(registry.db.pool(), id)
                .await
                .map_err(ServiceError::from)?
                .ok_or_else(|| ServiceError::internal("a replayed certificate is not stored"))?;
            registry
                .audit(
                    &replay_context,
                    Access {
                        action: "certificate.replay",
                        record_kind: RecordKind::Certificate,
                        record_id: id.0,
                        disclosed: &stored.disclosed,
                    },
                )
                .await?;
        }
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn get_certificate(
        &self,
        request: Request<GetCertificateRequest>,
    ) -> Result<Response<GetCertificateResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let id = CertificateId::parse("certificate_id", &request.get_ref().certificate_id)?;
        let case_id = optional_case_id(&request.get_ref().case_id)?;
        let certificate = store::by_id(self.registry.db.pool(), id)
            .await
            .map_err(ServiceError::from)?
            .ok_or(RegistryError::NotFound {
                field: "certificate_id",
                what: "no certificate with this id",
            })?;
        context.ensure_municipality(certificate.municipality)?;
        ensure_may_read(&context, &certificate, case_id.as_deref())?;
        if certificate.pdf_purged_at.is_some() {
            return Err(RegistryError::Precondition(PDF_PURGED.to_owned()).into());
        }
        self.registry
            .audit(
                &context,
                Access {
                    action: "certificate.get",
                    record_kind: RecordKind::Certificate,
                    record_id: id.0,
                    disclosed: &certificate.disclosed,
                },
            )
            .await?;
        Ok(Response::new(GetCertificateResponse {
            certificate: Some(self.message(&certificate)),
            pdf: certificate.pdf,
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn verify_certificate(
        &self,
        request: Request<VerifyCertificateRequest>,
    ) -> Result<Response<VerifyCertificateResponse>, Status> {
        let context = CallContext::of(&request)?;
        tracing::Span::current().record("caller", context.caller());
        let request = request.get_ref();
        let code = VerificationCode::parse("verification_code", &request.verification_code)?;
        let document_hash = match request.document_sha256.trim() {
            "" => None,
            raw if raw.len() == 64 && raw.chars().all(|c| c.is_ascii_hexdigit()) => {
                Some(raw.to_ascii_lowercase())
            }
            _ => {
                return Err(ServiceError::invalid_field(
                    "document_sha256",
                    "must be 64 hex digits when given",
                )
                .into());
            }
        };
        let Some(certificate) = store::by_code(self.registry.db.pool(), &code)
            .await
            .map_err(ServiceError::from)?
        else {
            return Ok(Response::new(VerifyCertificateResponse {
                authentic: false,
                reason: "no certificate was issued with this code".into(),
                ..Default::default()
            }));
        };
        let content_sha256 = hex(&certificate.content_sha256);
        let reason = if !certificate.intact(&self.registry.seal_key) {
            tracing::error!(certificate_id = %certificate.id, "stored certificate fails its seal");
            "the stored certificate was altered after issue"
        } else if document_hash.as_ref().is_some_and(|h| *h != content_sha256) {
            "the document's content differs from the certificate issued with this code"
        } else {
            ""
        };
        let today = self.registry.today();
        Ok(Response::new(VerifyCertificateResponse {
            authentic: reason.is_empty(),
            reason: reason.into(),
            r#type: certificate.kind.to_proto() as i32,
            municipality_istat_code: certificate.municipality.to_string(),
            issue_time: Some(to_proto_timestamp(certificate.issued_at)),
            valid_until: certificate
                .valid_until
                .map(|d| d.to_string())
                .unwrap_or_default(),
            expired: certificate.valid_until.is_some_and(|d| d < today),
            content_sha256,
        }))
    }

    async fn list_stamp_duty_exemptions(
        &self,
        _request: Request<ListStampDutyExemptionsRequest>,
    ) -> Result<Response<ListStampDutyExemptionsResponse>, Status> {
        Ok(Response::new(ListStampDutyExemptionsResponse {
            exemptions: stamp::EXEMPTIONS.iter().map(exemption_message).collect(),
        }))
    }
}

/// Why a certificate's PDF cannot be given any more.
const PDF_PURGED: &str = "certificate_id: il PDF è stato eliminato al termine del periodo di \
     conservazione (RETENTION_CERTIFICATES); il codice di verifica resta verificabile, si può \
     emettere un nuovo certificato / the PDF was discarded at the end of its retention period; \
     the verification code still verifies, a new certificate can be issued";
