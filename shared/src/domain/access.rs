//! Who may do what: roles, the permissions they grant (one table, here), and item visibility.

use serde::Deserialize;

use super::{ItemStatus, OwnerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Moderator,
    User,
}

impl Role {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "admin" => Some(Self::Admin),
            "moderator" => Some(Self::Moderator),
            "user" => Some(Self::User),
            _ => None,
        }
    }

    /// The role → permission table. Every permission check in the API goes through it.
    pub(crate) fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Admin => &[Permission::Read, Permission::Write, Permission::Delete, Permission::Admin],
            Role::Moderator => &[Permission::Read, Permission::Write, Permission::Delete],
            Role::User => &[Permission::Read, Permission::Write],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Write,
    Delete,
    Admin,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Delete => "delete",
            Permission::Admin => "admin",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: OwnerId,
    pub role: Role,
    /// The token's `name` claim, if any: the display name of a new profile.
    pub name: Option<String>,
}

impl Principal {
    pub fn has(&self, permission: Permission) -> bool {
        self.role.permissions().contains(&permission)
    }

    /// Moderators and admins act on any item; users only on their own.
    pub(crate) fn is_staff(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Moderator)
    }

    /// The owner whose items alone this caller may change, and whose drafts alone they may see:
    /// `None` for staff, who act on any item.
    pub(crate) fn owner_scope(&self) -> Option<&OwnerId> {
        (!self.is_staff()).then_some(&self.user_id)
    }

    /// Drafts are visible only to their owner and to staff; other statuses to everyone.
    pub(crate) fn can_see(&self, status: ItemStatus, owner: &OwnerId) -> bool {
        status != ItemStatus::Draft || self.is_staff() || *owner == self.user_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role) -> Principal {
        Principal { user_id: OwnerId::new("me"), role, name: None }
    }

    #[test]
    fn permission_table_matches_the_documented_one() {
        let granted = |role: Role| role.permissions().iter().map(|p| p.as_str()).collect::<Vec<_>>();
        assert_eq!(granted(Role::Admin), ["read", "write", "delete", "admin"]);
        assert_eq!(granted(Role::Moderator), ["read", "write", "delete"]);
        assert_eq!(granted(Role::User), ["read", "write"]);
    }

    #[test]
    fn drafts_are_visible_to_owner_and_staff_only() {
        let other = OwnerId::new("other");
        assert!(!principal(Role::User).can_see(ItemStatus::Draft, &other));
        assert!(principal(Role::User).can_see(ItemStatus::Draft, &OwnerId::new("me")));
        assert!(principal(Role::User).can_see(ItemStatus::Active, &other));
        assert!(principal(Role::Moderator).can_see(ItemStatus::Draft, &other));
        assert!(principal(Role::Admin).can_see(ItemStatus::Draft, &other));
    }

    #[test]
    fn only_users_are_scoped_to_their_own_items() {
        assert_eq!(principal(Role::User).owner_scope(), Some(&OwnerId::new("me")));
        assert_eq!(principal(Role::Moderator).owner_scope(), None);
    }
}
