//! `sportello.registry.v1.ResidenceChangeService`.

use prost::Message as _;
use sha2::{Digest, Sha256};
use sportello_kit::{
    Aggregate, CallContext, Claim, Db, IdempotencyKey, RequesterRef, ServiceError,
    documents::Sha256Hex, protocol::Incoming,
};
use sportello_pa::calendar::rome;
use sportello_proto::registry::v1::{
    AnswerObservationsRequest, AnswerObservationsResponse, DeclareImmigrationRequest,
    DeclareImmigrationResponse, DeclareResidenceChangeRequest, DeclareResidenceChangeResponse,
    GetResidenceChangeDocumentRequest, GetResidenceChangeDocumentResponse,
    GetResidenceChangeRequest, GetResidenceChangeResponse, RecordAddressCheckRequest,
    RecordAddressCheckResponse, RecordNoticeReceiptRequest, RecordNoticeReceiptResponse,
    RecordObservationsRequest, RecordObservationsResponse, ResidenceChangeDeclared,
    ResidenceChangeRecorded, SendReasonsAgainstRequest, SendReasonsAgainstResponse,
    residence_change_service_server::ResidenceChangeService,
};
use sportello_proto::routing::v1::{IncomingKind, WorkUpdateKind};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    documents::{self, Attached},
    domain::{
        Answer, Basis, CheckResult, DeclaredChange, LegalClock, Notice, Observations, Receipt,
        RecordedCheck,
    },
    immigration::{DeclaredImmigration, Origin},
    intake::SenderName,
    message::change_message,
    notice,
    store::{self, Change},
    timers::{self, CloseOrder, SILENCE_TIMER},
    work,
};
use crate::{
    audit::{Access, RecordKind},
    domain::{ResidenceChangeId, ResidentId},
    error::RegistryError,
    residents::store::street_id,
    source::PersonKey,
    state::Registry,
};

/// The change-of-residence gRPC service.
#[derive(Debug, Clone)]
pub struct Residence {
    registry: Registry,
}

impl Residence {
    /// Runs changes of residence on `registry` (routing's protocol register included).
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

/// The idempotent operation of a declaration.
const DECLARE: &str = "registry.declare_residence_change";
/// The idempotent operation of a declaration of a move into the municipality.
const IMMIGRATION: &str = "registry.declare_immigration";

/// The stored response of an earlier call with `key`, if there was one (without doing
/// or claiming anything: the probe's transaction is rolled back).
async fn replay<R: prost::Message + Default>(
    db: &Db,
    operation: &str,
    key: Option<IdempotencyKey>,
    fingerprint: &impl prost::Message,
) -> Result<Option<R>, ServiceError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let mut probe = db.begin().await?;
    match probe
        .claim_idempotency_key(operation, key, fingerprint)
        .await?
    {
        Claim::Replay(bytes) => R::decode(bytes.as_slice())
            .map(Some)
            .map_err(ServiceError::internal),
        Claim::Fresh => Ok(None),
    }
}

/// A UUID derived from `base` and a step's name, so that a retried call repeats the very
/// same calls to routing.
fn derived(base: Uuid, step: &str) -> Uuid {
    let digest = Sha256::new()
        .chain_update(base.as_bytes())
        .chain_update(step.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn not_found() -> RegistryError {
    RegistryError::NotFound {
        field: "residence_change_id",
        what: "no change of residence with this id",
    }
}

/// Everyone a change of residence names: its members, the declarant, the head left
/// behind and the representative.
fn named(change: &Change) -> Vec<ResidentId> {
    let mut ids: Vec<ResidentId> = Vec::with_capacity(change.members.len() + 3);
    let others = [
        Some(change.declarant_id),
        change.remaining_head,
        change.representative,
    ];
    for id in change
        .members
        .iter()
        .map(|(id, _)| *id)
        .chain(others.into_iter().flatten())
    {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The change as an audited read for `action` (its answer discloses the members' data:
/// the new address, the family, the procedure).
fn read_of<'a>(action: &'static str, change: &Change, named: &'a [ResidentId]) -> Access<'a> {
    Access {
        action,
        record_kind: RecordKind::ResidenceChange,
        record_id: change.id.0,
        disclosed: named,
    }
}

impl Residence {
    /// The change `id`, or NOT_FOUND.
    async fn load(&self, id: ResidenceChangeId) -> Result<Change, ServiceError> {
        let mut conn = self
            .registry
            .db
            .pool()
            .acquire()
            .await
            .map_err(ServiceError::from)?;
        Ok(store::get(&mut conn, id)
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(not_found)?)
    }

    /// Audits the answer of a replayed declaration: it discloses the change again.
    async fn audit_replay(
        &self,
        context: &CallContext,
        answered: Option<&sportello_proto::registry::v1::ResidenceChange>,
    ) -> Result<(), ServiceError> {
        let id = ResidenceChangeId::parse(
            "residence_change_id",
            answered.map_or("", |c| c.id.as_str()),
        )
        .map_err(|_| ServiceError::internal("a replayed answer names no change"))?;
        let change = self.load(id).await?;
        let named = named(&change);
        self.registry
            .audit(context, read_of("residence_change.replay", &change, &named))
            .await
    }
}

fn aggregate<'a>(change: &'a Change, id: &'a str) -> Aggregate<'a> {
    Aggregate {
        kind: "registry.residence_change",
        id,
        version: change.version,
        municipality: change.municipality,
    }
}

#[tonic::async_trait]
impl ResidenceChangeService for Residence {
    #[tracing::instrument(skip_all, fields(caller, residence_change_id))]
    async fn declare_residence_change(
        &self,
        request: Request<DeclareResidenceChangeRequest>,
    ) -> Result<Response<DeclareResidenceChangeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let request = request.into_inner();
        let declared = DeclaredChange::try_from(&request)?;
        context.ensure_municipality(declared.municipality)?;
        // A bad document refuses the whole declaration before anything is registered.
        let attached = documents::check(self.registry.documents.as_ref(), &request.documents)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = DeclareResidenceChangeRequest {
            idempotency_key: String::new(),
            ..request
        };
        let registry = &self.registry;
        // A retry of a recorded declaration answers it again before anything is checked:
        // the family has moved since, so the checks below would refuse it.
        if let Some(response) =
            replay::<DeclareResidenceChangeResponse>(&registry.db, DECLARE, key, &fingerprint)
                .await?
        {
            self.audit_replay(&context, response.residence_change.as_ref())
                .await?;
            return Ok(Response::new(response));
        }

        // Check the declaration against the register before anything is written here or
        // in routing; the recording transaction checks again on locked rows.
        let family = registry
            .source
            .family(declared.family_id, registry.today())
            .await
            .map_err(ServiceError::from)?
            .filter(|f| f.municipality == declared.municipality)
            .ok_or(RegistryError::NotFound {
                field: "family_id",
                what: "no family with this id has members in the register",
            })?;
        let street = {
            let mut conn = registry
                .db
                .pool()
                .acquire()
                .await
                .map_err(ServiceError::from)?;
            street_id(
                &mut conn,
                declared.municipality,
                &declared.address.street_code,
            )
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| {
                RegistryError::invalid(
                    "address.street_code",
                    "no street with this code in the municipality's gazetteer",
                )
            })?
        };
        let movers: Vec<ResidentId> = declared.members.iter().map(|(id, _)| *id).collect();
        if !store::in_open_change(registry.db.pool(), &movers)
            .await
            .map_err(ServiceError::from)?
            .is_empty()
        {
            return Err(RegistryError::Precondition(
                "members: a member is already part of a change of residence that is not decided yet"
                    .into(),
            )
            .into());
        }
        store::check_against_family(&declared, &family.members, street, registry.today())?;
        if let Some(representative) = declared.representative {
            // The representative signs for an under-age declarant: an adult in this
            // municipality's register.
            let person = registry
                .source
                .person(&PersonKey::Id(representative), registry.today())
                .await
                .map_err(ServiceError::from)?
                .filter(|p| p.municipality == declared.municipality);
            let adult = person
                .as_ref()
                .and_then(|p| p.state.as_ref())
                .is_some_and(|s| store::is_adult(s.data.birth_date, registry.today()));
            if !adult {
                return Err(RegistryError::invalid(
                    "representative_id",
                    "must be an adult in the municipality's register",
                )
                .into());
            }
        }
        let reference_of = |id: ResidentId| {
            family
                .members
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.requester_ref.clone())
        };
        let declarant_ref = reference_of(declared.declarant).ok_or(RegistryError::Conflict(
            "the record changed meanwhile; retry",
        ))?;
        let declarant_name = family
            .members
            .iter()
            .find(|m| m.id == declared.declarant)
            .and_then(|m| m.state.as_ref())
            .map(|s| SenderName::of(&s.data))
            .ok_or(RegistryError::Conflict(
                "the record changed meanwhile; retry",
            ))?;
        let references: Vec<String> = movers
            .iter()
            .filter_map(|id| reference_of(*id).map(|r| r.to_string()))
            .collect();

        // The routing calls are keyed from the change's id, so that a retry repeats the
        // very same calls. Without the client's key, the declaration's content and day
        // give the id: a retry after a failure here reuses the protocol registration
        // instead of annulling it — a received declaration is never annulled because of
        // an internal error of ours (DPR 445/2000 art. 54; issue 11, point 9).
        let base = key.map_or_else(
            || {
                let digest = Sha256::new()
                    .chain_update(fingerprint.encode_to_vec())
                    .chain_update(registry.today().to_string().as_bytes())
                    .finalize();
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&digest[..16]);
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            },
            |k| k.uuid(),
        );
        let id = ResidenceChangeId(derived(base, "residence_change"));
        tracing::Span::current().record("residence_change_id", tracing::field::display(id));
        // The register records the declaration form's hash: the one given, else the
        // first document's (the form is attached first), else the request's content's.
        let document_sha256 = declared
            .document_sha256
            .or_else(|| {
                attached
                    .first()
                    .map(|a| Sha256::digest(a.document.content()).into())
            })
            .unwrap_or_else(|| Sha256::digest(fingerprint.encode_to_vec()).into());
        let entry = match self
            .registry
            .protocol
            .register_incoming(
                &context,
                &Incoming {
                    municipality: declared.municipality,
                    kind: IncomingKind::Declaration,
                    sender_ref: declarant_ref.to_string(),
                    sender_name: declarant_name.into_inner(),
                    subject: format!(
                        "Dichiarazione di cambio di abitazione ({} {})",
                        movers.len(),
                        if movers.len() == 1 {
                            "persona"
                        } else {
                            "persone"
                        }
                    ),
                    document_sha256: document_sha256.iter().map(|b| format!("{b:02x}")).collect(),
                    channel: declared.channel,
                    idempotency_key: derived(id.0, "protocol"),
                },
            )
            .await
        {
            Ok(entry) => entry,
            // The check's case stays open: a retry reuses it (same key).
            Err(error) => return Err(error.into()),
        };

        let effective_date = rome::date_of(entry.registered_at);
        let clock = LegalClock::of(declared.municipality, effective_date, None)
            .map_err(ServiceError::internal)?;
        let assent_at = clock
            .silence_assent_on
            .map(rome::start_of_day)
            .transpose()
            .map_err(ServiceError::internal)?;
        let intake = store::Intake {
            id,
            protocol_registration_id: entry.id.clone(),
            protocol_number: entry.number.clone(),
            registered_at: entry.registered_at,
            clock,
            effective_date,
            document_sha256,
            caller: context.caller().to_owned(),
            actor: context.actor().to_owned(),
            purpose: context.purpose().to_owned(),
        };
        let requester_ref = declarant_ref.to_string();
        let document_store = registry.documents.clone();
        let replay_context = context.clone();
        let recorded = registry
            .db
            .idempotent_or_replay(DECLARE, key, &fingerprint, |uow| {
                Box::pin(async move {
                    let change = store::record(uow, &declared, &intake).await?;
                    // In this transaction: the documents are kept with the change, or
                    // neither is (with object storage, an object is written at once and
                    // left unreferenced by a rollback: harmless, content addressed).
                    documents::record(uow, document_store.as_ref(), change.id, &attached).await?;
                    let id = change.id.to_string();
                    let resident_ids: Vec<String> =
                        change.members.iter().map(|(m, _)| m.to_string()).collect();
                    uow.emit(
                        &ResidenceChangeDeclared {
                            residence_change_id: id.clone(),
                            family_id: change.family_id.to_string(),
                            resident_ids: movers.iter().map(ToString::to_string).collect(),
                            requester_refs: references,
                        },
                        Aggregate {
                            version: 1,
                            ..aggregate(&change, &id)
                        },
                    )
                    .await?;
                    uow.emit(
                        &ResidenceChangeRecorded {
                            residence_change_id: id.clone(),
                            protocol_registration_id: change.protocol_registration_id.clone(),
                            check_case_id: change.check_case_id.clone(),
                            destination_family_id: change.destination_family_id.to_string(),
                            effective_date: change.effective_date.to_string(),
                            resident_ids,
                        },
                        aggregate(&change, &id),
                    )
                    .await?;
                    // The check goes to routing's back office as work, in this very
                    // transaction: recorded and handed over, or neither.
                    work::request(
                        uow,
                        &change,
                        &requester_ref,
                        change.members.len(),
                        attached.iter().map(Attached::work_ref).collect(),
                    )
                    .await?;
                    if let Some(due) = assent_at {
                        uow.schedule_timer(SILENCE_TIMER, &id, due, serde_json::json!({}))
                            .await?;
                    }
                    Ok(DeclareResidenceChangeResponse {
                        residence_change: Some(change_message(&change)),
                    })
                })
            })
            .await;
        match recorded {
            Ok((response, replayed)) => {
                // A concurrent call with the same key recorded it first: its answer is
                // disclosed again, audited as a replay.
                if replayed {
                    self.audit_replay(&replay_context, response.residence_change.as_ref())
                        .await?;
                }
                Ok(Response::new(response))
            }
            Err(error) => {
                // The registration stays in the register: the same request again reuses
                // it and records the move.
                tracing::error!(%error, residence_change_id = %id,
                    "a registered declaration could not be recorded; a retry reuses its registration");
                Err(error.into())
            }
        }
    }

    #[tracing::instrument(skip_all, fields(caller, residence_change_id))]
    async fn declare_immigration(
        &self,
        request: Request<DeclareImmigrationRequest>,
    ) -> Result<Response<DeclareImmigrationResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let request = request.into_inner();
        let registry = &self.registry;
        let declared = DeclaredImmigration::parse(&request, registry.today())?;
        context.ensure_municipality(declared.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = DeclareImmigrationRequest {
            idempotency_key: String::new(),
            ..request
        };
        if let Some(response) =
            replay::<DeclareImmigrationResponse>(&registry.db, IMMIGRATION, key, &fingerprint)
                .await?
        {
            self.audit_replay(&context, response.residence_change.as_ref())
                .await?;
            return Ok(Response::new(response));
        }
        // Checked before anything is written here or in routing: a real street, and
        // nobody already in the register.
        {
            let mut conn = registry
                .db
                .pool()
                .acquire()
                .await
                .map_err(ServiceError::from)?;
            street_id(
                &mut conn,
                declared.municipality,
                &declared.address.street_code,
            )
            .await
            .map_err(ServiceError::from)?
            .ok_or_else(|| {
                RegistryError::invalid(
                    "address.street_code",
                    "no street with this code in the municipality's gazetteer",
                )
            })?;
        }
        for (i, member) in declared.members.iter().enumerate() {
            let known = registry
                .source
                .person(
                    &PersonKey::FiscalCode(declared.municipality, member.person.fiscal_code),
                    registry.today(),
                )
                .await
                .map_err(ServiceError::from)?;
            if known.is_some() {
                return Err(RegistryError::Precondition(format!(
                    "members[{i}].person.fiscal_code: the person is already in the register"
                ))
                .into());
            }
        }
        let references: Vec<RequesterRef> = declared
            .members
            .iter()
            .map(|m| {
                RequesterRef::derive(
                    &registry.pseudonym_key,
                    declared.municipality,
                    m.person.fiscal_code.as_str(),
                )
            })
            .collect();
        let declarant_ref = references[declared.declarant].clone();
        let base = key.map_or_else(
            || {
                let digest = Sha256::new()
                    .chain_update(fingerprint.encode_to_vec())
                    .chain_update(registry.today().to_string().as_bytes())
                    .finalize();
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(&digest[..16]);
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            },
            |k| k.uuid(),
        );
        let id = ResidenceChangeId(derived(base, "residence_change"));
        tracing::Span::current().record("residence_change_id", tracing::field::display(id));
        let ids: Vec<ResidentId> = (0..declared.members.len())
            .map(|i| ResidentId(derived(id.0, &format!("member:{i}"))))
            .collect();
        let document_sha256 = declared
            .document_sha256
            .unwrap_or_else(|| Sha256::digest(fingerprint.encode_to_vec()).into());
        let count = declared.members.len();
        let entry = self
            .registry
            .protocol
            .register_incoming(
                &context,
                &Incoming {
                    municipality: declared.municipality,
                    kind: IncomingKind::Declaration,
                    sender_ref: declarant_ref.to_string(),
                    sender_name: SenderName::of(&declared.members[declared.declarant].person.data)
                        .into_inner(),
                    subject: format!(
                        "Dichiarazione di residenza con provenienza {} ({count} {})",
                        match declared.origin {
                            Origin::Municipality(_) => "da altro comune",
                            Origin::Country(_) => "dall'estero",
                        },
                        if count == 1 { "persona" } else { "persone" }
                    ),
                    document_sha256: document_sha256.iter().map(|b| format!("{b:02x}")).collect(),
                    channel: declared.channel,
                    idempotency_key: derived(id.0, "protocol"),
                },
            )
            .await?;
        let effective_date = rome::date_of(entry.registered_at);
        let clock = LegalClock::of(declared.municipality, effective_date, None)
            .map_err(ServiceError::internal)?;
        let assent_at = clock
            .silence_assent_on
            .map(rome::start_of_day)
            .transpose()
            .map_err(ServiceError::internal)?;
        let intake = store::Intake {
            id,
            protocol_registration_id: entry.id.clone(),
            protocol_number: entry.number.clone(),
            registered_at: entry.registered_at,
            clock,
            effective_date,
            document_sha256,
            caller: context.caller().to_owned(),
            actor: context.actor().to_owned(),
            purpose: context.purpose().to_owned(),
        };
        let pseudonym_key = registry.pseudonym_key.clone();
        let requester_ref = declarant_ref.to_string();
        let replay_context = context.clone();
        let recorded = registry
            .db
            .idempotent_or_replay(IMMIGRATION, key, &fingerprint, |uow| {
                Box::pin(async move {
                    let change =
                        store::record_immigration(uow, &pseudonym_key, &declared, &ids, &intake)
                            .await?;
                    let id = change.id.to_string();
                    let resident_ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                    uow.emit(
                        &ResidenceChangeDeclared {
                            residence_change_id: id.clone(),
                            family_id: change.family_id.to_string(),
                            resident_ids: resident_ids.clone(),
                            requester_refs: references.iter().map(ToString::to_string).collect(),
                        },
                        Aggregate {
                            version: 1,
                            ..aggregate(&change, &id)
                        },
                    )
                    .await?;
                    uow.emit(
                        &ResidenceChangeRecorded {
                            residence_change_id: id.clone(),
                            protocol_registration_id: change.protocol_registration_id.clone(),
                            check_case_id: change.check_case_id.clone(),
                            destination_family_id: change.destination_family_id.to_string(),
                            effective_date: change.effective_date.to_string(),
                            resident_ids,
                        },
                        aggregate(&change, &id),
                    )
                    .await?;
                    // The check goes to routing's back office as work, in this very
                    // transaction: recorded and handed over, or neither.
                    // Declarations of a move into the municipality take no documents yet.
                    work::request(
                        uow,
                        &change,
                        &requester_ref,
                        change.members.len(),
                        Vec::new(),
                    )
                    .await?;
                    if let Some(due) = assent_at {
                        uow.schedule_timer(SILENCE_TIMER, &id, due, serde_json::json!({}))
                            .await?;
                    }
                    Ok(DeclareImmigrationResponse {
                        residence_change: Some(change_message(&change)),
                    })
                })
            })
            .await;
        match recorded {
            Ok((response, replayed)) => {
                // A concurrent call with the same key recorded it first: its answer is
                // disclosed again, audited as a replay.
                if replayed {
                    self.audit_replay(&replay_context, response.residence_change.as_ref())
                        .await?;
                }
                Ok(Response::new(response))
            }
            Err(error) => {
                tracing::error!(%error, residence_change_id = %id,
                    "a registered declaration could not be recorded; a retry reuses its registration");
                Err(error.into())
            }
        }
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn get_residence_change(
        &self,
        request: Request<GetResidenceChangeRequest>,
    ) -> Result<Response<GetResidenceChangeResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let id = ResidenceChangeId::parse(
            "residence_change_id",
            &request.get_ref().residence_change_id,
        )?;
        let change = self.load(id).await?;
        context.ensure_municipality(change.municipality)?;
        // Written before the answer leaves: no audit row, no change.
        let named = named(&change);
        self.registry
            .audit(&context, read_of("residence_change.get", &change, &named))
            .await?;
        Ok(Response::new(GetResidenceChangeResponse {
            residence_change: Some(change_message(&change)),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller, residence_change_id))]
    async fn get_residence_change_document(
        &self,
        request: Request<GetResidenceChangeDocumentRequest>,
    ) -> Result<Response<GetResidenceChangeDocumentResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        crate::access::ensure_reads_personal_data(&context)?;
        let sha256: Sha256Hex = request
            .get_ref()
            .sha256
            .parse()
            .map_err(|why: &str| ServiceError::invalid_field("sha256", why))?;
        // Only a document of a change of the caller's municipality: another
        // municipality's, or one never handed in with a change, is not found alike.
        let owner = documents::owner(self.registry.db.pool(), &context, &sha256)
            .await
            .map_err(ServiceError::from)?
            .ok_or(RegistryError::NotFound {
                field: "sha256",
                what: "no document with this hash in a change of residence of the municipality",
            })?;
        tracing::Span::current().record(
            "residence_change_id",
            tracing::field::display(owner.residence_change_id),
        );
        let document = self.registry.documents.get(&sha256).await?;
        // Written before the bytes leave: no audit row, no document.
        self.registry
            .audit(
                &context,
                Access {
                    action: "residence_change.get_document",
                    record_kind: RecordKind::ResidenceChangeDocument,
                    record_id: owner.residence_change_id.0,
                    disclosed: &owner.members,
                },
            )
            .await?;
        Ok(Response::new(GetResidenceChangeDocumentResponse {
            media_type: document.reference.media_type.to_string(),
            size_bytes: document.reference.size_bytes,
            content: document.content.to_vec(),
            title: owner.title,
            residence_change_id: owner.residence_change_id.to_string(),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn send_reasons_against(
        &self,
        request: Request<SendReasonsAgainstRequest>,
    ) -> Result<Response<SendReasonsAgainstResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let parsed = Notice::try_from(request.get_ref())?;
        let change = notice::send_registered(
            &self.registry.db,
            self.registry.protocol.as_ref(),
            &context,
            &parsed,
        )
        .await?;
        // The notice is sent (its own transaction, with the protocol's number); the
        // answer discloses the change: audited before it leaves.
        let named = named(&change);
        self.registry
            .audit(
                &context,
                read_of("residence_change.send_reasons_against", &change, &named),
            )
            .await?;
        Ok(Response::new(SendReasonsAgainstResponse {
            residence_change: Some(change_message(&change)),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn record_address_check(
        &self,
        request: Request<RecordAddressCheckRequest>,
    ) -> Result<Response<RecordAddressCheckResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let check = RecordedCheck::try_from(request.get_ref())?;
        let mut uow = self.registry.db.begin().await.map_err(ServiceError::from)?;
        let change = match &check.result {
            CheckResult::Confirmed => {
                let change = store::lock(uow.conn(), check.id)
                    .await
                    .map_err(ServiceError::from)?
                    .ok_or_else(not_found)?;
                context.ensure_municipality(change.municipality)?;
                let change = store::confirm(&mut uow, &change, Basis::Check).await?;
                let order = CloseOrder {
                    actor: context.actor().to_owned(),
                    purpose: context.purpose().to_owned(),
                    outcome: Basis::Check.outcome_code().to_owned(),
                    reason: "the address check confirmed the declaration".to_owned(),
                };
                timers::confirmed(&mut uow, &change, &order).await?;
                uow.cancel_timer(SILENCE_TIMER, &change.id.to_string())
                    .await
                    .map_err(ServiceError::from)?;
                let named = named(&change);
                self.registry
                    .audit_in(
                        &mut uow,
                        &context,
                        read_of("residence_change.record_check", &change, &named),
                    )
                    .await?;
                uow.commit().await.map_err(ServiceError::from)?;
                change
            }
            // No rejection without a 10-bis notice (DPR 223/1989 art. 18-bis c. 2): the
            // failure is recorded and the back office sends the notice.
            CheckResult::Failed(reason) => {
                let change = notice::check_failed(&mut uow, &context, check.id, reason).await?;
                let named = named(&change);
                self.registry
                    .audit_in(
                        &mut uow,
                        &context,
                        read_of("residence_change.record_check", &change, &named),
                    )
                    .await?;
                uow.commit().await.map_err(ServiceError::from)?;
                change
            }
        };
        Ok(Response::new(RecordAddressCheckResponse {
            residence_change: Some(change_message(&change)),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn record_notice_receipt(
        &self,
        request: Request<RecordNoticeReceiptRequest>,
    ) -> Result<Response<RecordNoticeReceiptResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let receipt = Receipt::try_from(request.get_ref())?;
        let mut uow = self.registry.db.begin().await.map_err(ServiceError::from)?;
        let change = notice::received(&mut uow, &context, &receipt).await?;
        // The receipt starts the window for observations: the suspension gets its end.
        work::clock_changed(&mut uow, &change, WorkUpdateKind::ClockChanged).await?;
        let named = named(&change);
        self.registry
            .audit_in(
                &mut uow,
                &context,
                read_of("residence_change.record_receipt", &change, &named),
            )
            .await?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(RecordNoticeReceiptResponse {
            residence_change: Some(change_message(&change)),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn record_observations(
        &self,
        request: Request<RecordObservationsRequest>,
    ) -> Result<Response<RecordObservationsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let observations = Observations::try_from(request.get_ref())?;
        let mut uow = self.registry.db.begin().await.map_err(ServiceError::from)?;
        let change = notice::observations(&mut uow, &context, &observations).await?;
        // The observations end the suspension: the term runs again.
        work::clock_changed(&mut uow, &change, WorkUpdateKind::Resumed).await?;
        let named = named(&change);
        self.registry
            .audit_in(
                &mut uow,
                &context,
                read_of("residence_change.record_observations", &change, &named),
            )
            .await?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(RecordObservationsResponse {
            residence_change: Some(change_message(&change)),
        }))
    }

    #[tracing::instrument(skip_all, fields(caller))]
    async fn answer_observations(
        &self,
        request: Request<AnswerObservationsRequest>,
    ) -> Result<Response<AnswerObservationsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        tracing::Span::current().record("caller", context.caller());
        let answer = Answer::try_from(request.get_ref())?;
        let mut uow = self.registry.db.begin().await.map_err(ServiceError::from)?;
        // The decision's work update to routing is written in the same transaction.
        let (change, _order) =
            notice::answer(&mut uow, self.registry.protocol.as_ref(), &context, &answer).await?;
        let named = named(&change);
        self.registry
            .audit_in(
                &mut uow,
                &context,
                read_of("residence_change.answer_observations", &change, &named),
            )
            .await?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(AnswerObservationsResponse {
            residence_change: Some(change_message(&change)),
        }))
    }
}
