//! Services: the use cases, between HTTP handling and storage.

mod error;
mod indexing;
mod items;
mod orders;
mod profiles;
mod ratelimit;
mod replays;
mod search;

pub use error::ServiceError;
pub use indexing::{IndexNotifier, Indexer};
pub use items::ItemService;
pub use orders::OrderService;
pub use profiles::ProfileService;
pub use ratelimit::RateLimiter;
pub use replays::ReplayService;
pub use search::{MIN_SCORE, SearchQuery, SearchService};

use std::sync::Arc;

use crate::cache::{CachedItemRepository, ItemCache};
use crate::repository::DynamoItemRepository;

/// Items as the API reads and writes them: DynamoDB behind the fenced cache (off by default). The
/// worker, search and orders read DynamoDB directly.
pub(crate) type ApiItemRepository = CachedItemRepository<DynamoItemRepository, Arc<ItemCache>>;
/// The services over plain DynamoDB items.
pub type Orders = OrderService<DynamoItemRepository>;
pub type Search = SearchService<DynamoItemRepository>;
pub(crate) type IndexerOverDynamo = Indexer<DynamoItemRepository>;
