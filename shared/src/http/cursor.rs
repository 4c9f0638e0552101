//! Opaque pagination cursors. A cursor names where a page ended and the query it belongs to,
//! sealed with AES-256-GCM-SIV: nothing in it can be read (a page that ends on a row the caller may
//! not see reveals neither its id, nor its price, nor its creation time), and tampering, or reuse
//! with a different filter or sort (the query is the associated data), is a clear 400.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hmac, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::ApiError;
use crate::domain::{ItemId, ListQuery, Money, OrderId, PagePosition};

/// Bound into every cursor, so a later format is never mistaken for this one.
const VERSION: &str = "v2";

pub struct CursorCodec {
    key: LessSafeKey,
}

impl CursorCodec {
    /// The sealing key is derived from `secret` for this purpose alone.
    pub fn new(secret: &[u8]) -> Self {
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), b"pagination-cursor-aead/v2");
        let key = UnboundKey::new(&AES_256_GCM_SIV, derived.as_ref()).expect("a 32-byte key fits AES-256");
        Self { key: LessSafeKey::new(key) }
    }

    /// An item-list cursor: valid only for the same status filter, sort field and order.
    pub fn encode(&self, query: &ListQuery, position: PagePosition) -> String {
        let price = position.price.map_or_else(|| "-".to_owned(), |price| price.get().to_string());
        self.seal(&item_scope(query), &format!("{}|{price}", position.id))
    }

    pub fn decode(&self, cursor: &str, query: &ListQuery) -> Result<PagePosition, ApiError> {
        let position = self.open(cursor, &item_scope(query)).and_then(|position| {
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
    pub(crate) fn encode_order(&self, id: OrderId) -> String {
        self.seal(ORDER_SCOPE, &id.to_string())
    }

    pub fn decode_order(&self, cursor: &str) -> Result<OrderId, ApiError> {
        self.open(cursor, ORDER_SCOPE).and_then(|id| ItemId::parse(&id)).ok_or_else(invalid_cursor)
    }

    /// base64url(nonce ‖ ciphertext ‖ tag). GCM-SIV stays safe even if a random nonce repeats.
    fn seal(&self, scope: &str, position: &str) -> String {
        let mut nonce = [0_u8; NONCE_LEN];
        // The system's random source failing leaves a zero nonce: still sealed, as GCM-SIV allows.
        let _ = rand::fill(&mut nonce);
        let mut sealed = position.as_bytes().to_vec();
        let aad = Aad::from(format!("{VERSION}|{scope}"));
        if self.key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad, &mut sealed).is_err() {
            // Only for inputs over AES-GCM-SIV's size limit, which a position never reaches.
            return String::new();
        }
        let mut cursor = nonce.to_vec();
        cursor.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(cursor)
    }

    /// The position, if the cursor is authentic and was made for `scope`.
    fn open(&self, cursor: &str, scope: &str) -> Option<String> {
        let mut bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut sealed = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let aad = Aad::from(format!("{VERSION}|{scope}"));
        let position = self.key.open_in_place(nonce, aad, &mut sealed).ok()?;
        String::from_utf8(position.to_vec()).ok()
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
        let mut flipped = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut flipped_body = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        flipped_body[NONCE_LEN] ^= 1;
        for bad in [
            URL_SAFE_NO_PAD.encode(flipped),
            URL_SAFE_NO_PAD.encode(flipped_body),
            "abc".to_owned(),
            "a.b".to_owned(),
            String::new(),
        ] {
            assert!(codec.decode(&bad, &query).is_err(), "{bad:?} must be rejected");
        }
        assert!(CursorCodec::new(b"other key").decode(&cursor, &query).is_err());
    }

    #[test]
    fn a_cursor_reveals_nothing_of_its_position() {
        let codec = CursorCodec::new(b"k");
        let position = position();
        let cursor = codec.encode(&ListQuery::default(), position);
        let bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for secret in [position.id.to_string(), "250".to_owned(), "items".to_owned()] {
            assert!(!text.contains(&secret), "{secret} readable in {text:?}");
        }
        assert_ne!(codec.encode(&ListQuery::default(), position), cursor, "each cursor has its own nonce");
    }
}
