//! `sportello.urp.v1.KnowledgeService`.

use sportello_kit::{CallContext, Db, Role, ServiceError, events::to_proto_timestamp};
use sportello_proto::urp::v1::{
    Answer as AnswerMessage, AnswerMatch, PublishAnswerRequest, PublishAnswerResponse,
    SearchAnswersRequest, SearchAnswersResponse, knowledge_service_server::KnowledgeService,
};
use tonic::{Request, Response, Status};

use super::{
    domain::{NewAnswer, Question},
    store::{self, Answer},
};

/// The knowledge base's gRPC service.
#[derive(Debug, Clone)]
pub struct Knowledge {
    db: Db,
}

impl Knowledge {
    /// Serves answers from `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn to_message(answer: &Answer) -> AnswerMessage {
    let a = &answer.answer;
    AnswerMessage {
        id: answer.id.to_string(),
        municipality_istat_code: a.municipality.to_string(),
        service_code: a.service_code.clone(),
        title: a.title.clone(),
        body: a.body.clone(),
        what_to_bring: a.what_to_bring.clone(),
        where_to_go: a.where_to_go.clone(),
        cost: a.cost.clone(),
        duration: a.duration.clone(),
        keywords: a.keywords.clone(),
        version: u64::try_from(answer.version).unwrap_or_default(),
        update_time: Some(to_proto_timestamp(answer.updated_at)),
    }
}

#[tonic::async_trait]
impl KnowledgeService for Knowledge {
    #[tracing::instrument(skip_all)]
    async fn publish_answer(
        &self,
        request: Request<PublishAnswerRequest>,
    ) -> Result<Response<PublishAnswerResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        // The office that writes the answers: the back office, a manager, an administrator.
        if context.asserts_person() {
            context.require_role(&[Role::BackOffice, Role::Manager, Role::Admin])?;
        }
        let answer = NewAnswer::try_from(&request.into_inner())?;
        context.ensure_municipality(answer.municipality)?;
        let mut uow = self.db.begin().await.map_err(ServiceError::from)?;
        let published = store::publish(&mut uow, &answer)
            .await
            .map_err(ServiceError::from)?;
        uow.commit().await.map_err(ServiceError::from)?;
        Ok(Response::new(PublishAnswerResponse {
            answer: Some(to_message(&published)),
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn search_answers(
        &self,
        request: Request<SearchAnswersRequest>,
    ) -> Result<Response<SearchAnswersResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        let question = Question::try_from(&request.into_inner())?;
        context.ensure_visible(question.municipality)?;
        let matches = store::search(&self.db, &question)
            .await
            .map_err(ServiceError::from)?
            .iter()
            .map(|(answer, score)| AnswerMatch {
                answer: Some(to_message(answer)),
                score: *score,
            })
            .collect();
        Ok(Response::new(SearchAnswersResponse { matches }))
    }
}
