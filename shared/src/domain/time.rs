//! Timestamps: millisecond precision, rendered as RFC 3339 in UTC.

use std::fmt;
use std::time::SystemTime;

use aws_smithy_types::date_time::{DateTime, Format};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub fn now() -> Self {
        let since_epoch = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        Self(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn parse(raw: &str) -> Option<Self> {
        DateTime::from_str(raw, Format::DateTime).ok().and_then(|dt| dt.to_millis().ok()).map(Self)
    }

    pub fn as_system_time(self) -> SystemTime {
        let millis = u64::try_from(self.0).unwrap_or(0);
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis)
    }
}

/// Always three fractional digits, so stored timestamps also sort correctly as strings.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole_seconds = DateTime::from_secs(self.0.div_euclid(1000));
        let text = whole_seconds.fmt(Format::DateTime).map_err(|_| fmt::Error)?;
        let without_zone = text.strip_suffix('Z').ok_or(fmt::Error)?;
        write!(f, "{without_zone}.{:03}Z", self.0.rem_euclid(1000))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_rfc3339() {
        let stamp = Timestamp::from_millis(1_732_540_800_123);
        let text = stamp.to_string();
        assert_eq!(text, "2024-11-25T13:20:00.123Z");
        assert_eq!(Timestamp::parse(&text), Some(stamp));
    }

    #[test]
    fn always_renders_milliseconds() {
        assert_eq!(Timestamp::from_millis(1_732_540_800_000).to_string(), "2024-11-25T13:20:00.000Z");
        assert_eq!(Timestamp::from_millis(1_732_540_800_230).to_string(), "2024-11-25T13:20:00.230Z");
    }

    #[test]
    fn rejects_offsets_and_garbage() {
        assert_eq!(Timestamp::parse("2024-11-25T13:20:00+02:00"), None);
        assert_eq!(Timestamp::parse("yesterday"), None);
    }
}
