//! `sportello.education.v1.SchoolService`.

use sportello_kit::{
    Aggregate, CallContext, Db, IdempotencyKey, ServiceError, events::to_proto_timestamp,
};
use sportello_proto::{
    common::v1::Address,
    education::v1::{
        RegisterSchoolRequest, RegisterSchoolResponse, School as SchoolMessage, SchoolRegistered,
        school_service_server::SchoolService,
    },
};
use tonic::{Request, Response, Status};

use super::{domain::NewSchool, store};

/// The schools' gRPC service.
#[derive(Debug, Clone)]
pub struct Schools {
    db: Db,
}

impl Schools {
    /// Serves schools from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

#[tonic::async_trait]
impl SchoolService for Schools {
    #[tracing::instrument(skip_all)]
    async fn register_school(
        &self,
        request: Request<RegisterSchoolRequest>,
    ) -> Result<Response<RegisterSchoolResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let school = NewSchool::try_from(&request)?;
        context.ensure_municipality(school.municipality)?;
        let key = IdempotencyKey::parse_optional(&request.idempotency_key)?;
        let fingerprint = RegisterSchoolRequest {
            idempotency_key: String::new(),
            ..request
        };

        let response = self
            .db
            .idempotent("education.register_school", key, &fingerprint, |uow| {
                Box::pin(async move {
                    let school = store::insert(uow, school)
                        .await
                        .map_err(ServiceError::from)?;
                    let id = school.id.to_string();
                    let event = SchoolRegistered {
                        school_id: id.clone(),
                        municipality_istat_code: school.school.municipality.to_string(),
                        school_code: school.school.school_code.clone(),
                        level: school.school.level as i32,
                    };
                    let aggregate = Aggregate {
                        kind: "education.school",
                        id: &id,
                        version: school.version,
                        municipality: school.school.municipality,
                    };
                    uow.emit(&event, aggregate).await?;
                    Ok(RegisterSchoolResponse {
                        school: Some(to_message(&school)),
                    })
                })
            })
            .await?;
        Ok(Response::new(response))
    }
}

fn to_message(school: &store::School) -> SchoolMessage {
    let s = &school.school;
    SchoolMessage {
        id: school.id.to_string(),
        municipality_istat_code: s.municipality.to_string(),
        school_code: s.school_code.clone(),
        name: s.name.clone(),
        level: s.level as i32,
        address: Some(Address {
            street_name: s.street_name.clone(),
            house_number: s.house_number.clone(),
            postal_code: s.postal_code.clone(),
            municipality_istat_code: s.municipality.to_string(),
            ..Default::default()
        }),
        capacity: u32::try_from(s.capacity).unwrap_or_default(),
        version: u64::try_from(school.version).unwrap_or_default(),
        create_time: Some(to_proto_timestamp(school.created_at)),
    }
}
