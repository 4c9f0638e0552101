//! The document X-Ray receives for one AWS call: a subsegment sent on its own, so it names its
//! trace and parent (the function segment Lambda records), and the daemon packet carrying it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// What the X-Ray daemon expects before each document in a UDP datagram.
const DAEMON_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// One AWS SDK call, as X-Ray's segment document describes a downstream AWS call.
#[derive(Debug, Serialize)]
pub(crate) struct Subsegment<'a> {
    /// The service (`DynamoDB`, `SQS`): the node X-Ray draws on the trace map.
    pub name: &'a str,
    pub id: String,
    pub trace_id: &'a str,
    pub parent_id: &'a str,
    pub start_time: f64,
    pub end_time: f64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub namespace: &'static str,
    pub aws: AwsCall<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Http>,
    /// 4xx (throttling included), 429 or a throttling error code, 5xx or no answer at all.
    pub error: bool,
    pub throttle: bool,
    pub fault: bool,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct AwsCall<'a> {
    pub operation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    /// Attempts after the first (the SDK's own retries).
    pub retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_names: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Http {
    pub response: HttpResponse,
}

#[derive(Debug, Serialize)]
pub struct HttpResponse {
    pub status: u16,
}

impl Subsegment<'_> {
    /// The UDP datagram for the daemon: its header line, then the document.
    pub fn packet(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut packet = DAEMON_HEADER.to_vec();
        serde_json::to_writer(&mut packet, self)?;
        Ok(packet)
    }
}

/// A new 64-bit segment id in 16 hex digits; `None` only if the system's randomness fails.
pub(crate) fn new_id() -> Option<String> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Epoch seconds as X-Ray wants them (a float, sub-millisecond digits allowed).
pub(crate) fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH).map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Subsegment<'static> {
        Subsegment {
            name: "DynamoDB",
            id: "70de5b6f19ff9a0c".to_owned(),
            trace_id: "1-5759e988-bd862e3fe1be46a994272793",
            parent_id: "53995c3f42cd8ad8",
            start_time: 1_478_293_361.271,
            end_time: 1_478_293_361.449,
            kind: "subsegment",
            namespace: "aws",
            aws: AwsCall { operation: "GetItem", table_name: Some("items"), ..AwsCall::default() },
            http: Some(Http { response: HttpResponse { status: 200 } }),
            error: false,
            throttle: false,
            fault: false,
        }
    }

    #[test]
    fn a_packet_is_the_daemon_header_then_the_document() {
        let packet = example().packet().expect("encodes");
        let text = String::from_utf8(packet).expect("utf-8");
        let (header, document) = text.split_once('\n').expect("two parts");
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        let document: serde_json::Value = serde_json::from_str(document).expect("JSON");
        assert_eq!(
            document,
            serde_json::json!({
                "name": "DynamoDB", "id": "70de5b6f19ff9a0c",
                "trace_id": "1-5759e988-bd862e3fe1be46a994272793", "parent_id": "53995c3f42cd8ad8",
                "start_time": 1_478_293_361.271, "end_time": 1_478_293_361.449,
                "type": "subsegment", "namespace": "aws",
                "aws": { "operation": "GetItem", "retries": 0, "table_name": "items" },
                "http": { "response": { "status": 200 } },
                "error": false, "throttle": false, "fault": false
            })
        );
    }

    #[test]
    fn ids_are_16_hex_digits_and_differ() {
        let (a, b) = (new_id().expect("random"), new_id().expect("random"));
        assert!(crate::trace::is_segment_id(&a), "{a}");
        assert_ne!(a, b);
    }
}
