//! `sportello.routing.v1.AppointmentService`: parses the call context and hands each call
//! to its step in [`super`]; errors map through routing's one table.

use sportello_kit::CallContext;
use sportello_proto::routing::v1::{
    AcceptWaitlistOfferRequest, AcceptWaitlistOfferResponse, AddClosureRequest, AddClosureResponse,
    BookRequest, BookResponse, CancelBookingRequest, CancelBookingResponse, CheckInRequest,
    CheckInResponse, ConfirmBookingRequest, ConfirmBookingResponse, GetBookingRequest,
    GetBookingResponse, GetBookingRulesRequest, GetBookingRulesResponse, GetWaitlistEntryRequest,
    GetWaitlistEntryResponse, JoinWaitlistRequest, JoinWaitlistResponse, ListBookingsRequest,
    ListBookingsResponse, RescheduleBookingRequest, RescheduleBookingResponse, SearchSlotsRequest,
    SearchSlotsResponse, SetBookingRulesRequest, SetBookingRulesResponse, SetOpeningHoursRequest,
    SetOpeningHoursResponse, SetOperatorScheduleRequest, SetOperatorScheduleResponse,
    appointment_service_server::AppointmentService,
};
use tonic::{Request, Response, Status};

use super::Appointments;

/// The appointments' gRPC service.
#[derive(Debug, Clone)]
pub struct AppointmentApi(pub Appointments);

#[tonic::async_trait]
impl AppointmentService for AppointmentApi {
    #[tracing::instrument(skip_all)]
    async fn set_opening_hours(
        &self,
        request: Request<SetOpeningHoursRequest>,
    ) -> Result<Response<SetOpeningHoursResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0
                .set_opening_hours(&context, request.into_inner())
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn add_closure(
        &self,
        request: Request<AddClosureRequest>,
    ) -> Result<Response<AddClosureResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.add_closure(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn set_operator_schedule(
        &self,
        request: Request<SetOperatorScheduleRequest>,
    ) -> Result<Response<SetOperatorScheduleResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0
                .set_operator_schedule(&context, request.into_inner())
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_booking_rules(
        &self,
        request: Request<GetBookingRulesRequest>,
    ) -> Result<Response<GetBookingRulesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.rules(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn set_booking_rules(
        &self,
        request: Request<SetBookingRulesRequest>,
    ) -> Result<Response<SetBookingRulesResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.set_rules(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn search_slots(
        &self,
        request: Request<SearchSlotsRequest>,
    ) -> Result<Response<SearchSlotsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.search(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn book(&self, request: Request<BookRequest>) -> Result<Response<BookResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.book(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_booking(
        &self,
        request: Request<ConfirmBookingRequest>,
    ) -> Result<Response<ConfirmBookingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.confirm(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_booking(
        &self,
        request: Request<GetBookingRequest>,
    ) -> Result<Response<GetBookingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.get(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_booking(
        &self,
        request: Request<CancelBookingRequest>,
    ) -> Result<Response<CancelBookingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.cancel(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn reschedule_booking(
        &self,
        request: Request<RescheduleBookingRequest>,
    ) -> Result<Response<RescheduleBookingResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.reschedule(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn list_bookings(
        &self,
        request: Request<ListBookingsRequest>,
    ) -> Result<Response<ListBookingsResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.list(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn check_in(
        &self,
        request: Request<CheckInRequest>,
    ) -> Result<Response<CheckInResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.check_in(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn join_waitlist(
        &self,
        request: Request<JoinWaitlistRequest>,
    ) -> Result<Response<JoinWaitlistResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.join_waitlist(&context, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_waitlist_entry(
        &self,
        request: Request<GetWaitlistEntryRequest>,
    ) -> Result<Response<GetWaitlistEntryResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0
                .waitlist_entry(&context, request.into_inner())
                .await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn accept_waitlist_offer(
        &self,
        request: Request<AcceptWaitlistOfferRequest>,
    ) -> Result<Response<AcceptWaitlistOfferResponse>, Status> {
        let context = CallContext::of(&request)?.clone();
        Ok(Response::new(
            self.0.accept_offer(&context, request.into_inner()).await?,
        ))
    }
}
