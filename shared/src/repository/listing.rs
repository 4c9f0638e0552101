//! A listing page merged from the [`keys::SHARDS`] partitions of a listing index.
//!
//! Each shard is read in index order from just after the cursor's position (a key condition on the
//! sort key, so the position need not exist in that shard) and the shards are merged in one total
//! order (sort key, then id). An item is returned only when no shard can still hold an earlier one:
//! a shard whose read-ahead ran out is read again before anything beyond what it has examined. So a
//! page is exactly the next `limit` items after the cursor, as from one partition, and the cursor
//! stays a position in that order (sealed by the HTTP layer, as before).

use std::collections::{HashMap, VecDeque};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::future::try_join_all;

use super::StoreError;
use super::error::{classify, failed};
use super::keys::{self, ListIndex};
use crate::domain::{ItemStatus, ItemView, ListQuery, PagePosition, SortOrder};

/// Query rounds one page may take (a round reads every shard that ran dry at once).
const MAX_ROUNDS_PER_PAGE: usize = 3;

/// What a listing query sends besides its key condition.
pub(super) struct ListRequest<'a> {
    pub query: &'a ListQuery,
    pub projection: (&'a str, &'a HashMap<String, String>),
    pub filter: Option<&'a VisibilityFilter>,
}

/// Non-staff callers see other users' items only when they are not drafts.
pub(super) struct VisibilityFilter {
    expression: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl VisibilityFilter {
    pub(super) fn for_query(query: &ListQuery) -> Option<Self> {
        let viewer = query.drafts_of.as_ref()?;
        let mut names = HashMap::from([("#owner_id".to_owned(), "owner_id".to_owned())]);
        let mut values = HashMap::from([(":viewer".to_owned(), AttributeValue::S(viewer.as_str().to_owned()))]);
        let expression = match query.status {
            Some(ItemStatus::Draft) => "#owner_id = :viewer",
            Some(_) => return None,
            None => {
                names.insert("#status".to_owned(), "status".to_owned());
                values.insert(":draft".to_owned(), AttributeValue::S(ItemStatus::Draft.as_str().to_owned()));
                "#status <> :draft OR #owner_id = :viewer"
            }
        };
        Some(Self { expression, names, values })
    }
}

/// What one read of one shard gave: rows in index order with their sort key values, how far the
/// shard has been examined (rows filtered out included), and where to resume (`None`: exhausted).
pub(super) struct ShardRead<T, V> {
    pub rows: Vec<(String, V)>,
    pub examined: Option<String>,
    pub resume: Option<T>,
}

struct Source<T, V> {
    buffer: VecDeque<(String, V)>,
    resume: Option<T>,
    examined: Option<String>,
    started: bool,
    exhausted: bool,
}

impl<T, V> Source<T, V> {
    fn needs_read(&self) -> bool {
        self.buffer.is_empty() && !self.exhausted
    }
}

/// Merges `shards` sorted sources into the first `page_size` rows of their union (by sort value,
/// `ascending` or descending), reading each through `read(shard, resume)` (`None` the first time),
/// in at most `rounds` rounds (a round reads every source that ran dry, concurrently). A row is
/// taken only when no source can still hold an earlier one. Returns the page and the sort value to
/// resume after, if more may follow: the last row of a full page, or, out of rounds, the earliest
/// point any dry source has been examined up to (nothing unread is skipped, and it moves on).
pub(super) async fn merge<T, V, E, F, Fut>(
    shards: usize,
    page_size: usize,
    ascending: bool,
    rounds: usize,
    read: F,
) -> Result<(Vec<(String, V)>, Option<String>), E>
where
    T: Clone,
    F: Fn(usize, Option<T>) -> Fut,
    Fut: Future<Output = Result<ShardRead<T, V>, E>>,
{
    let before = |a: &str, b: &str| if ascending { a < b } else { a > b };
    // The source whose next row comes first, among rows before `limit` (if any).
    let earliest = |sources: &[Source<T, V>], limit: Option<&str>| {
        (0..sources.len())
            .filter(|i| sources[*i].buffer.front().is_some_and(|(value, _)| limit.is_none_or(|l| before(value, l))))
            .reduce(|best, i| if before(&sources[i].buffer[0].0, &sources[best].buffer[0].0) { i } else { best })
    };
    let mut sources: Vec<Source<T, V>> = (0..shards)
        .map(|_| Source { buffer: VecDeque::new(), resume: None, examined: None, started: false, exhausted: false })
        .collect();
    // How far every dry source has been examined: nothing unread comes before it.
    let frontier = |sources: &[Source<T, V>]| {
        sources
            .iter()
            .filter(|source| source.needs_read())
            .filter_map(|source| source.examined.clone())
            .reduce(|a, b| if before(&a, &b) { a } else { b })
    };
    let mut page = Vec::new();
    let mut rounds_left = rounds;
    while page.len() <= page_size {
        let dry: Vec<usize> = (0..shards).filter(|i| sources[*i].needs_read()).collect();
        if dry.is_empty() {
            let Some(next) = earliest(&sources, None) else {
                return Ok((page, None)); // every source exhausted
            };
            page.extend(sources[next].buffer.pop_front());
            continue;
        }
        if rounds_left == 0 {
            // Out of reads: only what comes before everything a dry source may still hold is safe,
            // and a source that runs dry meanwhile moves that point back.
            let limit = frontier(&sources);
            let Some(next) = earliest(&sources, limit.as_deref()) else {
                return Ok((page, limit));
            };
            page.extend(sources[next].buffer.pop_front());
            continue;
        }
        rounds_left -= 1;
        let reads = dry.iter().map(|i| read(*i, sources[*i].started.then(|| sources[*i].resume.clone()).flatten()));
        for (i, got) in dry.iter().zip(try_join_all(reads).await?) {
            let source = &mut sources[*i];
            source.started = true;
            source.examined = got.examined.or(source.examined.take());
            source.exhausted = got.resume.is_none();
            source.resume = got.resume;
            source.buffer.extend(got.rows);
        }
    }
    // One row beyond the page: more follow, from just after the page's last row.
    page.truncate(page_size);
    let last = page.last().map(|(value, _)| value.clone());
    Ok((page, last))
}

/// The page after `query.after`, and the position to resume from if more may follow.
pub(super) async fn merged_page(
    client: &Client,
    table: &str,
    request: &ListRequest<'_>,
) -> Result<(Vec<ItemView>, Option<PagePosition>), StoreError> {
    let query = request.query;
    let index = keys::list_index(query);
    let page_size = usize::from(query.limit.get());
    let after = match query.after {
        Some(position) => Some(keys::sort_value(&index, position).ok_or_else(|| StoreError::Failed {
            context: "cursor position lacks the price its index sorts by",
            source: "bad cursor position".into(),
        })?),
        None => None,
    };
    // A page takes about (limit + 1) / SHARDS rows of each shard; twice that (plus one) leaves
    // room for an uneven spread, so one round usually fills it. Filtered, read more per call.
    let fair_share = (page_size + 1).div_ceil(usize::from(keys::SHARDS));
    let per_read = if request.filter.is_some() { (2 * fair_share + 1) * 4 } else { 2 * fair_share + 1 };
    let reads = ShardReads { client, table, request, index: &index, after: after.as_deref(), limit: per_read };
    let read = |shard: usize, resume| reads.read(&index.partitions[shard], resume);
    let ascending = query.order == SortOrder::Asc;
    let (rows, next) = merge(index.partitions.len(), page_size, ascending, MAX_ROUNDS_PER_PAGE, read).await?;
    let next = match next {
        Some(value) => Some(keys::position_of_sort_value(&index, &value).ok_or_else(|| StoreError::Failed {
            context: "listed item's sort key is not a position",
            source: "bad record".into(),
        })?),
        None => None,
    };
    Ok((rows.into_iter().map(|(_, view)| view).collect(), next))
}

/// What every read of one listing's shards shares.
struct ShardReads<'a> {
    client: &'a Client,
    table: &'a str,
    request: &'a ListRequest<'a>,
    index: &'a ListIndex,
    after: Option<&'a str>,
    limit: usize,
}

impl ShardReads<'_> {
    /// One read of one shard: up to `limit` rows after `after` (or from `resume`, where it stopped
    /// last time), each with its sort key value.
    async fn read(
        &self,
        partition: &str,
        resume: Option<HashMap<String, AttributeValue>>,
    ) -> Result<ShardRead<HashMap<String, AttributeValue>, ItemView>, StoreError> {
        let ShardReads { client, table, request, index, after, limit } = *self;
        let query = request.query;
        let (projection, projection_names) = request.projection;
        let mut names = projection_names.clone();
        names.insert("#partition".to_owned(), index.partition_attribute.to_owned());
        let mut values = HashMap::from([(":partition".to_owned(), AttributeValue::S(partition.to_owned()))]);
        let mut condition = "#partition = :partition".to_owned();
        if let Some(after) = after {
            names.insert("#sort".to_owned(), index.sort_attribute.to_owned());
            values.insert(":after".to_owned(), AttributeValue::S(after.to_owned()));
            condition.push_str(if query.order == SortOrder::Asc {
                " AND #sort > :after"
            } else {
                " AND #sort < :after"
            });
        }
        let mut read = client
            .query()
            .table_name(table)
            .index_name(index.name)
            .projection_expression(projection)
            .scan_index_forward(query.order == SortOrder::Asc)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(resume);
        if let Some(filter) = request.filter {
            names.extend(filter.names.clone());
            values.extend(filter.values.clone());
            read = read.filter_expression(filter.expression);
        }
        let output = read
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|err| classify(err.into_service_error(), "query items"))?;
        let views: Vec<ItemView> =
            serde_dynamo::from_items(output.items.unwrap_or_default()).map_err(failed("decode items"))?;
        let rows: Vec<(String, ItemView)> = views
            .into_iter()
            .map(|view| {
                let value = keys::sort_value(index, position_of(&view)?).ok_or_else(|| StoreError::Failed {
                    context: "listed item lacks its sort key",
                    source: "bad record".into(),
                })?;
                Ok((value, view))
            })
            .collect::<Result<_, StoreError>>()?;
        let resume = output.last_evaluated_key;
        // How far DynamoDB looked, filtered rows included: its resume key, else the last row returned.
        let examined = resume
            .as_ref()
            .and_then(|key| key.get(index.sort_attribute)?.as_s().ok().cloned())
            .or_else(|| rows.last().map(|(value, _)| value.clone()));
        Ok(ShardRead { rows, examined, resume })
    }
}

pub(super) fn position_of(view: &ItemView) -> Result<PagePosition, StoreError> {
    match (view.id, view.price) {
        (Some(id), Some(price)) => Ok(PagePosition { id, price: Some(price) }),
        _ => Err(StoreError::Failed { context: "stored item lacks id or price", source: "bad record".into() }),
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    /// Sorted shards in memory, read as DynamoDB reads a partition: up to `limit` rows examined per
    /// read, the hidden ones filtered out after counting, a resume point whenever the limit was hit.
    struct Memory {
        shards: Vec<Vec<(String, bool)>>,
        limit: usize,
    }

    impl Memory {
        /// `count` rows with distinct sort values spread by a fixed pseudo-random sequence; about
        /// `visible_percent` of them visible.
        fn new(shards: usize, count: usize, visible_percent: u64, limit: usize, seed: u64) -> Self {
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let mut rows = vec![Vec::new(); shards];
            for n in 0..count {
                let roll = next();
                rows[(roll % shards as u64) as usize]
                    .push((format!("{:06}", n * 7 % 1000 * 1000 + n), next() % 100 < visible_percent));
            }
            for shard in &mut rows {
                shard.sort();
            }
            Self { shards: rows, limit }
        }

        async fn read(
            &self,
            shard: usize,
            resume: Option<usize>,
            ascending: bool,
            after: Option<&str>,
        ) -> Result<ShardRead<usize, String>, Infallible> {
            let mut ordered: Vec<&(String, bool)> = self.shards[shard].iter().collect();
            if !ascending {
                ordered.reverse();
            }
            ordered.retain(|(value, _)| {
                after.is_none_or(|a| if ascending { value.as_str() > a } else { value.as_str() < a })
            });
            let start = resume.unwrap_or(0);
            let examined: Vec<&(String, bool)> = ordered.iter().skip(start).take(self.limit).copied().collect();
            Ok(ShardRead {
                rows: examined.iter().filter(|(_, visible)| *visible).map(|(v, _)| (v.clone(), v.clone())).collect(),
                examined: examined.last().map(|(v, _)| v.clone()),
                resume: (examined.len() == self.limit).then_some(start + self.limit),
            })
        }

        fn expected(&self, ascending: bool) -> Vec<String> {
            let mut all: Vec<String> =
                self.shards.iter().flatten().filter(|(_, visible)| *visible).map(|(v, _)| v.clone()).collect();
            all.sort();
            if !ascending {
                all.reverse();
            }
            all
        }
    }

    /// Every page from the first to the last, as a client follows the cursor.
    async fn walk(memory: &Memory, page_size: usize, ascending: bool, rounds: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10_000 {
            let cursor = after.clone();
            let read = |shard, resume| memory.read(shard, resume, ascending, cursor.as_deref());
            let (page, next) = merge(memory.shards.len(), page_size, ascending, rounds, read).await.unwrap();
            assert!(page.len() <= page_size);
            seen.extend(page.into_iter().map(|(value, _)| value));
            match next {
                Some(next) => {
                    if let Some(previous) = &after {
                        assert!(if ascending { &next > previous } else { &next < previous }, "the cursor moves on");
                    }
                    after = Some(next);
                }
                None => return seen,
            }
        }
        panic!("pagination does not end");
    }

    #[tokio::test]
    async fn pages_are_exactly_the_rows_in_order_whatever_the_spread_filter_and_budget() {
        for shards in [1, 3, 16] {
            for count in [0, 1, 37, 200] {
                for visible_percent in [100, 50, 8] {
                    for limit in [1, 3, 8] {
                        let memory = Memory::new(shards, count, visible_percent, limit, 7 + count as u64);
                        for ascending in [true, false] {
                            for page_size in [1, 2, 5, 50] {
                                for rounds in [1, 3] {
                                    let seen = walk(&memory, page_size, ascending, rounds).await;
                                    assert_eq!(
                                        seen,
                                        memory.expected(ascending),
                                        "{shards} shards, {count} rows, {visible_percent} % visible, read limit {limit}, \
                                         ascending {ascending}, pages of {page_size}, {rounds} rounds"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[tokio::test]
    async fn a_full_page_says_more_follows_only_when_a_row_does() {
        let memory = Memory::new(4, 10, 100, 50, 3);
        let read = |shard, resume| memory.read(shard, resume, true, None);
        let (page, next) = merge(4, 10, true, 3, read).await.unwrap();
        assert_eq!((page.len(), next), (10, None), "all ten rows, and nothing after them");
        let read = |shard, resume| memory.read(shard, resume, true, None);
        let (page, next) = merge(4, 9, true, 3, read).await.unwrap();
        assert_eq!(next.as_deref(), Some(page[8].0.as_str()));
    }
}
