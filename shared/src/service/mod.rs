//! Services: the use cases, between HTTP handling and storage.

mod indexing;
mod items;
mod orders;
mod profiles;
mod search;

pub use indexing::{IndexNotifier, Indexer};
pub use items::ItemService;
pub use orders::{LineWithItem, OrderService, OrderWithItems};
pub use profiles::ProfileService;
pub use search::{ScoredItem, SearchQuery, SearchService};
