//! Opaque, signed pagination cursors. A cursor names where a page ended and the query it belongs
//! to; an HMAC makes tampering, or reuse with a different filter or sort, a clear 400.

use aws_lc_rs::{constant_time, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::{ItemId, ListQuery, Money, OrderId, PagePosition};
use crate::error::ApiError;

const VERSION: &str = "v1";
/// 128 bits of the HMAC-SHA256 tag: plenty against forgery, and keeps cursors short.
const TAG_BYTES: usize = 16;

pub struct CursorCodec {
    key: hmac::Key,
}

impl CursorCodec {
    pub fn new(secret: &[u8]) -> Self {
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret) }
    }

    /// An item-list cursor: valid only for the same status filter, sort field and order.
    pub fn encode(&self, query: &ListQuery, position: PagePosition) -> String {
        let price = position.price.map_or_else(|| "-".to_owned(), |price| price.get().to_string());
        self.sign(&item_scope(query), &format!("{}|{price}", position.id))
    }

    pub fn decode(&self, cursor: &str, query: &ListQuery) -> Result<PagePosition, ApiError> {
        let position = self.verify(cursor, &item_scope(query)).and_then(|position| {
            let (id, price) = position.split_once('|')?;
            let price = match price {
                "-" => None,
                digits => Some(Money::new(digits.parse().ok()?)?),
            };
            Some(PagePosition { id: ItemId::parse(id)?, price })
        });
        position.ok_or_else(invalid_cursor)
    }

    /// An order-list cursor: the id of the last order on the page.
    pub fn encode_order(&self, id: OrderId) -> String {
        self.sign(ORDER_SCOPE, &id.to_string())
    }

    pub fn decode_order(&self, cursor: &str) -> Result<OrderId, ApiError> {
        self.verify(cursor, ORDER_SCOPE).and_then(|id| ItemId::parse(&id)).ok_or_else(invalid_cursor)
    }

    fn sign(&self, scope: &str, position: &str) -> String {
        let payload = format!("{VERSION}|{scope}|{position}");
        let tag = hmac::sign(&self.key, payload.as_bytes());
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(&tag.as_ref()[..TAG_BYTES]))
    }

    /// The position, if the cursor is authentic and was made for `scope`.
    fn verify(&self, cursor: &str, scope: &str) -> Option<String> {
        let (payload_b64, tag_b64) = cursor.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag_b64).ok()?;
        let expected = hmac::sign(&self.key, &payload);
        constant_time::verify_slices_are_equal(&expected.as_ref()[..TAG_BYTES], &tag).ok()?;
        let payload = String::from_utf8(payload).ok()?;
        let position = payload.strip_prefix(VERSION)?.strip_prefix('|')?.strip_prefix(scope)?.strip_prefix('|')?;
        Some(position.to_owned())
    }
}

const ORDER_SCOPE: &str = "orders";

fn invalid_cursor() -> ApiError {
    ApiError::bad_request(
        "invalid_cursor",
        "the cursor is malformed, was altered, or belongs to a query with other filters or sort",
    )
}

/// What an item cursor is only valid for: the same filter, sort field and order.
fn item_scope(query: &ListQuery) -> String {
    let status = query.status.map_or("*", |s| s.as_str());
    format!("items:{status}:{}:{}", query.sort.as_str(), query.order.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ItemStatus, SortField, SortOrder, Timestamp};

    fn position() -> PagePosition {
        PagePosition { id: ItemId::new(Timestamp::from_millis(1_700_000_000_000)), price: Money::new(250) }
    }

    #[test]
    fn round_trips_for_the_same_query() {
        let codec = CursorCodec::new(b"k");
        let query = ListQuery { status: Some(ItemStatus::Active), sort: SortField::Price, ..ListQuery::default() };
        let position = position();
        let cursor = codec.encode(&query, position);
        assert_eq!(codec.decode(&cursor, &query).unwrap(), position);
    }

    #[test]
    fn round_trips_a_position_without_price() {
        let codec = CursorCodec::new(b"k");
        let position = PagePosition { price: None, ..position() };
        let cursor = codec.encode(&ListQuery::default(), position);
        assert_eq!(codec.decode(&cursor, &ListQuery::default()).unwrap(), position);
    }

    #[test]
    fn item_and_order_cursors_are_not_interchangeable() {
        let codec = CursorCodec::new(b"k");
        let position = position();
        let order_cursor = codec.encode_order(position.id);
        assert_eq!(codec.decode_order(&order_cursor).unwrap(), position.id);
        assert!(codec.decode(&order_cursor, &ListQuery::default()).is_err());
        assert!(codec.decode_order(&codec.encode(&ListQuery::default(), position)).is_err());
    }

    #[test]
    fn rejects_a_cursor_from_another_query() {
        let codec = CursorCodec::new(b"k");
        let cursor = codec.encode(&ListQuery::default(), position());
        let other = ListQuery { order: SortOrder::Asc, ..ListQuery::default() };
        assert!(codec.decode(&cursor, &other).is_err());
    }

    #[test]
    fn rejects_tampering_and_garbage() {
        let codec = CursorCodec::new(b"k");
        let query = ListQuery::default();
        let cursor = codec.encode(&query, position());
        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD
            .encode(String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap().replace("|250", "|999"));
        for bad in [format!("{forged_payload}.{tag}"), "abc".to_owned(), "a.b".to_owned(), String::new()] {
            assert!(codec.decode(&bad, &query).is_err(), "{bad:?} must be rejected");
        }
        assert!(CursorCodec::new(b"other key").decode(&cursor, &query).is_err());
    }
}
