//! Where an item's vector is filed in the vector index, and which slices of it a caller may search.
//!
//! DynamoDB's vector index filters inside the search (equality only, on one `HASH` attribute and
//! inline filters), so visibility is decided there, not after: a page is never emptied by hidden
//! items that rank higher. Items are filed on one of two shelves (the index's `HASH` value):
//! `public` for items everyone may see (active and archived), `draft` for drafts, with their status
//! and owner as inline filters. A search then asks one or two shelves, each with the filters the
//! caller's role and the `status` parameter imply, and merges them by score.

use crate::domain::{ItemStatus, OwnerId, Principal};

/// Which vector index (and the attribute it reads) this deployment uses. Both change together only
/// in an embedder migration (README, Search): a new index on a new attribute, filled, then switched to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorIndexConfig {
    pub name: String,
    pub attribute: String,
}

impl Default for VectorIndexConfig {
    fn default() -> Self {
        Self { name: "item_vectors".to_owned(), attribute: "embedding".to_owned() }
    }
}

/// The index's `HASH` value of items everyone may see.
pub(crate) const PUBLIC: &str = "public";
/// The index's `HASH` value of drafts, visible to their owner and to staff only.
pub(crate) const DRAFTS: &str = "draft";

/// What the worker writes beside an item's vector: the values the index searches by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    pub shelf: &'static str,
    pub status: ItemStatus,
    pub owner: OwnerId,
}

impl Filing {
    pub fn of(status: ItemStatus, owner: OwnerId) -> Self {
        let shelf = if status == ItemStatus::Draft { DRAFTS } else { PUBLIC };
        Self { shelf, status, owner }
    }
}

/// One `SearchVectors` call's equality conditions: a shelf, optionally narrowed by status and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub shelf: &'static str,
    pub status: Option<ItemStatus>,
    pub owner: Option<OwnerId>,
}

impl Slice {
    /// Whether an item filed as `filing` is in this slice.
    pub fn holds(&self, filing: &Filing) -> bool {
        self.shelf == filing.shelf
            && self.status.is_none_or(|status| status == filing.status)
            && self.owner.as_ref().is_none_or(|owner| *owner == filing.owner)
    }
}

/// The slices holding exactly the items `caller` may see that have `status` (any, for `None`).
pub(crate) fn visible_slices(caller: &Principal, status: Option<ItemStatus>) -> Vec<Slice> {
    let drafts = Slice { shelf: DRAFTS, status: None, owner: caller.owner_scope().cloned() };
    match status {
        None => vec![Slice { shelf: PUBLIC, status: None, owner: None }, drafts],
        Some(ItemStatus::Draft) => vec![drafts],
        Some(status) => vec![Slice { shelf: PUBLIC, status: Some(status), owner: None }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;

    #[test]
    fn slices_hold_exactly_what_the_caller_may_see() {
        let owners = [OwnerId::new("me"), OwnerId::new("other")];
        for role in [Role::User, Role::Moderator, Role::Admin] {
            let caller = Principal { user_id: OwnerId::new("me"), role, name: None };
            for wanted in std::iter::once(None).chain(ItemStatus::ALL.map(Some)) {
                let slices = visible_slices(&caller, wanted);
                for status in ItemStatus::ALL {
                    for owner in &owners {
                        let filing = Filing::of(status, owner.clone());
                        let expected = caller.can_see(status, owner) && wanted.is_none_or(|w| w == status);
                        let holding = slices.iter().filter(|slice| slice.holds(&filing)).count();
                        assert_eq!(holding, usize::from(expected), "{role:?} {wanted:?} {status:?} {owner:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_search_asks_at_most_two_slices() {
        let user = Principal { user_id: OwnerId::new("me"), role: Role::User, name: None };
        assert_eq!(visible_slices(&user, None).len(), 2);
        assert_eq!(visible_slices(&user, Some(ItemStatus::Active)).len(), 1);
        assert_eq!(visible_slices(&user, Some(ItemStatus::Draft))[0].owner, Some(OwnerId::new("me")));
    }
}
