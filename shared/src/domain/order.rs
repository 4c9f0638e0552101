//! Orders: what a client may ask for (parsed once), and what an order is once placed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{FieldError, ItemId, Money, OwnerId, StockBuckets, Timestamp};

pub const MAX_ORDER_LINES: usize = 25;
pub(crate) const MAX_QUANTITY: u64 = 10_000;

/// Orders share the item id scheme: a time-sortable ULID.
pub(crate) type OrderId = ItemId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Placed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

/// One requested line: which item, how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineRequest {
    pub item_id: ItemId,
    pub quantity: u64,
}

/// The body of `POST /api/orders`: 1..=25 lines, quantities 1..=10 000, no item twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderRequest {
    pub lines: Vec<LineRequest>,
}

impl OrderRequest {
    pub fn parse(body: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        for key in body.keys().filter(|key| key.as_str() != "lines") {
            errors.push(FieldError::new(key.as_str(), "unknown_field", "is not a field of an order request"));
        }
        let Some(raw_lines) = body.get("lines") else {
            errors.push(FieldError::new("lines", "required", "is required"));
            return Err(errors);
        };
        let Some(raw_lines) = raw_lines.as_array() else {
            errors.push(FieldError::new("lines", "invalid_type", "must be an array"));
            return Err(errors);
        };
        if raw_lines.is_empty() || raw_lines.len() > MAX_ORDER_LINES {
            errors.push(FieldError::new("lines", "invalid_length", format!("must have 1 to {MAX_ORDER_LINES} lines")));
            return Err(errors);
        }
        let mut lines: Vec<LineRequest> = Vec::with_capacity(raw_lines.len());
        for (index, raw) in raw_lines.iter().enumerate() {
            match parse_line(index, raw) {
                Ok(line) if lines.iter().any(|seen| seen.item_id == line.item_id) => errors.push(FieldError::new(
                    format!("lines[{index}].item_id"),
                    "duplicate",
                    "each item may appear on one line only; raise its quantity instead",
                )),
                Ok(line) => lines.push(line),
                Err(mut line_errors) => errors.append(&mut line_errors),
            }
        }
        if errors.is_empty() { Ok(Self { lines }) } else { Err(errors) }
    }
}

fn parse_line(index: usize, raw: &Value) -> Result<LineRequest, Vec<FieldError>> {
    let field = |name: &str| format!("lines[{index}].{name}");
    let Some(object) = raw.as_object() else {
        return Err(vec![FieldError::new(format!("lines[{index}]"), "invalid_type", "must be an object")]);
    };
    let mut errors = Vec::new();
    for key in object.keys().filter(|key| !matches!(key.as_str(), "item_id" | "quantity")) {
        errors.push(FieldError::new(field(key), "unknown_field", "is not a field of an order line"));
    }
    let item_id = match object.get("item_id").map(|v| v.as_str().and_then(ItemId::parse)) {
        Some(Some(id)) => Some(id),
        Some(None) => {
            errors.push(FieldError::new(field("item_id"), "invalid", "must be an item id"));
            None
        }
        None => {
            errors.push(FieldError::new(field("item_id"), "required", "is required"));
            None
        }
    };
    let quantity = match object.get("quantity").map(super::item::integer) {
        Some(Some(quantity)) if (1..=i128::from(MAX_QUANTITY)).contains(&quantity) => Some(quantity as u64),
        Some(_) => {
            errors.push(FieldError::new(
                field("quantity"),
                "out_of_range",
                format!("must be an integer from 1 to {MAX_QUANTITY}"),
            ));
            None
        }
        None => {
            errors.push(FieldError::new(field("quantity"), "required", "is required"));
            None
        }
    };
    match (item_id, quantity) {
        (Some(item_id), Some(quantity)) if errors.is_empty() => Ok(LineRequest { item_id, quantity }),
        _ => Err(errors),
    }
}

/// A placed order line: the price is the item's price when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// 1-based position in the order.
    pub line: u32,
    pub item_id: ItemId,
    pub quantity: u64,
    pub unit_price: Money,
    pub line_total: Money,
    /// How many ways the item's stock was split when the order was priced; the order's
    /// transaction checks it again. Never stored or shown.
    #[serde(skip)]
    pub stock_buckets: StockBuckets,
    /// Where a split item's units came from, so a cancel returns each to its counter. Stored
    /// with the line (see the order repository), never shown to clients.
    #[serde(skip_serializing, default)]
    pub stock_draws: Vec<StockDraw>,
}

/// Units one order line took from one stock counter of a split item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockDraw {
    pub counter: u8,
    pub quantity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub owner_id: OwnerId,
    pub status: OrderStatus,
    pub total: Money,
    pub line_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An order with its lines, as returned by `GET /api/orders/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: Order,
    pub lines: Vec<OrderLine>,
}

/// Why one line of an order could not be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    NotFound,
    NotActive,
    OutOfStock,
    PriceChanged,
}

impl LineProblem {
    pub fn code(self) -> &'static str {
        match self {
            LineProblem::NotFound => "not_found",
            LineProblem::NotActive => "not_active",
            LineProblem::OutOfStock => "out_of_stock",
            LineProblem::PriceChanged => "price_changed",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            LineProblem::NotFound => "no such item",
            LineProblem::NotActive => "the item is not active",
            LineProblem::OutOfStock => "not enough stock",
            LineProblem::PriceChanged => "the item's price changed while ordering; retry",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const A: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3PA";
    const B: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3PB";

    fn parse(value: Value) -> Result<OrderRequest, Vec<(String, &'static str)>> {
        OrderRequest::parse(value.as_object().unwrap())
            .map_err(|errors| errors.into_iter().map(|e| (e.field, e.code)).collect())
    }

    #[test]
    fn parses_lines() {
        let order = parse(json!({"lines": [{"item_id": A, "quantity": 2}, {"item_id": B, "quantity": 1}]})).unwrap();
        assert_eq!(order.lines.len(), 2);
        assert_eq!(order.lines[0].quantity, 2);
        let floats = parse(json!({"lines": [{"item_id": A, "quantity": 2.0}, {"item_id": B, "quantity": 1.5}]}));
        assert_eq!(
            floats.unwrap_err(),
            [("lines[1].quantity".to_owned(), "out_of_range")],
            "2.0 is an integer, 1.5 not"
        );
    }

    #[test]
    fn rejects_bad_lines_each_by_path() {
        let errors = parse(json!({"lines": [
            {"item_id": A, "quantity": 0},
            {"item_id": "nope", "quantity": 1},
            {"item_id": B},
            {"item_id": A, "quantity": 1},
        ]}))
        .unwrap_err();
        assert_eq!(
            errors,
            [
                ("lines[0].quantity".to_owned(), "out_of_range"),
                ("lines[1].item_id".to_owned(), "invalid"),
                ("lines[2].quantity".to_owned(), "required"),
            ]
        );
        let duplicate = parse(json!({"lines": [{"item_id": A, "quantity": 1}, {"item_id": A, "quantity": 1}]}));
        assert_eq!(duplicate.unwrap_err(), [("lines[1].item_id".to_owned(), "duplicate")]);
    }

    #[test]
    fn bounds_the_number_of_lines() {
        assert_eq!(parse(json!({"lines": []})).unwrap_err(), [("lines".to_owned(), "invalid_length")]);
        let many: Vec<Value> = (0..26).map(|_| json!({"item_id": A, "quantity": 1})).collect();
        assert_eq!(parse(json!({"lines": many})).unwrap_err(), [("lines".to_owned(), "invalid_length")]);
        assert_eq!(parse(json!({"total": 1})).unwrap_err()[0], ("total".to_owned(), "unknown_field"));
    }
}
