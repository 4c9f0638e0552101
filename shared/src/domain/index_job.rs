//! An index job: "item X changed at version V", the message a write sends the index worker.

use serde::{Deserialize, Serialize};

use super::item::ItemId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexOp {
    Upsert,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexJob {
    pub item_id: ItemId,
    pub version: u64,
    pub op: IndexOp,
}
