//! `sportello.gateway.v1.SessionService`.

use sportello_kit::{Aggregate, CallContext, Db, ServiceError, domain, events::to_proto_timestamp};
use sportello_proto::gateway::v1::{
    RevokeUserSessionsRequest, RevokeUserSessionsResponse, UserSessionsRevoked,
    session_service_server::SessionService,
};
use tonic::{Request, Response, Status};

use super::store;

/// The sessions' gRPC service.
#[derive(Debug, Clone)]
pub struct Sessions {
    db: Db,
}

impl Sessions {
    /// Serves sessions from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

/// An account id: 1-64 lowercase letters, digits, '.', '_' or '-'.
fn parse_user_id(raw: &str) -> Result<String, ServiceError> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ServiceError::invalid_field(
            "user_id",
            "must be 1-64 lowercase letters, digits, '.', '_' or '-'",
        ))
    }
}

#[tonic::async_trait]
impl SessionService for Sessions {
    #[tracing::instrument(skip_all)]
    async fn revoke_user_sessions(
        &self,
        request: Request<RevokeUserSessionsRequest>,
    ) -> Result<Response<RevokeUserSessionsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let request = request.into_inner();
        let user_id = parse_user_id(&request.user_id)?;
        let reason = domain::required_text("reason", &request.reason, 500)?;

        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let now = uow.now();
        let (revoked, version) = store::revoke_user(&mut uow, &user_id, &reason, &context)
            .await
            .map_err(ServiceError::from)?;
        let revoked_count = u32::try_from(revoked).unwrap_or_default();
        uow.emit(
            &UserSessionsRevoked {
                user_id: user_id.clone(),
                revoked_count,
            },
            Aggregate {
                kind: "gateway.user",
                id: &user_id,
                version,
                municipality: context.municipality(),
            },
        )
        .await
        .map_err(ServiceError::from)?;
        uow.commit().await.map_err(ServiceError::from)?;
        tracing::info!(revoked_count, "user sessions revoked");
        Ok(Response::new(RevokeUserSessionsResponse {
            revoked_count,
            revoke_time: Some(to_proto_timestamp(now)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_user_id;

    #[test]
    fn user_ids_are_lowercase_tokens() {
        assert!(parse_user_id("m.rossi").is_ok());
        for bad in ["", "M.Rossi", "a b", &"a".repeat(65)] {
            assert_eq!(
                parse_user_id(bad).unwrap_err().violations()[0].field,
                "user_id"
            );
        }
    }
}
