//! Structured logs: JSON lines by default, honouring Lambda's log format and level settings.

use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Level from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging config), else `RUST_LOG`, else info.
/// Format is JSON unless `AWS_LAMBDA_LOG_FORMAT=Text`.
///
/// One level for everything, as Lambda's setting is: per-target directives (`EnvFilter`) would
/// bring a regex engine into every binary (~300 KB) for a knob Lambda does not have.
pub(crate) fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map_or(LevelFilter::INFO, |level| parse_level(&level));
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("text"));
    // A second init (tests, or a caller that set its own subscriber) keeps the first one.
    let _ = if text {
        tracing_subscriber::fmt().with_max_level(level).with_target(false).without_time().try_init()
    } else {
        tracing::subscriber::set_global_default(json_subscriber(level, std::io::stdout)).map_err(Into::into)
    };
}

/// The JSON log format: one object per event, its fields flattened, the fields of the span it
/// happened in (a request, an index job) under `span`. Public so tests read what Lambda would.
pub fn json_subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .finish()
}

/// Lambda's level names (`FATAL` included) and `RUST_LOG`'s; anything else means info.
fn parse_level(level: &str) -> LevelFilter {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        "OFF" => LevelFilter::OFF,
        _ => LevelFilter::INFO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lambda_and_rust_log_level_names() {
        assert_eq!(parse_level("FATAL"), LevelFilter::ERROR);
        assert_eq!(parse_level("warn"), LevelFilter::WARN);
        assert_eq!(parse_level(" Debug "), LevelFilter::DEBUG);
        assert_eq!(parse_level("off"), LevelFilter::OFF);
        assert_eq!(parse_level("shared=debug"), LevelFilter::INFO, "directives are not levels");
    }
}
