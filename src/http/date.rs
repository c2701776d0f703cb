//! Time formats: HTTP dates (via `httpdate`) and the access log's `[day/Mon/year:H:M:S +0000]`.
//! Logs are in UTC so that a child needs no timezone database after confinement.
#![forbid(unsafe_code)]

use std::time::{SystemTime, UNIX_EPOCH};

pub fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s).ok()
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Broken-down UTC time: (year, month 1-12, day, hour, minute, second, weekday name).
fn civil(t: SystemTime) -> (i64, usize, i64, i64, i64, i64, &'static str) {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let weekday = usize::try_from(days.rem_euclid(7))
        .ok()
        .and_then(|i| DAYS.get(i))
        .copied()
        .unwrap_or("???");
    (
        y,
        m as usize,
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        weekday,
    )
}

/// `Jan` for 1; `civil` never yields a month outside 1..=12.
fn month_name(m: usize) -> &'static str {
    m.checked_sub(1)
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("???")
}

/// Broken-down UTC time for strftime-style formats (`%{...}t` in the access log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    /// 1..=12
    pub month: usize,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    /// 0 = Sunday.
    pub wday: i64,
    /// 1..=366
    pub yday: i64,
}

impl Civil {
    pub fn of(t: SystemTime) -> Civil {
        let (year, month, day, hour, minute, second, _) = civil(t);
        let days = t
            .duration_since(UNIX_EPOCH)
            .map(|d| (d.as_secs() / 86_400) as i64)
            .unwrap_or(0);
        // 1970-01-01 was a Thursday.
        let wday = (days + 4).rem_euclid(7);
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let yday = BEFORE.get(month.saturating_sub(1)).copied().unwrap_or(0)
            + day
            + i64::from(leap && month > 2);
        Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
            wday,
            yday,
        }
    }

    pub fn weekday_name(&self) -> &'static str {
        const NAMES: [&str; 7] = [
            "Sunday",
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
        ];
        NAMES.get(self.wday as usize).copied().unwrap_or("???")
    }

    pub fn month_name(&self) -> &'static str {
        const NAMES: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        self.month
            .checked_sub(1)
            .and_then(|i| NAMES.get(i))
            .copied()
            .unwrap_or("???")
    }
}

/// `10/Oct/2000:13:55:36 +0000`, Common Log Format's %t without brackets.
pub fn clf(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss, _) = civil(t);
    format!("{d:02}/{}/{y}:{hh:02}:{mm:02}:{ss:02} +0000", month_name(m))
}

/// `Sun Nov 22 07:22:00.123456 2026`, the error log's timestamp as Apache writes it.
pub fn error_log(t: SystemTime) -> String {
    let (y, m, d, hh, mm, ss, wd) = civil(t);
    let us = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_micros())
        .unwrap_or(0);
    format!(
        "{wd} {} {d:02} {hh:02}:{mm:02}:{ss:02}.{us:06} {y}",
        month_name(m)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn table() {
        let rows = [
            (
                0u64,
                "01/Jan/1970:00:00:00 +0000",
                "Thu Jan 01 00:00:00.000000 1970",
            ),
            (
                971_186_136,
                "10/Oct/2000:13:55:36 +0000",
                "Tue Oct 10 13:55:36.000000 2000",
            ),
            (
                951_782_400,
                "29/Feb/2000:00:00:00 +0000",
                "Tue Feb 29 00:00:00.000000 2000",
            ),
            (
                1_795_332_120,
                "22/Nov/2026:07:22:00 +0000",
                "Sun Nov 22 07:22:00.000000 2026",
            ),
        ];
        for (secs, want_clf, want_err) in rows {
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(clf(t), want_clf);
            assert_eq!(error_log(t), want_err);
        }
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
    }
}
