//! The item resource: its identifiers, its fields and the rules each field obeys.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ulid::Ulid;

use super::{FieldError, Timestamp, text};

/// Largest integer a JSON client (JavaScript's `Number`) reads back exactly: 2^53 - 1.
pub(crate) const MAX_SAFE_INTEGER: u64 = 9_007_199_254_740_991;
pub(crate) const NAME_MAX_CHARS: usize = 200;
pub(crate) const DESCRIPTION_MAX_CHARS: usize = 5000;

/// Server-generated, time-sortable id (a ULID: 48 bits of milliseconds, 80 random bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(Ulid);

impl ItemId {
    pub fn new(now: Timestamp) -> Self {
        Self(Ulid::from_datetime(now.as_system_time()))
    }

    /// Accepts the 26-character Crockford base32 form, any case.
    pub fn parse(raw: &str) -> Option<Self> {
        Ulid::from_string(raw).ok().map(Self)
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ItemId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ItemId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("invalid item id"))
    }
}

/// 1..=200 characters after trimming and NFC, visible characters only (see `text::name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemName(String);

impl ItemName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = text::name(raw).map_err(|(code, message)| FieldError::new("name", code, message))?;
        if text.is_empty() {
            return Err(FieldError::new("name", "required", "must not be empty"));
        }
        if text.chars().count() > NAME_MAX_CHARS {
            return Err(FieldError::new("name", "too_long", format!("must be at most {NAME_MAX_CHARS} characters")));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most 5000 characters after NFC; line breaks and tabs allowed (see `text::description`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let text = text::description(raw).map_err(|(code, message)| FieldError::new("description", code, message))?;
        if text.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(FieldError::new(
                "description",
                "too_long",
                format!("must be at most {DESCRIPTION_MAX_CHARS} characters"),
            ));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(raw: String) -> Result<Self, FieldError> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    )*};
}
string_newtype_conversions!(ItemName, Description);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    #[default]
    Draft,
    Active,
    Archived,
}

impl ItemStatus {
    pub(crate) const ALL: [ItemStatus; 3] = [ItemStatus::Draft, ItemStatus::Active, ItemStatus::Archived];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Draft => "draft",
            ItemStatus::Active => "active",
            ItemStatus::Archived => "archived",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == raw)
    }
}

/// A price in minor units (cents): never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(u64);

/// Units in stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stock(u64);

macro_rules! bounded_count {
    ($($name:ident),*) => {$(
        impl $name {
            pub fn new(value: u64) -> Option<Self> {
                (value <= MAX_SAFE_INTEGER).then_some(Self(value))
            }

            pub fn get(self) -> u64 {
                self.0
            }
        }
    )*};
}
bounded_count!(Money, Stock);

/// How many counters an item's stock is split over. One (the default) keeps the stock on the item
/// itself; more spread a flash sale's orders over that many partitions (README, Scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct StockBuckets(u8);

impl StockBuckets {
    pub(crate) const ONE: StockBuckets = StockBuckets(1);
    /// A split item's writes rewrite every counter in one transaction (at most 100 writes).
    pub const MAX: u8 = 32;

    pub fn new(value: u64) -> Option<Self> {
        (1..=u64::from(Self::MAX)).contains(&value).then_some(Self(value as u8))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// Whether the stock lives in separate counters rather than on the item.
    pub(crate) fn is_split(self) -> bool {
        self.0 > 1
    }
}

impl Default for StockBuckets {
    fn default() -> Self {
        Self::ONE
    }
}

impl TryFrom<u64> for StockBuckets {
    type Error = String;
    fn try_from(value: u64) -> Result<Self, String> {
        Self::new(value).ok_or_else(|| format!("stock_buckets must be from 1 to {}", Self::MAX))
    }
}

impl From<StockBuckets> for u64 {
    fn from(value: StockBuckets) -> u64 {
        u64::from(value.0)
    }
}

fn parse_buckets(value: &Value) -> Result<StockBuckets, FieldError> {
    let out_of_range =
        || FieldError::new("stock_buckets", "out_of_range", format!("must be from 1 to {}", StockBuckets::MAX));
    match integer(value) {
        None => Err(FieldError::new("stock_buckets", "invalid_type", "must be an integer")),
        Some(count) => u64::try_from(count).ok().and_then(StockBuckets::new).ok_or_else(out_of_range),
    }
}

/// Reads a non-negative JSON integer no larger than [`MAX_SAFE_INTEGER`].
fn parse_count(field: &str, value: &Value) -> Result<u64, FieldError> {
    match integer(value) {
        None => Err(FieldError::new(field, "invalid_type", "must be a non-negative integer")),
        Some(negative) if negative < 0 => Err(FieldError::new(field, "out_of_range", "must not be negative")),
        Some(count) if count > i128::from(MAX_SAFE_INTEGER) => {
            Err(FieldError::new(field, "out_of_range", format!("must be at most {MAX_SAFE_INTEGER}")))
        }
        Some(count) => Ok(count as u64),
    }
}

/// A JSON number's integer value, read as JSON Schema reads `integer`: any number with a zero
/// fractional part, so `2`, `2.0` and `2e0` are all 2 (clients that hold numbers as floats send
/// those), and `2.5` is none. Beyond ±2^64 the value only needs to be out of every range.
pub(crate) fn integer(value: &Value) -> Option<i128> {
    let number = value.as_number()?;
    if let Some(unsigned) = number.as_u64() {
        return Some(i128::from(unsigned));
    }
    if let Some(signed) = number.as_i64() {
        return Some(i128::from(signed));
    }
    let float = number.as_f64()?;
    (float.fract() == 0.0).then(|| float.clamp(-1e20, 1e20) as i128)
}

/// The user who owns an item: the `sub` of the token that created it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OwnerId(String);

impl OwnerId {
    pub fn new(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Bumped by every write; the item's `ETag` is this number, quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    pub(crate) const FIRST: Version = Version(1);

    pub fn new(value: u64) -> Self {
        Self(value)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    pub fn etag(self) -> String {
        format!("\"{}\"", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub name: ItemName,
    pub description: Description,
    pub status: ItemStatus,
    pub price: Money,
    pub stock: Stock,
    /// Records written before the field existed hold their stock on the item: one bucket.
    #[serde(default)]
    pub stock_buckets: StockBuckets,
    pub owner_id: OwnerId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: Version,
}

impl Item {
    /// A brand-new item at version 1.
    pub fn create(id: ItemId, content: ItemChanges, owner_id: OwnerId, now: Timestamp) -> Self {
        Self {
            id,
            name: content.name,
            description: content.description,
            status: content.status,
            price: content.price,
            stock: content.stock,
            stock_buckets: content.stock_buckets,
            owner_id,
            created_at: now,
            updated_at: now,
            version: Version::FIRST,
        }
    }
}

/// Some or all of an item's fields, as read with a projection: absent fields are left out of JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ItemView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<ItemId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<ItemName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<Stock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock_buckets: Option<StockBuckets>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<OwnerId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
}

impl ItemView {
    /// Clears every field not in `fields`.
    pub fn retain(&mut self, fields: super::FieldSet) {
        use super::ItemField as F;
        // Each field the set leaves out is cleared; the list names every field once.
        macro_rules! clear_unless_kept {
            ($($field:ident => $slot:ident),* $(,)?) => {
                $(if !fields.contains(F::$field) { self.$slot = None; })*
            };
        }
        clear_unless_kept!(
            Id => id, Name => name, Description => description, Status => status, Price => price, Stock => stock,
            StockBuckets => stock_buckets, OwnerId => owner_id, CreatedAt => created_at, UpdatedAt => updated_at, Version => version,
        );
    }
}

/// Fields the server owns: a client that sends one is told so, never silently ignored.
const SERVER_OWNED: [&str; 5] = ["id", "owner_id", "version", "created_at", "updated_at"];

/// The client-owned fields of an item, all present: the body of a create or a full replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemChanges {
    pub name: ItemName,
    pub description: Description,
    pub status: ItemStatus,
    pub price: Money,
    pub stock: Stock,
    pub stock_buckets: StockBuckets,
}

/// The fields a PATCH sends; at least one is present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemPatch {
    pub name: Option<ItemName>,
    pub description: Option<Description>,
    pub status: Option<ItemStatus>,
    pub price: Option<Money>,
    pub stock: Option<Stock>,
    pub stock_buckets: Option<StockBuckets>,
}

impl ItemPatch {
    /// Parses every field of a JSON object and reports every bad one, not just the first.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut patch = ItemPatch::default();
        let mut errors = Vec::new();
        for (key, value) in body {
            let outcome = match key.as_str() {
                "name" => expect_str(key, value).and_then(ItemName::parse).map(|v| patch.name = Some(v)),
                "description" => {
                    expect_str(key, value).and_then(Description::parse).map(|v| patch.description = Some(v))
                }
                "status" => parse_status(value).map(|v| patch.status = Some(v)),
                "price" => parse_count(key, value).map(|v| patch.price = Money::new(v)),
                "stock" => parse_count(key, value).map(|v| patch.stock = Stock::new(v)),
                "stock_buckets" => parse_buckets(value).map(|v| patch.stock_buckets = Some(v)),
                owned if SERVER_OWNED.contains(&owned) => {
                    Err(FieldError::new(owned, "read_only", "is set by the server and cannot be sent"))
                }
                unknown => Err(FieldError::new(unknown, "unknown_field", "is not a field of an item")),
            };
            if let Err(error) = outcome {
                errors.push(error);
            }
        }
        if errors.is_empty() && patch == ItemPatch::default() {
            errors.push(FieldError::new("body", "empty", "send at least one field to change"));
        }
        if errors.is_empty() { Ok(patch) } else { Err(errors) }
    }
}

impl ItemChanges {
    /// A full item body: `name` and `price` are required; `description` defaults to empty,
    /// `status` to `draft`, `stock` to 0, `stock_buckets` to 1 (so a PUT that omits them resets them).
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let (patch, mut errors) = match ItemPatch::parse(body) {
            Ok(patch) => (patch, Vec::new()),
            Err(errors) => (ItemPatch::default(), errors),
        };
        for required in ["name", "price"] {
            if !body.contains_key(required) {
                errors.push(FieldError::new(required, "required", "is required"));
            }
        }
        errors.retain(|e| e.field != "body");
        match patch {
            ItemPatch { name: Some(name), price: Some(price), description, status, stock, stock_buckets }
                if errors.is_empty() =>
            {
                Ok(Self {
                    name,
                    price,
                    description: description.unwrap_or_default(),
                    status: status.unwrap_or_default(),
                    stock: stock.unwrap_or(Stock(0)),
                    stock_buckets: stock_buckets.unwrap_or_default(),
                })
            }
            _ => Err(errors),
        }
    }
}

fn expect_str<'a>(field: &str, value: &'a Value) -> Result<&'a str, FieldError> {
    value.as_str().ok_or_else(|| FieldError::new(field, "invalid_type", "must be a string"))
}

fn parse_status(value: &Value) -> Result<ItemStatus, FieldError> {
    expect_str("status", value).and_then(|raw| {
        ItemStatus::parse(raw)
            .ok_or_else(|| FieldError::new("status", "invalid", "must be one of: draft, active, archived"))
    })
}

/// A change to an existing item: all client-owned fields (PUT) or some (PATCH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemWrite {
    Replace(ItemChanges),
    Patch(ItemPatch),
}

impl ItemWrite {
    /// The fields the write sets: a replacement sets every client-owned one.
    pub(crate) fn as_patch(&self) -> std::borrow::Cow<'_, ItemPatch> {
        match self {
            ItemWrite::Replace(changes) => std::borrow::Cow::Owned(ItemPatch {
                name: Some(changes.name.clone()),
                description: Some(changes.description.clone()),
                status: Some(changes.status),
                price: Some(changes.price),
                stock: Some(changes.stock),
                stock_buckets: Some(changes.stock_buckets),
            }),
            ItemWrite::Patch(patch) => std::borrow::Cow::Borrowed(patch),
        }
    }
}

/// What a conditional write requires of the stored item, beyond existing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No `If-Match`, or `If-Match: *`.
    #[default]
    Exists,
    /// `If-Match` with one or more strong ETags: the stored version must be one of them.
    VersionIn(Vec<Version>),
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn fields_of(errors: &[FieldError]) -> Vec<(&str, &str)> {
        let mut pairs: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        pairs.sort();
        pairs
    }

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(ItemName::parse("  Lamp ").map(|n| n.0), Ok("Lamp".to_owned()));
        assert_eq!(ItemName::parse("   ").map_err(|e| e.code), Err("required"));
        assert!(ItemName::parse(&"é".repeat(200)).is_ok(), "200 multi-byte chars fit");
        assert_eq!(ItemName::parse(&"a".repeat(201)).map_err(|e| e.code), Err("too_long"));
        assert_eq!(ItemName::parse("a\u{0}b").map_err(|e| e.code), Err("invalid"));
    }

    #[test]
    fn description_allows_line_breaks_but_not_other_controls() {
        assert!(Description::parse("line one\nline two\ttab").is_ok());
        assert_eq!(Description::parse("bell\u{7}").map_err(|e| e.code), Err("invalid"));
        assert_eq!(Description::parse(&"x".repeat(5001)).map_err(|e| e.code), Err("too_long"));
    }

    #[test]
    fn counts_must_be_safe_non_negative_integers() {
        assert_eq!(parse_count("price", &json!(0)), Ok(0));
        assert_eq!(parse_count("price", &json!(MAX_SAFE_INTEGER)), Ok(MAX_SAFE_INTEGER));
        assert_eq!(parse_count("price", &json!(MAX_SAFE_INTEGER + 1)).map_err(|e| e.code), Err("out_of_range"));
        assert_eq!(parse_count("price", &json!(-1)).map_err(|e| e.code), Err("out_of_range"));
        assert_eq!(parse_count("price", &json!(9.99)).map_err(|e| e.code), Err("invalid_type"));
        assert_eq!(parse_count("price", &json!(2.0)), Ok(2), "JSON Schema's integer: 2.0 is 2");
        assert_eq!(parse_count("price", &json!(1e300)).map_err(|e| e.code), Err("out_of_range"));
        assert_eq!(parse_count("price", &json!(-2.0)).map_err(|e| e.code), Err("out_of_range"));
        assert_eq!(parse_count("price", &json!("100")).map_err(|e| e.code), Err("invalid_type"));
    }

    #[test]
    fn full_body_applies_defaults() {
        let changes = ItemChanges::parse(&object(json!({"name": "Lamp", "price": 1999}))).unwrap();
        assert_eq!(changes.status, ItemStatus::Draft);
        assert_eq!(changes.stock.get(), 0);
        assert_eq!(changes.description.as_str(), "");
    }

    #[test]
    fn full_body_lists_every_bad_field() {
        let body = object(json!({
            "name": "", "price": -5, "status": "sold", "id": "x", "owner_id": "me", "colour": "red"
        }));
        let errors = ItemChanges::parse(&body).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            vec![
                ("colour", "unknown_field"),
                ("id", "read_only"),
                ("name", "required"),
                ("owner_id", "read_only"),
                ("price", "out_of_range"),
                ("status", "invalid"),
            ]
        );
    }

    #[test]
    fn full_body_requires_name_and_price() {
        let errors = ItemChanges::parse(&object(json!({}))).unwrap_err();
        assert_eq!(fields_of(&errors), vec![("name", "required"), ("price", "required")]);
    }

    #[test]
    fn patch_keeps_only_sent_fields_and_rejects_empty_and_null() {
        let patch = ItemPatch::parse(&object(json!({"stock": 3}))).unwrap();
        assert_eq!(patch, ItemPatch { stock: Stock::new(3), ..ItemPatch::default() });
        assert_eq!(fields_of(&ItemPatch::parse(&object(json!({}))).unwrap_err()), vec![("body", "empty")]);
        assert_eq!(
            fields_of(&ItemPatch::parse(&object(json!({"name": null}))).unwrap_err()),
            vec![("name", "invalid_type")]
        );
    }

    #[test]
    fn ids_are_time_ordered_and_parse_case_insensitively() {
        let earlier = ItemId::new(Timestamp::from_millis(1_000));
        let later = ItemId::new(Timestamp::from_millis(2_000));
        assert!(earlier < later);
        assert_eq!(ItemId::parse(&later.to_string().to_lowercase()), Some(later));
        assert_eq!(ItemId::parse("not-an-id"), None);
    }
}
