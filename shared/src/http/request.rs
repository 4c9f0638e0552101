//! Reading a request: path id, query parameters, JSON body and `If-Match`, each turned into a
//! domain value or a clear 4xx.

use std::borrow::Cow;
use std::collections::HashMap;

use lambda_http::http::header::{CONTENT_TYPE, HeaderName, IF_MATCH, IF_NONE_MATCH};
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};

use super::cursor::CursorCodec;
use super::error::ApiError;
use crate::domain::{
    FieldError, FieldSet, ItemField, ItemId, ItemStatus, ListQuery, OrderId, PageLimit, Precondition, SortField,
    SortOrder, Version,
};
use crate::service::SearchQuery;

/// Largest accepted body. A maximal item (200 + 5000 characters, each possibly a 6-byte JSON
/// escape) stays under 32 KiB, so 64 KiB never refuses a valid item.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// The `{id}` path parameter of `/api/items/{id}`.
pub fn item_id(request: &Request) -> Result<ItemId, ApiError> {
    path_id(request, "items")
}

/// The `{id}` path parameter of `/api/orders/{id}` (and `/api/orders/{id}/cancel`).
pub fn order_id(request: &Request) -> Result<OrderId, ApiError> {
    path_id(request, "orders")
}

fn path_id(request: &Request, collection: &str) -> Result<ItemId, ApiError> {
    let params = request.path_parameters();
    let raw = params.first("id").map(str::to_owned).or_else(|| {
        // Events without path parameters (a bare proxy integration) still carry the path.
        let mut segments = request.uri().path().split('/');
        segments.by_ref().find(|segment| *segment == collection)?;
        segments.next().map(str::to_owned)
    });
    ItemId::parse(&raw.unwrap_or_default())
        .ok_or_else(|| ApiError::invalid_field("id", "invalid", "must be a 26-character id (ULID)"))
}

const SEARCH_TEXT_MAX_CHARS: usize = 500;
const SEARCH_LIMIT_MAX: usize = 50;

/// `GET /api/items/search` parameters: `q` (required), `limit` (1..=50, default 10), `status`.
pub(crate) fn search_query(request: &Request) -> Result<SearchQuery, ApiError> {
    let params = QueryParams::read(request, &["q", "limit", "status"])?;
    let mut errors = Vec::new();
    let text = params.get("q").map(str::trim).unwrap_or_default();
    if text.is_empty() {
        errors.push(FieldError::new("q", "required", "is required: the text to search for"));
    } else if text.chars().count() > SEARCH_TEXT_MAX_CHARS {
        errors.push(FieldError::new("q", "too_long", format!("must be at most {SEARCH_TEXT_MAX_CHARS} characters")));
    }
    let limit = match params.get("limit").map(|raw| raw.parse::<usize>()) {
        None => 10,
        Some(Ok(limit)) if (1..=SEARCH_LIMIT_MAX).contains(&limit) => limit,
        Some(_) => {
            errors.push(FieldError::new(
                "limit",
                "invalid",
                format!("must be an integer from 1 to {SEARCH_LIMIT_MAX}"),
            ));
            10
        }
    };
    let status = match params.get("status") {
        None => None,
        Some(raw) => {
            let status = ItemStatus::parse(raw);
            if status.is_none() {
                errors.push(FieldError::new("status", "invalid", "must be one of: draft, active, archived"));
            }
            status
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(SearchQuery { text: text.to_owned(), status, limit })
}

/// `GET /api/orders` parameters: `limit` and `cursor`.
pub(crate) fn order_page(request: &Request, cursors: &CursorCodec) -> Result<(PageLimit, Option<OrderId>), ApiError> {
    let params = QueryParams::read(request, &["limit", "cursor"])?;
    let limit = match params.get("limit") {
        Some(raw) => PageLimit::parse(raw)
            .ok_or_else(|| ApiError::invalid_field("limit", "invalid", "must be an integer from 1 to 100"))?,
        None => PageLimit::default(),
    };
    let after = params.get("cursor").map(|cursor| cursors.decode_order(cursor)).transpose()?;
    Ok((limit, after))
}

/// The body as a JSON object, after checking its content type and size.
pub(crate) fn json_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !is_json(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { limit_bytes: MAX_BODY_BYTES });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("empty_body", "the request body is empty; send a JSON object"));
    }
    match serde_json::from_slice::<StrictJson>(body) {
        Ok(StrictJson(Value::Object(object))) => Ok(object),
        Ok(_) => Err(ApiError::bad_request("invalid_body", "the request body must be a JSON object")),
        Err(error) => {
            match error.to_string().strip_prefix(DUPLICATE_KEY).and_then(|rest| rest.rsplit_once(" at line ")) {
                Some((key, _)) => Err(ApiError::bad_request(
                    "duplicate_field",
                    format!("the field {key:?} appears more than once; send each field once"),
                )),
                None => {
                    Err(ApiError::bad_request("invalid_json", format!("the request body is not valid JSON: {error}")))
                }
            }
        }
    }
}

/// Starts the parse error of an object that names a key twice (followed by the key).
const DUPLICATE_KEY: &str = "duplicate key: ";

/// JSON as `serde_json::Value`, except that an object naming a key twice, at any depth, is an error
/// rather than the last value silently winning: nothing a client sent is dropped unseen.
struct StrictJson(Value);

impl<'de> serde::Deserialize<'de> for StrictJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictJson)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut values = Vec::new();
        while let Some(StrictJson(value)) = seq.next_element()? {
            values.push(value);
        }
        Ok(Value::Array(values))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("{DUPLICATE_KEY}{key}")));
            }
            let StrictJson(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// DynamoDB takes at most 100 operands in one `IN`; both conditional headers share the bound.
const MAX_ENTITY_TAGS: usize = 100;

/// One entity tag of a conditional header: `"3"` or `W/"3"` (RFC 9110 §8.8.3).
struct EntityTag<'a> {
    weak: bool,
    opaque: Cow<'a, str>,
}

/// `If-Match` / `If-None-Match` as sent: absent, `*`, or a list of entity tags. Every field
/// line is parsed whole; anything outside the grammar is refused, never half-read.
enum Conditional<'a> {
    Absent,
    Any,
    Tags(Vec<EntityTag<'a>>),
}

#[derive(Debug)]
enum ConditionalError {
    Malformed,
    TooMany,
}

fn conditional(request: &Request, name: HeaderName) -> Result<Conditional<'_>, ConditionalError> {
    let mut tags = Vec::new();
    let mut any = false;
    for value in request.headers().get_all(&name) {
        let value = value.to_str().map_err(|_| ConditionalError::Malformed)?.trim_matches([' ', '\t']);
        if value == "*" {
            any = true;
            continue;
        }
        entity_tags(value, &mut tags).ok_or(ConditionalError::Malformed)?;
    }
    if tags.len() > MAX_ENTITY_TAGS {
        return Err(ConditionalError::TooMany);
    }
    Ok(match (any, tags.is_empty()) {
        (true, true) => Conditional::Any,
        // `*` is a whole field value, never one element among tags.
        (true, false) => return Err(ConditionalError::Malformed),
        (false, true) if request.headers().contains_key(&name) => return Err(ConditionalError::Malformed),
        (false, true) => Conditional::Absent,
        (false, false) => Conditional::Tags(tags),
    })
}

/// `#entity-tag`: tags `[W/]"<etagc>*"` separated by commas with optional spaces or tabs around
/// them. etagc is visible ASCII other than `"`, so a comma may sit inside a tag: the list is read
/// tag by tag, never split on commas. obs-text is not accepted.
fn entity_tags<'a>(mut rest: &'a str, tags: &mut Vec<EntityTag<'a>>) -> Option<()> {
    loop {
        let (weak, quoted) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let inner = quoted.strip_prefix('"')?;
        let end = inner.find('"')?;
        let opaque = &inner[..end];
        if !opaque.bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b)) {
            return None;
        }
        tags.push(EntityTag { weak, opaque: Cow::Borrowed(opaque) });
        rest = inner[end + 1..].trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            return Some(());
        }
        rest = rest.strip_prefix(',')?.trim_start_matches([' ', '\t']);
    }
}

fn conditional_error(header: &'static str, code: &'static str, error: ConditionalError) -> ApiError {
    match error {
        ConditionalError::Malformed => {
            ApiError::bad_request(code, format!("{header} must be * or a list of quoted entity tags, e.g. \"3\""))
        }
        ConditionalError::TooMany => {
            ApiError::bad_request(code, format!("{header} may list at most {MAX_ENTITY_TAGS} entity tags"))
        }
    }
}

/// `If-Match`: absent or `*` means "must exist"; otherwise the stored version must be one of the
/// listed strong entity tags. Weak tags never match (RFC 9110 uses strong comparison for If-Match).
pub(crate) fn precondition(request: &Request) -> Result<Precondition, ApiError> {
    match conditional(request, IF_MATCH).map_err(|e| conditional_error("If-Match", "invalid_if_match", e))? {
        Conditional::Absent | Conditional::Any => Ok(Precondition::Exists),
        Conditional::Tags(tags) => Ok(Precondition::VersionIn(
            tags.iter()
                .filter(|tag| !tag.weak)
                .filter_map(|tag| tag.opaque.parse::<u64>().ok())
                .map(Version::new)
                .collect(),
        )),
    }
}

/// `If-None-Match`, parsed before anything is read: which versions the client already holds.
pub struct IfNoneMatch(Conditional<'static>);

impl IfNoneMatch {
    /// Weak comparison, as RFC 9110 asks for GET: the client's copy is current, a 304 will do.
    pub fn matches(&self, version: Version) -> bool {
        let current = version.get().to_string();
        match &self.0 {
            Conditional::Absent => false,
            Conditional::Any => true,
            Conditional::Tags(tags) => tags.iter().any(|tag| tag.opaque == current),
        }
    }
}

pub fn if_none_match(request: &Request) -> Result<IfNoneMatch, ApiError> {
    let parsed = conditional(request, IF_NONE_MATCH)
        .map_err(|e| conditional_error("If-None-Match", "invalid_if_none_match", e))?;
    Ok(IfNoneMatch(match parsed {
        Conditional::Absent => Conditional::Absent,
        Conditional::Any => Conditional::Any,
        Conditional::Tags(tags) => Conditional::Tags(
            tags.into_iter()
                .map(|tag| EntityTag { weak: tag.weak, opaque: Cow::Owned(tag.opaque.into_owned()) })
                .collect(),
        ),
    }))
}

/// Query parameters, each present at most once, none unknown.
struct QueryParams(HashMap<String, String>);

impl QueryParams {
    fn read(request: &Request, allowed: &[&str]) -> Result<Self, ApiError> {
        let raw = request.query_string_parameters();
        let mut params = HashMap::new();
        let mut errors = Vec::new();
        for (key, value) in raw.iter() {
            if !allowed.contains(&key) {
                errors.push(FieldError::new(
                    key,
                    "unknown_parameter",
                    if allowed.is_empty() {
                        "is not a parameter of this route".to_owned()
                    } else {
                        format!("is not a parameter here; use: {}", allowed.join(", "))
                    },
                ));
            } else if params.insert(key.to_owned(), value.to_owned()).is_some() {
                errors.push(FieldError::new(key, "repeated", "must be given at most once"));
            }
        }
        errors.dedup();
        if errors.is_empty() { Ok(Self(params)) } else { Err(ApiError::Validation(errors)) }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// Routes that take no query parameters say so instead of ignoring them.
pub(crate) fn no_query(request: &Request) -> Result<(), ApiError> {
    QueryParams::read(request, &[]).map(|_| ())
}

/// `GET /api/items/{id}` accepts only `fields`.
pub(crate) fn item_fields(request: &Request) -> Result<Option<FieldSet>, ApiError> {
    let params = QueryParams::read(request, &["fields"])?;
    params.get("fields").map(FieldSet::parse).transpose().map_err(|e| ApiError::Validation(vec![e]))
}

const LIST_PARAMETERS: [&str; 8] = ["status", "sort", "order", "limit", "cursor", "fields", "offset", "include"];

/// `GET /api/items` parameters; every bad one is reported together.
pub(crate) fn list_query(request: &Request, cursors: &CursorCodec) -> Result<ListQuery, ApiError> {
    let params = QueryParams::read(request, &LIST_PARAMETERS)?;
    if params.get("offset").is_some() {
        return Err(ApiError::bad_request(
            "offset_unsupported",
            "offset paging is not supported; follow page.next_cursor with the cursor parameter",
        ));
    }
    let mut query = ListQuery::default();
    let mut errors = Vec::new();
    let mut parse = |key: &str, message: &str, apply: &mut dyn FnMut(&str) -> bool| {
        if let Some(raw) = params.get(key) {
            if !apply(raw) {
                errors.push(FieldError::new(key, "invalid", message));
            }
        }
    };
    parse("status", "must be one of: draft, active, archived", &mut |raw| {
        ItemStatus::parse(raw).map(|s| query.status = Some(s)).is_some()
    });
    parse("sort", "must be one of: created_at, price", &mut |raw| {
        SortField::parse(raw).map(|s| query.sort = s).is_some()
    });
    parse("order", "must be one of: asc, desc", &mut |raw| SortOrder::parse(raw).map(|o| query.order = o).is_some());
    parse("limit", "must be an integer from 1 to 100", &mut |raw| {
        PageLimit::parse(raw).map(|l| query.limit = l).is_some()
    });
    if let Some(raw) = params.get("fields") {
        match FieldSet::parse(raw) {
            Ok(fields) => query.fields = Some(fields),
            Err(error) => errors.push(error),
        }
    }
    match params.get("include") {
        None => {}
        Some("owner") => {
            query.include_owner = true;
            query.fields = query.fields.map(|fields| fields.with(ItemField::OwnerId));
        }
        Some(_) => errors.push(FieldError::new("include", "invalid", "must be: owner")),
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if let Some(cursor) = params.get("cursor") {
        query.after = Some(cursors.decode(cursor, &query)?);
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use lambda_http::Body;
    use lambda_http::http;

    use super::*;

    fn request(query: &[(&str, &str)], headers: &[(&str, &str)], body: &str) -> Request {
        let mut builder = http::Request::builder().uri("/api/items");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut params: HashMap<String, Vec<String>> = HashMap::new();
        for (key, value) in query {
            params.entry((*key).to_owned()).or_default().push((*value).to_owned());
        }
        builder.body(Body::Text(body.to_owned())).unwrap().with_query_string_parameters(params)
    }

    fn codes(error: ApiError) -> Vec<(String, &'static str)> {
        match error {
            ApiError::Validation(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
            other => vec![(String::new(), other.code())],
        }
    }

    #[test]
    fn list_query_defaults() {
        let query = list_query(&request(&[], &[], ""), &CursorCodec::new(b"k")).unwrap();
        assert_eq!(query, ListQuery::default());
        assert_eq!(query.limit.get(), 20);
    }

    #[test]
    fn list_query_reports_each_bad_parameter() {
        let req = request(&[("limit", "0"), ("sort", "name"), ("order", "up"), ("status", "x")], &[], "");
        let mut found = codes(list_query(&req, &CursorCodec::new(b"k")).unwrap_err());
        found.sort();
        let fields: Vec<_> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["limit", "order", "sort", "status"]);
    }

    #[test]
    fn list_query_rejects_offset_unknown_and_repeated_parameters() {
        let codec = CursorCodec::new(b"k");
        assert_eq!(
            codes(list_query(&request(&[("offset", "10")], &[], ""), &codec).unwrap_err())[0].1,
            "offset_unsupported"
        );
        assert_eq!(
            codes(list_query(&request(&[("sotr", "price")], &[], ""), &codec).unwrap_err())[0].1,
            "unknown_parameter"
        );
        assert_eq!(
            codes(list_query(&request(&[("limit", "1"), ("limit", "2")], &[], ""), &codec).unwrap_err())[0].1,
            "repeated"
        );
    }

    #[test]
    fn body_must_be_a_json_object_of_bounded_size() {
        let json = [("content-type", "application/json")];
        assert!(json_object(&request(&[], &json, r#"{"name":"x"}"#)).is_ok());
        assert!(json_object(&request(&[], &[("content-type", "application/json; charset=utf-8")], "{}")).is_ok());
        assert_eq!(json_object(&request(&[], &[("content-type", "text/plain")], "{}")).unwrap_err().status(), 415);
        assert_eq!(json_object(&request(&[], &[], "{}")).unwrap_err().status(), 415);
        assert_eq!(json_object(&request(&[], &json, "{oops")).unwrap_err().code(), "invalid_json");
        assert_eq!(json_object(&request(&[], &json, "[1]")).unwrap_err().code(), "invalid_body");
        assert_eq!(json_object(&request(&[], &json, "  ")).unwrap_err().code(), "empty_body");
        let huge = format!(r#"{{"description":"{}"}}"#, "x".repeat(MAX_BODY_BYTES));
        assert_eq!(json_object(&request(&[], &json, &huge)).unwrap_err().status(), 413);
    }

    #[test]
    fn if_match_parsing() {
        let with = |value: &str| precondition(&request(&[], &[("if-match", value)], ""));
        assert_eq!(precondition(&request(&[], &[], "")).unwrap(), Precondition::Exists);
        assert_eq!(with("*").unwrap(), Precondition::Exists);
        assert_eq!(with("\"3\"").unwrap(), Precondition::VersionIn(vec![Version::new(3)]));
        assert_eq!(
            with("\"3\", W/\"4\", \"5\"").unwrap(),
            Precondition::VersionIn(vec![Version::new(3), Version::new(5)])
        );
        assert_eq!(with("W/\"3\"").unwrap(), Precondition::VersionIn(vec![]));
        assert_eq!(with("3").unwrap_err().code(), "invalid_if_match");
        for malformed in ["", "\"3\",", "\"3\", *", "\"a b\"", "\"3", "w/\"3\"", "\"3\" \"4\""] {
            assert_eq!(with(malformed).unwrap_err().code(), "invalid_if_match", "{malformed:?}");
        }
        assert_eq!(with(" \"3\"\t,\t\"x\" ").unwrap(), Precondition::VersionIn(vec![Version::new(3)]));
        // A comma is an etagc: inside quotes it does not separate tags.
        assert_eq!(with("\"a,b\", \"4\"").unwrap(), Precondition::VersionIn(vec![Version::new(4)]));
    }

    #[test]
    fn if_none_match_uses_the_same_grammar_and_weak_comparison() {
        let with = |value: &str| {
            if_none_match(&request(&[], &[("if-none-match", value)], "")).map(|held| held.matches(Version::new(3)))
        };
        assert!(!if_none_match(&request(&[], &[], "")).unwrap().matches(Version::new(3)));
        assert!(with("*").unwrap());
        assert!(with("\"3\"").unwrap());
        assert!(with("W/\"3\"").unwrap());
        assert!(with("\"1\", \"3\"").unwrap());
        assert!(!with("\"4\"").unwrap());
        for malformed in ["3", "", "\"3\",", "*, \"3\"", "\"3"] {
            assert_eq!(with(malformed).unwrap_err().code(), "invalid_if_none_match", "{malformed:?}");
        }
        let many = vec!["\"1\""; 101].join(",");
        assert_eq!(with(&many).unwrap_err().code(), "invalid_if_none_match");
    }
}
