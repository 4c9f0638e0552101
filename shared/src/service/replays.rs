//! Finding the stored answer of an idempotent request; records are written only inside the
//! effects' own transactions (see `http::idempotency`).

use super::error::ServiceError;
use crate::domain::{OwnerId, StoredReplay};
use crate::repository::DynamoReplayRepository;

pub struct ReplayService {
    replays: DynamoReplayRepository,
}

impl ReplayService {
    pub fn new(replays: DynamoReplayRepository) -> Self {
        Self { replays }
    }

    /// The stored response for (route, user, key), if one has not expired at `now_seconds`.
    pub async fn find(
        &self,
        route: &str,
        user: &OwnerId,
        key: &str,
        now_seconds: i64,
    ) -> Result<Option<StoredReplay>, ServiceError> {
        Ok(self.replays.find(route, user, key, now_seconds).await?)
    }
}
