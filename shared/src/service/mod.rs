//! Services: the use cases, between HTTP handling and storage.

mod items;
mod orders;
mod profiles;

pub use items::ItemService;
pub use orders::{LineWithItem, OrderService, OrderWithItems};
pub use profiles::ProfileService;
