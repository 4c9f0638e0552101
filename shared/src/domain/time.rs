//! Timestamps: millisecond precision, rendered as RFC 3339 in UTC.

use std::fmt;
use std::time::SystemTime;

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

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, UTC only (what this service writes); digits past the
    /// millisecond are dropped.
    pub fn parse(raw: &str) -> Option<Self> {
        let (date, rest) = raw.split_once('T')?;
        let clock = rest.strip_suffix('Z')?;
        let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
        let number = |text: &str, digits: usize| {
            (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<i64>().ok())
                .flatten()
        };
        let mut date_parts = date.split('-');
        let (year, month, day) =
            (number(date_parts.next()?, 4)?, number(date_parts.next()?, 2)?, number(date_parts.next()?, 2)?);
        let mut clock_parts = hms.split(':');
        let (hour, minute, second) =
            (number(clock_parts.next()?, 2)?, number(clock_parts.next()?, 2)?, number(clock_parts.next()?, 2)?);
        if date_parts.next().is_some() || clock_parts.next().is_some() {
            return None;
        }
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) || (clock.contains('.') && fraction.is_empty()) {
            return None;
        }
        let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
        let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        Some(Self(seconds * 1000 + millis))
    }

    pub fn as_system_time(self) -> SystemTime {
        let millis = u64::try_from(self.0).unwrap_or(0);
        SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(millis)
    }
}

/// Always three fractional digits, so stored timestamps also sort correctly as strings.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.div_euclid(1000);
        let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
        let in_day = seconds.rem_euclid(86_400);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            in_day / 3600,
            in_day % 3600 / 60,
            in_day % 60,
            self.0.rem_euclid(1000)
        )
    }
}

// Proleptic Gregorian calendar arithmetic (Howard Hinnant's civil-date algorithms): days since
// 1970-01-01 to and from a date, exact for every i64 date this service can hold.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
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
        for bad in ["2024-02-30T00:00:00Z", "2024-11-25T24:00:00Z", "2024-11-25T13:20:00.Z", "2024-11-25 13:20:00Z"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn calendar_arithmetic_holds_across_leap_days_and_before_1970() {
        for text in [
            "1969-12-31T23:59:59.999Z",
            "2000-02-29T12:00:00.000Z",
            "2100-03-01T00:00:00.000Z",
            "1970-01-01T00:00:00.000Z",
        ] {
            let stamp = Timestamp::parse(text).expect(text);
            assert_eq!(stamp.to_string(), text);
        }
        assert_eq!(Timestamp::parse("1970-01-01T00:00:01Z"), Some(Timestamp::from_millis(1000)));
        assert_eq!(Timestamp::parse("2024-11-25T13:20:00.1239Z"), Some(Timestamp::from_millis(1_732_540_800_123)));
        // Every day of four centuries renders and parses back to itself.
        for day in (-40_000..110_000).step_by(7) {
            let stamp = Timestamp::from_millis(day * 86_400_000 + 45_296_789);
            assert_eq!(Timestamp::parse(&stamp.to_string()), Some(stamp));
        }
    }
}
