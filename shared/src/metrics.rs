//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per request (and per
//! worker batch), which CloudWatch Logs turns into metrics without any API call on the hot path.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

static COLD: AtomicBool = AtomicBool::new(true);

/// True exactly once per container: for the first invocation it serves.
pub(crate) fn take_cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}

fn namespace() -> String {
    std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "ItemsApi".to_owned())
}

fn enabled() -> bool {
    !std::env::var("METRICS").is_ok_and(|value| value == "off")
}

pub struct RequestMetrics<'a> {
    pub route: &'a str,
    pub status: u16,
    pub latency_ms: f64,
    pub cold_start: bool,
    pub throttled: bool,
    pub cache_hits: u32,
    pub cache_misses: u32,
}

/// The EMF document for one request, dimensioned by route.
pub(crate) fn request_document(m: &RequestMetrics<'_>, timestamp_ms: i64) -> Value {
    let counts = [
        ("Requests", 1),
        ("ClientErrors", u32::from((400..500).contains(&m.status))),
        ("ServerErrors", u32::from(m.status >= 500)),
        ("Throttled", u32::from(m.throttled)),
        ("CacheHits", m.cache_hits),
        ("CacheMisses", m.cache_misses),
        ("ColdStarts", u32::from(m.cold_start)),
    ];
    let mut definitions: Vec<Value> = counts.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect();
    definitions.push(json!({"Name": "Latency", "Unit": "Milliseconds"}));
    let mut document = json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{ "Namespace": namespace(), "Dimensions": [["Route"]], "Metrics": definitions }]
        },
        "Route": m.route,
        "Latency": m.latency_ms,
    });
    for (name, value) in counts {
        document[name] = json!(value);
    }
    document
}

pub fn emit_request(m: &RequestMetrics<'_>) {
    if enabled() {
        println!("{}", request_document(m, crate::domain::Timestamp::now().as_millis()));
    }
}

/// Index jobs processed and failed in one worker batch.
pub(crate) fn emit_index_jobs(processed: usize, failed: usize, cold_start: bool) {
    if !enabled() {
        return;
    }
    let document = json!({
        "_aws": {
            "Timestamp": crate::domain::Timestamp::now().as_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace(),
                "Dimensions": [["Function"]],
                "Metrics": [
                    {"Name": "IndexJobsProcessed", "Unit": "Count"},
                    {"Name": "IndexJobsFailed", "Unit": "Count"},
                    {"Name": "ColdStarts", "Unit": "Count"}
                ]
            }]
        },
        "Function": "index-worker",
        "IndexJobsProcessed": processed,
        "IndexJobsFailed": failed,
        "ColdStarts": u32::from(cold_start),
    });
    println!("{document}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_document_is_valid_emf() {
        let metrics = RequestMetrics {
            route: "GET /api/items/{id}",
            status: 503,
            latency_ms: 4.5,
            cold_start: true,
            throttled: false,
            cache_hits: 1,
            cache_misses: 0,
        };
        let document = request_document(&metrics, 1_700_000_000_000);
        let declared = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Dimensions"], json!([["Route"]]));
        for definition in declared["Metrics"].as_array().unwrap() {
            let name = definition["Name"].as_str().unwrap();
            assert!(document[name].is_number(), "{name} has a value");
        }
        assert_eq!(document["ServerErrors"], 1);
        assert_eq!(document["ColdStarts"], 1);
        assert_eq!(document["Route"], "GET /api/items/{id}");
    }
}
