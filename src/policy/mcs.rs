//! Per-connection MCS categories, the sVirt way (pure, no I/O).
//!
//! `selinuxConnectionCategories cA.cB` reserves categories for connections. The master gives
//! every live child one of them (see `master::pool`); the child enters its mapped
//! `domain:range` with that category added to **every level** of the range:
//!
//! | mapped range       | with c700                  |
//! |--------------------|----------------------------|
//! | `s0:c1`            | `s0:c1,c700`               |
//! | `s0`               | `s0:c700`                  |
//! | `s0-s0:c0.c255`    | `s0:c700-s0:c0.c255,c700`  |
//!
//! The high level still dominates the user's content (`s0:c1,c700` reads `s0:c1`), but two
//! connections of the same mapping (`…,c700` and `…,c701`) dominate neither each other: every
//! MLS/MCS constraint of the form `h1 dom h2` (signals, ptrace, `/proc/PID` files, process
//! attributes) then keeps them apart, while `self` rules only ever match one connection's own
//! processes. The low level gains the category too, so a file a connection creates carries it
//! and no other connection can read it (nothing crosses connections through files either).
//!
//! Contexts are rendered as the kernel renders them (sorted; runs of three or more as
//! `cA.cB`, pairs as `cA,cB`; a range whose levels are equal as one level), because the
//! sandbox compares what `getcon` returns with the planned context byte for byte.
#![forbid(unsafe_code)]

use std::collections::BTreeSet;

/// The categories `selinuxConnectionCategories` reserves: `c{first}` to `c{last}` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CategoryRange {
    pub first: u16,
    pub last: u16,
}

impl CategoryRange {
    /// How many categories the range holds.
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    pub fn contains(&self, c: u16) -> bool {
        (self.first..=self.last).contains(&c)
    }
}

impl std::fmt::Display for CategoryRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "c{}", self.first)
        } else {
            write!(f, "c{}.c{}", self.first, self.last)
        }
    }
}

/// `cA.cB` (A < B) or a single `cA`.
pub fn parse_category_range(s: &str) -> Result<CategoryRange, String> {
    let (first, last) = match s.split_once('.') {
        Some((a, b)) => (category(a)?, category(b)?),
        None => {
            let c = category(s)?;
            (c, c)
        }
    };
    if first > last {
        return Err(format!("'{s}' is not increasing"));
    }
    Ok(CategoryRange { first, last })
}

fn category(token: &str) -> Result<u16, String> {
    let bad = || format!("'{token}' is not a category c<number>");
    let digits = token.strip_prefix('c').ok_or_else(bad)?;
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !canonical {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

/// One MLS level: a sensitivity and a set of categories.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Level {
    sensitivity: String,
    categories: BTreeSet<u16>,
}

impl Level {
    fn parse(s: &str) -> Result<Level, String> {
        let (sensitivity, cats) = match s.split_once(':') {
            Some((sens, c)) => (sens, Some(c)),
            None => (s, None),
        };
        if sensitivity.is_empty() || !sensitivity.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!("'{s}' has no sensitivity"));
        }
        let mut categories = BTreeSet::new();
        for item in cats.into_iter().flat_map(|c| c.split(',')) {
            let r = parse_category_range(item)?;
            categories.extend(r.first..=r.last);
        }
        Ok(Level {
            sensitivity: sensitivity.to_string(),
            categories,
        })
    }

    /// As the kernel prints it (security/selinux/ss/mls.c).
    fn render(&self) -> String {
        let mut out = self.sensitivity.clone();
        let cats: Vec<u16> = self.categories.iter().copied().collect();
        let mut items = Vec::new();
        let mut i = 0;
        while i < cats.len() {
            let mut j = i;
            while j + 1 < cats.len() && cats[j + 1] == cats[j] + 1 {
                j += 1;
            }
            match j - i {
                0 => items.push(format!("c{}", cats[i])),
                1 => items.push(format!("c{},c{}", cats[i], cats[j])),
                _ => items.push(format!("c{}.c{}", cats[i], cats[j])),
            }
            i = j + 1;
        }
        if !items.is_empty() {
            out.push(':');
            out.push_str(&items.join(","));
        }
        out
    }
}

/// `LOW[-HIGH]`; a single level is both.
fn parse_range(range: &str) -> Result<(Level, Level), String> {
    let mut parts = range.split('-');
    let low = Level::parse(parts.next().unwrap_or_default())?;
    let high = match parts.next() {
        Some(h) => Level::parse(h)?,
        None => low.clone(),
    };
    if parts.next().is_some() {
        return Err(format!("'{range}' has more than two levels"));
    }
    Ok((low, high))
}

fn render_range(low: &Level, high: &Level) -> String {
    if low == high {
        low.render()
    } else {
        format!("{}-{}", low.render(), high.render())
    }
}

/// The MLS range of a full context `user:role:type:range`, if it has one.
fn range_of(context: &str) -> Option<&str> {
    context.splitn(4, ':').nth(3)
}

/// `context` with category `c` added to every level of its range (see the module docs).
pub fn with_category(context: &str, c: u16) -> Result<String, String> {
    let range = range_of(context).ok_or_else(|| {
        format!("'{context}' has no MLS range: per-connection categories need an MLS/MCS policy")
    })?;
    let (mut low, mut high) =
        parse_range(range).map_err(|why| format!("MLS range of '{context}': {why}"))?;
    low.categories.insert(c);
    high.categories.insert(c);
    let prefix = &context[..context.len() - range.len()];
    Ok(format!("{prefix}{}", render_range(&low, &high)))
}

/// Categories of `range` (either level) that fall in `reserved`: a mapped range must have
/// none, or its processes would dominate (some) connections of other mappings, or the added
/// category would separate nothing.
pub fn reserved_in_range(range: &str, reserved: CategoryRange) -> Result<Vec<u16>, String> {
    let (low, high) = parse_range(range)?;
    let all: BTreeSet<u16> = low.categories.union(&high.categories).copied().collect();
    Ok(all.into_iter().filter(|c| reserved.contains(*c)).collect())
}

/// Same for a full context.
pub fn reserved_in_context(context: &str, reserved: CategoryRange) -> Result<Vec<u16>, String> {
    match range_of(context) {
        Some(r) => reserved_in_range(r, reserved),
        None => Ok(Vec::new()),
    }
}

/// Whether the high level of `context` (the server's clearance) holds every reserved category.
pub fn clearance_covers(context: &str, reserved: CategoryRange) -> Result<bool, String> {
    let range = range_of(context).ok_or_else(|| format!("'{context}' has no MLS range"))?;
    let (_, high) = parse_range(range)?;
    Ok((reserved.first..=reserved.last).all(|c| high.categories.contains(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: CategoryRange = CategoryRange {
        first: 512,
        last: 1023,
    };

    #[test]
    fn directive_syntax() {
        assert_eq!(parse_category_range("c512.c1023"), Ok(R));
        assert_eq!(R.len(), 512);
        assert_eq!(parse_category_range("c7").map(|r| r.len()), Ok(1));
        for bad in [
            "",
            "512.1023",
            "c1023.c512",
            "c05.c9",
            "c1.",
            "c1.c2.c3",
            "s0:c1",
        ] {
            assert!(parse_category_range(bad).is_err(), "{bad}");
        }
        assert_eq!(R.to_string(), "c512.c1023");
    }

    /// The kernel's rendering (mls.c): runs of 3+ with '.', pairs with ',', equal levels once.
    #[test]
    fn composition_table() {
        let cases = [
            ("u:r:t:s0:c1", 700, "u:r:t:s0:c1,c700"),
            ("u:r:t:s0", 700, "u:r:t:s0:c700"),
            ("u:r:t:s0-s0:c0.c255", 700, "u:r:t:s0:c700-s0:c0.c255,c700"),
            ("u:r:t:s0:c1-s0:c1", 9, "u:r:t:s0:c1,c9"),
            ("u:r:t:s0:c1", 2, "u:r:t:s0:c1,c2"),
            ("u:r:t:s0:c1,c3", 2, "u:r:t:s0:c1.c3"),
            ("u:r:t:s0:c1,c2,c3", 9, "u:r:t:s0:c1.c3,c9"),
            ("u:r:t:s0-s1:c0", 5, "u:r:t:s0:c5-s1:c0,c5"),
            ("u:r:t:s0:c1", 1, "u:r:t:s0:c1"),
        ];
        for (ctx, c, want) in cases {
            assert_eq!(with_category(ctx, c).as_deref(), Ok(want), "{ctx} + c{c}");
        }
        assert!(with_category("u:r:t", 1).is_err(), "no range, no MCS");
        assert!(with_category("u:r:t:s0-s0-s0", 1).is_err());
        assert!(with_category("u:r:t:s0:cx", 1).is_err());
    }

    #[test]
    fn two_connections_of_one_mapping_do_not_dominate_each_other() {
        let a = with_category("u:r:t:s0:c1", 700).unwrap();
        let b = with_category("u:r:t:s0:c1", 701).unwrap();
        let cats = |ctx: &str| parse_range(range_of(ctx).unwrap()).unwrap().1.categories;
        let (ca, cb, content) = (cats(&a), cats(&b), cats("u:r:t:s0:c1"));
        assert!(!ca.is_superset(&cb) && !cb.is_superset(&ca));
        assert!(ca.is_superset(&content) && cb.is_superset(&content));
    }

    #[test]
    fn reserved_and_clearance() {
        assert_eq!(reserved_in_range("s0:c1", R), Ok(vec![]));
        assert_eq!(reserved_in_range("s0-s0:c0.c513", R), Ok(vec![512, 513]));
        assert_eq!(reserved_in_range("s0:c600-s0:c1", R), Ok(vec![600]));
        assert_eq!(reserved_in_context("u:r:t", R), Ok(vec![]));
        assert_eq!(
            clearance_covers("u:r:t:s0-s0:c0.c1023", R),
            Ok(true),
            "refpolicy's usual clearance"
        );
        assert_eq!(clearance_covers("u:r:t:s0-s0:c0.c600", R), Ok(false));
        assert!(clearance_covers("u:r:t", R).is_err());
    }
}
