//! Profiles: created the first time a user creates something, read in batches to embed owners.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::error::ServiceError;
use crate::domain::{OwnerId, Principal, Profile};
use crate::repository::DynamoProfileRepository;

pub struct ProfileService {
    repository: DynamoProfileRepository,
    /// Users whose profile this container already made sure of: at most one write per user per
    /// container, and none on reads.
    known: Mutex<HashSet<OwnerId>>,
}

impl ProfileService {
    pub fn new(repository: DynamoProfileRepository) -> Self {
        Self { repository, known: Mutex::new(HashSet::new()) }
    }

    pub async fn ensure(&self, caller: &Principal) -> Result<(), ServiceError> {
        if self.known.lock().is_ok_and(|known| known.contains(&caller.user_id)) {
            return Ok(());
        }
        let profile = Profile::for_user(&caller.user_id, caller.name.as_deref());
        self.repository.create_if_absent(&profile).await?;
        if let Ok(mut known) = self.known.lock() {
            known.insert(caller.user_id.clone());
        }
        Ok(())
    }

    /// The profiles of these users, by id, in one `BatchGetItem` per 100 users.
    pub(crate) async fn by_id(&self, users: &[OwnerId]) -> Result<HashMap<OwnerId, Profile>, ServiceError> {
        let profiles = self.repository.get_many(users).await?;
        Ok(profiles.into_iter().map(|profile| (profile.id.clone(), profile)).collect())
    }
}
