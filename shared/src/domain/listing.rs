//! What a list request asks for, and one page of what it gets.

use super::{FieldSet, ItemId, ItemStatus, Money, OwnerId};

pub const DEFAULT_PAGE_LIMIT: u16 = 20;
pub(crate) const MAX_PAGE_LIMIT: u16 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    #[default]
    CreatedAt,
    Price,
}

impl SortField {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "created_at" => Some(Self::CreatedAt),
            "price" => Some(Self::Price),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::Price => "price",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    Asc,
    /// Newest (or most expensive) first unless asked otherwise.
    #[default]
    Desc,
}

impl SortOrder {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "asc" => Some(Self::Asc),
            "desc" => Some(Self::Desc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Asc => "asc",
            Self::Desc => "desc",
        }
    }
}

/// 1..=100 items per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u16);

impl PageLimit {
    pub fn parse(raw: &str) -> Option<Self> {
        raw.parse::<u16>().ok().filter(|n| (1..=MAX_PAGE_LIMIT).contains(n)).map(Self)
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(DEFAULT_PAGE_LIMIT)
    }
}

/// Where the previous page ended: the last item's sort values, enough to rebuild the index key.
/// `price` is absent when the page ended on a creation-time index, which does not need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagePosition {
    pub id: ItemId,
    pub price: Option<Money>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<ItemStatus>,
    pub sort: SortField,
    pub order: SortOrder,
    pub limit: PageLimit,
    pub fields: Option<FieldSet>,
    pub after: Option<PagePosition>,
    /// `include=owner`: embed each item's owner profile (implies reading `owner_id`).
    pub include_owner: bool,
    /// When set, drafts are listed only if this user owns them (see `Principal::can_see`).
    pub drafts_of: Option<OwnerId>,
}

/// One page of results and where the next one starts, if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<PagePosition>,
}
