//! The request and response of Amazon Bedrock Titan Text Embeddings V2, kept apart from the SDK
//! call (`bedrock.rs`, cargo feature `bedrock`) so they are tested without network.

use serde::{Deserialize, Serialize};

use super::embedder::DIMENSIONS;

/// Body of `InvokeModel` for `amazon.titan-embed-text-v2:0`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TitanRequest<'a> {
    pub input_text: &'a str,
    pub dimensions: usize,
    pub normalize: bool,
}

impl<'a> TitanRequest<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { input_text: text, dimensions: DIMENSIONS, normalize: true }
    }
}

/// The part of Titan's response we use.
#[derive(Debug, Deserialize)]
pub(crate) struct TitanResponse {
    pub embedding: Vec<f32>,
}

impl TitanResponse {
    /// The embedding, if it has the dimensions the index expects.
    pub(crate) fn into_vector(self) -> Option<Vec<f32>> {
        (self.embedding.len() == DIMENSIONS).then_some(self.embedding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titan_request_and_response_encoding() {
        let body = serde_json::to_value(TitanRequest::new("hello")).unwrap();
        assert_eq!(body, serde_json::json!({"inputText": "hello", "dimensions": 256, "normalize": true}));
        let response: TitanResponse =
            serde_json::from_str(&format!(r#"{{"embedding": {:?}, "inputTextTokenCount": 2}}"#, vec![0.5_f32; 256]))
                .unwrap();
        assert_eq!(response.into_vector().map(|v| v.len()), Some(256));
        let short: TitanResponse = serde_json::from_str(r#"{"embedding": [1.0]}"#).unwrap();
        assert!(short.into_vector().is_none());
    }
}
