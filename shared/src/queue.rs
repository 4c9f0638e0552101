//! The indexing queue: every item write enqueues `{ item_id, version, op }` to SQS for the index
//! worker. Sends are retried with backoff; if SQS stays unavailable the write still succeeds,
//! because the item carries an `index_pending` marker the reconciler finds (see README). Each
//! message carries the sender's X-Ray trace header (`AWSTraceHeader`), so its job joins that trace.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    MessageSystemAttributeNameForSends, MessageSystemAttributeValue, SendMessageBatchRequestEntry,
};

use crate::domain::IndexJob;
use crate::retry::Backoff;

/// Why jobs were not (all) sent, after the retries.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QueueError {
    #[error("an index job could not be encoded")]
    Encode(#[source] crate::error::BoxError),
    #[error("SQS refused or did not answer")]
    Send(#[source] crate::error::BoxError),
    #[error("{0} entries of a batch kept failing")]
    Entries(usize),
}

pub struct IndexQueue {
    client: Client,
    url: String,
}

impl IndexQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// Sends the job, retrying transient failures a few times with jittered backoff. The caller
    /// logs and moves on if this fails: the `index_pending` marker already guarantees the job.
    pub(crate) async fn enqueue(&self, job: &IndexJob) -> Result<(), QueueError> {
        let body = serde_json::to_string(job).map_err(|e| QueueError::Encode(e.into()))?;
        let trace = trace_attributes()?;
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(400), 2);
        loop {
            let send = self.client.send_message().queue_url(&self.url).message_body(&body);
            match send.set_message_system_attributes(trace.clone()).send().await {
                Ok(_) => return Ok(()),
                Err(error) => match backoff.next_delay() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(QueueError::Send(error.into())),
                },
            }
        }
    }

    /// Sends `jobs` ten to a `SendMessageBatch` call (SQS's maximum), retrying the entries a call
    /// reports failed. Stops early, between calls, when less than `reserve` is left before the
    /// invocation's deadline. Returns how many jobs were sent; the rest stay for a later run.
    pub(crate) async fn enqueue_all(&self, jobs: &[IndexJob], reserve: Duration) -> Result<usize, QueueError> {
        let trace = trace_attributes()?;
        let mut sent = 0;
        for chunk in jobs.chunks(10) {
            if crate::scope::deadline().is_some_and(|deadline| {
                deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default() < reserve
            }) {
                break;
            }
            let mut pending: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(index, job)| serde_json::to_string(job).map(|body| (index.to_string(), body)))
                .collect::<Result<_, _>>()
                .map_err(|e| QueueError::Encode(e.into()))?;
            let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(400), 2);
            loop {
                let entries = pending
                    .iter()
                    .map(|(id, body)| {
                        let entry = SendMessageBatchRequestEntry::builder().id(id).message_body(body);
                        entry.set_message_system_attributes(trace.clone()).build()
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| QueueError::Encode(e.into()))?;
                let outcome =
                    self.client.send_message_batch().queue_url(&self.url).set_entries(Some(entries)).send().await;
                let failure = match outcome {
                    Ok(output) => {
                        let failed: Vec<&str> = output.failed().iter().map(|entry| entry.id()).collect();
                        sent += pending.len() - failed.len();
                        pending.retain(|(id, _)| failed.contains(&id.as_str()));
                        if pending.is_empty() {
                            break;
                        }
                        QueueError::Entries(pending.len())
                    }
                    Err(error) => QueueError::Send(error.into()),
                };
                match backoff.next_delay() {
                    Some(delay) => tokio::time::sleep(delay).await,
                    None => return Err(failure),
                }
            }
        }
        Ok(sent)
    }
}

type SystemAttributes = HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>;

/// The invocation's trace header as the `AWSTraceHeader` system attribute, verbatim (`Lineage`
/// included, which Lambda's loop detection reads); none outside a traced invocation.
fn trace_attributes() -> Result<Option<SystemAttributes>, QueueError> {
    let Some(header) = crate::scope::with_trace(|trace| trace.raw().to_owned()) else { return Ok(None) };
    let value = MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(header)
        .build()
        .map_err(|e| QueueError::Encode(e.into()))?;
    Ok(Some(HashMap::from([(MessageSystemAttributeNameForSends::AwsTraceHeader, value)])))
}
