//! mpm-itk's process directives besides `AssignUserID`: `LimitUIDRange`/`LimitGIDRange`
//! (server-wide: every assigned or mapped identity must lie inside, checked when the
//! configuration is loaded and again by the child before it switches) and `NiceValue` (the
//! nice value a request runs at, set by the child before confinement). Pure: arguments in,
//! values and messages out.
//!
//! Where this server differs from mpm-itk (docs/itk.md): mpm-itk enforces the ranges with a
//! seccomp filter over set*id and "does not restrict supplemental gids"; here the whole chosen
//! identity, supplementary groups included, is compared with the ranges, and the child's own
//! seccomp filter already refuses every set*id call after confinement. mpm-itk clamps a
//! NiceValue outside -20..19 with a warning; here it is an error, and so is a negative value:
//! children give up CAP_SYS_NICE before they read a byte, so they can only lower their priority.
#![forbid(unsafe_code)]

use super::build::Builder;
use super::model::{Config, DirConf, Origin};
use super::parse::Node;

/// `LimitUIDRange MIN MAX` / `LimitGIDRange MIN MAX`, inclusive, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdRange {
    pub min: u32,
    pub max: u32,
    pub origin: Origin,
}

impl IdRange {
    pub fn contains(&self, id: u32) -> bool {
        (self.min..=self.max).contains(&id)
    }
}

/// The server-wide mpm-itk settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItkSettings {
    pub uid_range: Option<IdRange>,
    pub gid_range: Option<IdRange>,
}

impl ItkSettings {
    /// Why `uid`/`gid`/`groups` lies outside the ranges, or None when it lies inside (or no
    /// range is set). Every supplementary group is checked against `LimitGIDRange` too.
    pub fn outside(&self, uid: u32, gid: u32, groups: &[u32]) -> Option<String> {
        if let Some(r) = &self.uid_range {
            if !r.contains(uid) {
                return Some(format!(
                    "uid {uid} is outside LimitUIDRange {} {} ({})",
                    r.min, r.max, r.origin
                ));
            }
        }
        let r = self.gid_range.as_ref()?;
        let bad = std::iter::once(&gid)
            .chain(groups)
            .find(|g| !r.contains(**g))?;
        let what = if *bad == gid {
            "gid"
        } else {
            "supplementary group"
        };
        Some(format!(
            "{what} {bad} is outside LimitGIDRange {} {} ({})",
            r.min, r.max, r.origin
        ))
    }
}

fn range(b: &mut Builder, n: &Node) -> Option<IdRange> {
    let [min, max] = n.args.as_slice() else {
        b.error(n, format!("{} takes two arguments: MIN MAX", n.name));
        return None;
    };
    let parse = |s: &str| s.parse::<u32>().ok().filter(|&v| v != u32::MAX);
    match (parse(min), parse(max)) {
        (Some(lo), Some(hi)) if lo <= hi => Some(IdRange {
            min: lo,
            max: hi,
            origin: Origin {
                file: n.file.clone(),
                line: n.line,
            },
        }),
        (Some(_), Some(_)) => {
            b.error(n, format!("{}: MIN {min} is above MAX {max}", n.name));
            None
        }
        _ => {
            b.error(
                n,
                format!("{}: '{min} {max}' are not two ids in 0..4294967294", n.name),
            );
            None
        }
    }
}

pub fn limit_uid_range(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some(r) = range(b, n) {
        cfg.itk.uid_range = Some(r);
    }
}

pub fn limit_gid_range(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some(r) = range(b, n) {
        cfg.itk.gid_range = Some(r);
    }
}

/// `NiceValue N`: 0..=19 (see the module comment for negative values).
pub fn nice_value(b: &mut Builder, n: &Node, d: &mut DirConf) {
    let [v] = n.args.as_slice() else {
        return b.error(n, "NiceValue takes one argument: a nice value 0..19");
    };
    match v.parse::<i32>() {
        Ok(x @ 0..=19) => d.nice = Some(x),
        Ok(x @ -20..=-1) => b.error(
            n,
            format!("NiceValue {x}: children give up CAP_SYS_NICE before they read a request, so they can lower their priority (0..19) but never raise it above the master's"),
        ),
        _ => b.error(n, format!("NiceValue '{v}' is not a nice value (0..19)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written from mpm-itk's documentation (ranges are inclusive, `LimitGIDRange` bounds the
    /// gid) plus this server's one addition (supplementary groups are bounded too).
    #[test]
    fn outside_table() {
        let at = Origin {
            file: "t.conf".into(),
            line: 3,
        };
        let r = |min, max| {
            Some(IdRange {
                min,
                max,
                origin: at.clone(),
            })
        };
        let s = ItkSettings {
            uid_range: r(1000, 1999),
            gid_range: r(1000, 1999),
        };
        // (uid, gid, groups, inside?)
        let table: &[(u32, u32, &[u32], bool)] = &[
            (1000, 1000, &[1000], true),
            (1999, 1999, &[], true),
            (999, 1000, &[], false),
            (2000, 1000, &[], false),
            (1000, 999, &[], false),
            (1000, 2000, &[], false),
            (1000, 1000, &[1000, 27], false),
            (1000, 1000, &[1000, 1500], true),
        ];
        for (uid, gid, groups, inside) in table {
            let got = s.outside(*uid, *gid, groups);
            assert_eq!(got.is_none(), *inside, "{uid} {gid} {groups:?}: {got:?}");
            if let Some(m) = got {
                assert!(m.contains("t.conf:3"), "{m}");
            }
        }
        assert_eq!(ItkSettings::default().outside(0, 0, &[0]), None);
        let only_uid = ItkSettings {
            uid_range: r(5, 5),
            gid_range: None,
        };
        assert_eq!(only_uid.outside(5, 0, &[1, 2]), None);
        assert!(only_uid.outside(6, 6, &[]).unwrap().contains("uid 6"));
    }
}
