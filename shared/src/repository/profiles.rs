//! User profiles (`id`, `display_name`): written once per user, read in batches for embedding.

use super::batch::{self, BatchRead, batch_get};
use super::error::failed;
use super::put::{Condition, put_if};
use super::{StoreError, keys};
use crate::domain::{OwnerId, Profile};
use aws_sdk_dynamodb::Client;

#[derive(Clone)]
pub struct DynamoProfileRepository {
    client: Client,
    table: String,
}

impl DynamoProfileRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Creates the profile unless one exists; an existing profile is left as it is.
    pub(crate) async fn create_if_absent(&self, profile: &Profile) -> Result<(), StoreError> {
        let mut record = keys::profile_key(&profile.id);
        let fields: batch::Record = serde_dynamo::to_item(profile).map_err(failed("encode profile"))?;
        record.extend(fields);
        // Refused means a profile exists already: it stays as it is.
        put_if(&self.client, &self.table, record, Condition::absent(), "put profile").await.map(|_| ())
    }

    /// The profiles of `users` that exist, in one `BatchGetItem` per 100 users.
    pub(crate) async fn get_many(&self, users: &[OwnerId]) -> Result<Vec<Profile>, StoreError> {
        let mut unique: Vec<&OwnerId> = users.iter().collect();
        unique.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        unique.dedup();
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let keys = unique.into_iter().map(keys::profile_key).collect();
        let records = batch_get(&self.client, &self.table, keys, &BatchRead::default()).await?;
        records.into_iter().map(|record| serde_dynamo::from_item(record).map_err(failed("decode profile"))).collect()
    }
}
