//! The X-Ray trace header (`Root=1-…;Parent=…;Sampled=1`): how Lambda hands an invocation its
//! trace, and how a message carries it on to the worker.

/// Longest header kept: Lambda's, `Lineage` included, are well under this; a longer one (a
/// client's `x-amzn-trace-id` outside Lambda) is not worth carrying or logging.
const MAX_LEN: usize = 1024;

/// A parsed trace header. `raw` is kept verbatim so what is passed on (as the SQS message's
/// `AWSTraceHeader`) keeps every field, `Lineage` included, which Lambda's loop detection reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    raw: String,
    root: String,
    parent: Option<String>,
    sampled: bool,
}

impl TraceHeader {
    /// `None` unless there is a well-formed `Root`; a malformed `Parent` is dropped, and only
    /// `Sampled=1` counts as sampled (`0`, `?` or none do not).
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.len() > MAX_LEN {
            return None;
        }
        let mut root = None;
        let mut parent = None;
        let mut sampled = false;
        for (key, value) in raw.split(';').filter_map(|part| part.trim().split_once('=')) {
            match key.trim() {
                "Root" if is_trace_id(value.trim()) => root = Some(value.trim().to_owned()),
                "Parent" if is_segment_id(value.trim()) => parent = Some(value.trim().to_owned()),
                "Sampled" => sampled = value.trim() == "1",
                _ => {}
            }
        }
        Some(Self { raw: raw.trim().to_owned(), root: root?, parent, sampled })
    }

    /// The header as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The trace id, `1-<8 hex>-<24 hex>`: what the X-Ray console searches by.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The segment the caller recorded this work under (Lambda's function segment).
    pub fn parent(&self) -> Option<&str> {
        self.parent.as_deref()
    }

    pub fn sampled(&self) -> bool {
        self.sampled
    }
}

/// `1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>`.
fn is_trace_id(value: &str) -> bool {
    let mut parts = value.split('-');
    parts.next() == Some("1")
        && parts.next().is_some_and(|time| is_hex(time, 8))
        && parts.next().is_some_and(|random| is_hex(random, 24))
        && parts.next().is_none()
}

/// 64 bits in 16 hex digits.
pub(crate) fn is_segment_id(value: &str) -> bool {
    is_hex(value, 16)
}

fn is_hex(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn reads_lambdas_header() {
        let raw = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5");
        let header = TraceHeader::parse(&raw).expect("valid");
        assert_eq!(header.root(), ROOT);
        assert_eq!(header.parent(), Some("53995c3f42cd8ad8"));
        assert!(header.sampled());
        assert_eq!(header.raw(), raw, "passed on verbatim, Lineage included");
    }

    #[test]
    fn only_sampled_1_is_sampled() {
        for sampled in ["Sampled=0", "Sampled=?", ""] {
            let header = TraceHeader::parse(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;{sampled}")).expect("valid");
            assert!(!header.sampled(), "{sampled}");
        }
        let spaced = TraceHeader::parse(&format!(" Root={ROOT}; Sampled=1 ")).expect("valid");
        assert!(spaced.sampled());
        assert_eq!(spaced.parent(), None);
    }

    #[test]
    fn refuses_headers_without_a_well_formed_root() {
        for raw in [
            "",
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e988-bd862e3fe1be46a994272793-00",
            "Root=1-zzzzzzzz-bd862e3fe1be46a994272793",
            "garbage",
        ] {
            assert_eq!(TraceHeader::parse(raw), None, "{raw:?}");
        }
        assert_eq!(TraceHeader::parse(&format!("Root={ROOT};{}", "x".repeat(MAX_LEN))), None);
    }

    #[test]
    fn drops_a_malformed_parent() {
        let header = TraceHeader::parse(&format!("Root={ROOT};Parent=\"}}{{\";Sampled=1")).expect("valid root");
        assert_eq!(header.parent(), None);
    }
}
