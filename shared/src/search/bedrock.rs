//! Amazon Bedrock Titan Text Embeddings V2 through the AWS SDK (cargo feature `bedrock`). The
//! request and response shapes live in `titan.rs`, where they are tested without network.

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::primitives::Blob;

use super::embedder::EmbedError;
use super::titan::{TitanRequest, TitanResponse};

pub struct BedrockEmbedder {
    client: Client,
    model_id: String,
}

impl BedrockEmbedder {
    pub fn new(client: Client, model_id: impl Into<String>) -> Self {
        Self { client, model_id: model_id.into() }
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let body = serde_json::to_vec(&TitanRequest::new(text)).map_err(|e| EmbedError::Call(e.into()))?;
        let output = self
            .client
            .invoke_model()
            .model_id(&self.model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| EmbedError::Call(e.into()))?;
        let response: TitanResponse =
            serde_json::from_slice(output.body.as_ref()).map_err(|e| EmbedError::Answer(e.into()))?;
        let dimensions = response.embedding.len();
        response.into_vector().ok_or(EmbedError::Dimensions(dimensions))
    }
}
