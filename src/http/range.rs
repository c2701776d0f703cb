//! The `Range` request field for one byte range (RFC 9110 §14.1.2, §14.2): what a static
//! file answers to it, 206 with the range, 416, or the whole file. Pure.
#![forbid(unsafe_code)]
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

/// What to answer to a `Range` field, for a representation of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    /// Inclusive byte positions.
    Satisfiable(u64, u64),
    Unsatisfiable,
    /// Malformed or multi-range: answer with the whole file, as RFC 9110 §14.2 allows.
    Ignore,
}

/// Reads `v` (the field's value) for a representation of `size` bytes: `bytes=A-B`, `bytes=A-`,
/// `bytes=-N`; several ranges or another unit are `Ignore`d (the whole file, as RFC 9110 §14.2
/// allows).
pub fn parse_range(v: &str, size: u64) -> RangeSpec {
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignore;
    };
    if spec.contains(',') {
        return RangeSpec::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Ignore;
    };
    let num = |s: &str| {
        if s.bytes().all(|c| c.is_ascii_digit()) && !s.is_empty() {
            s.parse::<u64>().ok()
        } else {
            None
        }
    };
    match (a.trim(), b.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) => RangeSpec::Unsatisfiable,
            Some(n) if size > 0 => RangeSpec::Satisfiable(size.saturating_sub(n), size - 1),
            Some(_) => RangeSpec::Unsatisfiable,
            None => RangeSpec::Ignore,
        },
        (start, end) => {
            let Some(s) = num(start) else {
                return RangeSpec::Ignore;
            };
            let e = if end.is_empty() {
                Some(u64::MAX)
            } else {
                num(end)
            };
            match e {
                None => RangeSpec::Ignore,
                Some(e) if e < s => RangeSpec::Ignore,
                Some(_) if s >= size => RangeSpec::Unsatisfiable,
                Some(e) => RangeSpec::Satisfiable(s, e.min(size - 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_table() {
        use RangeSpec::*;
        for (v, size, want) in [
            ("bytes=0-9", 100, Satisfiable(0, 9)),
            ("bytes=90-", 100, Satisfiable(90, 99)),
            ("bytes=-10", 100, Satisfiable(90, 99)),
            ("bytes=-200", 100, Satisfiable(0, 99)),
            ("bytes=50-500", 100, Satisfiable(50, 99)),
            ("bytes=100-", 100, Unsatisfiable),
            ("bytes=-0", 100, Unsatisfiable),
            ("bytes=0-0", 0, Unsatisfiable),
            ("bytes=5-1", 100, Ignore),
            ("bytes=0-1,5-6", 100, Ignore),
            ("items=0-1", 100, Ignore),
            ("bytes=a-b", 100, Ignore),
            ("bytes=+1-2", 100, Ignore),
        ] {
            assert_eq!(parse_range(v, size), want, "{v}");
        }
    }
}
