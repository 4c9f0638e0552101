//! Sparse fieldsets: `fields=id,name,price` names the item fields a client wants back.

use super::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemField {
    Id,
    Name,
    Description,
    Status,
    Price,
    Stock,
    StockBuckets,
    OwnerId,
    CreatedAt,
    UpdatedAt,
    Version,
}

impl ItemField {
    pub(crate) const ALL: [ItemField; 11] = [
        ItemField::Id,
        ItemField::Name,
        ItemField::Description,
        ItemField::Status,
        ItemField::Price,
        ItemField::Stock,
        ItemField::StockBuckets,
        ItemField::OwnerId,
        ItemField::CreatedAt,
        ItemField::UpdatedAt,
        ItemField::Version,
    ];

    /// The JSON name, which is also the stored attribute name.
    pub fn name(self) -> &'static str {
        match self {
            ItemField::Id => "id",
            ItemField::Name => "name",
            ItemField::Description => "description",
            ItemField::Status => "status",
            ItemField::Price => "price",
            ItemField::Stock => "stock",
            ItemField::StockBuckets => "stock_buckets",
            ItemField::OwnerId => "owner_id",
            ItemField::CreatedAt => "created_at",
            ItemField::UpdatedAt => "updated_at",
            ItemField::Version => "version",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A non-empty set of item fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSet(u16);

impl FieldSet {
    pub fn of(fields: &[ItemField]) -> Self {
        Self(fields.iter().fold(0, |bits, field| bits | field.bit()))
    }

    pub fn all() -> Self {
        Self::of(&ItemField::ALL)
    }

    /// Parses a comma-separated list; every unknown name is reported.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let mut bits = 0;
        let mut unknown = Vec::new();
        for name in raw.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            match ItemField::ALL.into_iter().find(|field| field.name() == name) {
                Some(field) => bits |= field.bit(),
                None => unknown.push(name),
            }
        }
        if !unknown.is_empty() {
            let known: Vec<_> = ItemField::ALL.iter().map(|f| f.name()).collect();
            return Err(FieldError::new(
                "fields",
                "invalid",
                format!("unknown field(s) {}; known fields: {}", unknown.join(", "), known.join(", ")),
            ));
        }
        if bits == 0 {
            return Err(FieldError::new("fields", "invalid", "must name at least one field"));
        }
        Ok(Self(bits))
    }

    pub fn contains(self, field: ItemField) -> bool {
        self.0 & field.bit() != 0
    }

    pub fn with(self, field: ItemField) -> Self {
        Self(self.0 | field.bit())
    }

    pub fn iter(self) -> impl Iterator<Item = ItemField> {
        ItemField::ALL.into_iter().filter(move |field| self.contains(*field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_fields_in_any_order() {
        let set = FieldSet::parse("price, id,name,id").unwrap();
        let names: Vec<_> = set.iter().map(ItemField::name).collect();
        assert_eq!(names, ["id", "name", "price"]);
    }

    #[test]
    fn reports_every_unknown_field() {
        let error = FieldSet::parse("id,colour,size").unwrap_err();
        assert!(error.message.contains("colour, size"), "{}", error.message);
    }

    #[test]
    fn rejects_an_empty_list() {
        assert!(FieldSet::parse(" , ").is_err());
    }
}
