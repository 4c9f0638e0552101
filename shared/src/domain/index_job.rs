//! An index job: "item X changed at version V", the message a write sends the index worker.

use serde::{Deserialize, Serialize};

use super::item::ItemId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexOp {
    Upsert,
    Delete,
}

impl IndexOp {
    /// As on the wire (`upsert`, `delete`): how logs name it too.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upsert => "upsert",
            Self::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexJob {
    pub item_id: ItemId,
    pub version: u64,
    pub op: IndexOp,
    /// The request that caused the job, for the worker's logs. Optional both ways: jobs queued
    /// before it existed still parse, and a job without one does not send `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01JD7Y1V5N6X3Q2M8K4T9R0W2Z";

    #[test]
    fn a_job_queued_before_request_ids_still_parses() {
        let job: IndexJob =
            serde_json::from_str(&format!(r#"{{"item_id":"{ID}","version":3,"op":"upsert"}}"#)).expect("old job");
        assert_eq!(job.request_id, None);
        assert_eq!(job.version, 3);
    }

    #[test]
    fn the_request_id_is_sent_only_when_known() {
        let job: IndexJob =
            serde_json::from_str(&format!(r#"{{"item_id":"{ID}","version":1,"op":"delete"}}"#)).expect("job");
        assert!(!serde_json::to_string(&job).expect("encodes").contains("request_id"));
        let traced = IndexJob { request_id: Some("req-1".to_owned()), ..job };
        let text = serde_json::to_string(&traced).expect("encodes");
        assert!(text.contains(r#""request_id":"req-1""#), "{text}");
        assert_eq!(serde_json::from_str::<IndexJob>(&text).expect("round trip"), traced);
    }

    #[test]
    fn ops_are_named_as_on_the_wire() {
        for op in [IndexOp::Upsert, IndexOp::Delete] {
            assert_eq!(serde_json::to_string(&op).expect("encodes"), format!("\"{}\"", op.as_str()));
        }
    }
}
