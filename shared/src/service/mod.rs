//! Services: the use cases, between HTTP handling and storage.

mod items;

pub use items::ItemService;
