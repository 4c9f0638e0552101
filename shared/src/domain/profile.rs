//! The minimal public profile of a user, embedded where their items are listed.

use serde::{Deserialize, Serialize};

use super::OwnerId;

pub const DISPLAY_NAME_MAX_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub id: OwnerId,
    pub display_name: String,
}

impl Profile {
    /// The display name comes from the token's `name` claim when it has a usable one, else the id.
    pub(crate) fn for_user(id: &OwnerId, name_claim: Option<&str>) -> Self {
        let display_name = name_claim
            .and_then(|name| super::text::name(name).ok())
            .filter(|name| !name.is_empty())
            .map(|name| name.chars().take(DISPLAY_NAME_MAX_CHARS).collect())
            .unwrap_or_else(|| id.as_str().to_owned());
        Self { id: id.clone(), display_name }
    }
}
