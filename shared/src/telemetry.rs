//! Structured logs: JSON lines by default, honouring Lambda's log format and level settings.

use tracing_subscriber::filter::LevelFilter;

/// Level from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's logging config), else `RUST_LOG`, else info.
/// Format is JSON unless `AWS_LAMBDA_LOG_FORMAT=Text`.
///
/// One level for everything, as Lambda's setting is: per-target directives (`EnvFilter`) would
/// bring a regex engine into every binary (~300 KB) for a knob Lambda does not have.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map_or(LevelFilter::INFO, |level| parse_level(&level));
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("text"));
    let builder = tracing_subscriber::fmt().with_max_level(level).with_target(false);
    // A second init (tests, or a caller that set its own subscriber) keeps the first one.
    let _ = if text {
        builder.without_time().try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    };
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
