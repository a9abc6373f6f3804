//! A gRPC client that has never seen Sportello's protos: it learns every service and
//! message from the server's reflection service (v1), builds requests from JSON and
//! decodes replies into JSON — as grpcurl does.

use futures::StreamExt;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use sportello_kit::PeerChannel as Channel;
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

/// What reflection told us about one server.
#[derive(Debug)]
pub struct Reflected {
    /// Advertised service names.
    pub services: Vec<String>,
    /// Every file descriptor it sent.
    pub pool: DescriptorPool,
}

async fn ask(channel: &Channel, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel.clone());
    let outbound = futures::stream::iter([ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    }]);
    let mut replies = client
        .server_reflection_info(outbound)
        .await
        .expect("reflection call")
        .into_inner();
    let reply = replies
        .next()
        .await
        .expect("a reply")
        .expect("a good reply");
    reply.message_response.expect("a message response")
}

/// Lists the services and loads every descriptor they need.
pub async fn reflect(channel: &Channel) -> Reflected {
    let MessageResponse::ListServicesResponse(list) =
        ask(channel, MessageRequest::ListServices(String::new())).await
    else {
        panic!("ListServices did not answer a list");
    };
    let services: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    let mut files = Vec::new();
    for service in &services {
        let MessageResponse::FileDescriptorResponse(reply) = ask(
            channel,
            MessageRequest::FileContainingSymbol(service.clone()),
        )
        .await
        else {
            panic!("no descriptor for {service}");
        };
        for bytes in reply.file_descriptor_proto {
            files.push(
                prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("a descriptor"),
            );
        }
    }
    // Files arrive once per symbol asked; keep the first of each, then fetch the
    // imports that did not come along, by name, as grpcurl does.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.name.clone()));
    let mut missing: Vec<String> = files.iter().flat_map(|f| f.dependency.clone()).collect();
    while let Some(name) = missing.pop() {
        if !seen.insert(Some(name.clone())) {
            continue;
        }
        let MessageResponse::FileDescriptorResponse(reply) =
            ask(channel, MessageRequest::FileByFilename(name.clone())).await
        else {
            panic!("no descriptor for file {name}");
        };
        for bytes in reply.file_descriptor_proto {
            let file =
                prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("a descriptor");
            missing.extend(file.dependency.iter().cloned());
            seen.insert(file.name.clone());
            files.push(file);
        }
    }
    let pool =
        DescriptorPool::from_file_descriptor_set(prost_types::FileDescriptorSet { file: files })
            .expect("a consistent set of descriptors");
    Reflected { services, pool }
}

impl Reflected {
    /// The method `Service/Method`.
    pub fn method(&self, service: &str, method: &str) -> MethodDescriptor {
        self.pool
            .get_service_by_name(service)
            .unwrap_or_else(|| panic!("service {service} not described"))
            .methods()
            .find(|m| m.name() == method)
            .unwrap_or_else(|| panic!("method {method} not in {service}"))
    }
}

/// Calls a unary method with a JSON request, attaching `context`; returns the reply as
/// JSON, or the status.
pub async fn call(
    channel: &Channel,
    method: &MethodDescriptor,
    request: serde_json::Value,
    context: &sportello_kit::CallContext,
) -> Result<serde_json::Value, Status> {
    let message = DynamicMessage::deserialize(method.input(), request)
        .expect("request JSON matches the message");
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let path = http::uri::PathAndQuery::try_from(path).expect("a valid path");
    let reply = grpc
        .unary(
            context.request(message),
            path,
            DynamicCodec(method.output()),
        )
        .await?;
    Ok(serde_json::to_value(reply.into_inner()).expect("reply as JSON"))
}

/// Encodes dynamic messages, decodes replies with the method's output descriptor.
struct DynamicCodec(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.0.clone())
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;
    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

struct DynamicDecoder(MessageDescriptor);

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
