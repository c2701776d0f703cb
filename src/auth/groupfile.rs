//! `AuthGroupFile` (mod_authz_groupfile): `GROUP: USER USER...` lines, read by the master
//! at load (the file holds no secret: it names users, as a `Require user` line does).
//!
//! Apache's reader (`groups_for_user`) takes the text before the first `:` as the group name
//! and the words after it as members, skips empty lines and `#` comments, and lets a group
//! be written on several lines. Here every line must be that exactly: a line without `:`, a
//! group name with blanks or an empty one (which Apache would keep and no `Require group`
//! could ever name), quotes (Apache's word splitting would read them), control characters,
//! or a line over Apache's 8 KiB line limit are errors naming the line, never a group that
//! silently matches nobody.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};

/// Apache reads group files through a `MAX_STRING_LEN` (8192 bytes) buffer.
const MAX_LINE: usize = 8191;

/// Group name → its members.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupFile {
    groups: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl GroupFile {
    /// Whether `user` is a member of any of `groups` (names compared exactly, as Apache).
    pub fn in_any(&self, user: &str, groups: &[String]) -> bool {
        groups
            .iter()
            .any(|g| self.groups.get(g).is_some_and(|m| m.contains(user)))
    }
}

pub fn parse(text: &str) -> Result<GroupFile, Vec<LineError>> {
    let mut file = GroupFile::default();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let mut fail = |message: String| errors.push(LineError { line, message });
        if raw.len() > MAX_LINE {
            fail(format!(
                "line longer than {MAX_LINE} bytes (Apache would split it): split the group over several lines"
            ));
            continue;
        }
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.chars().any(|c| c.is_control() && c != '\t') || t.contains(['"', '\'']) {
            fail("control characters or quotes are not allowed".into());
            continue;
        }
        let Some((name, members)) = t.split_once(':') else {
            fail("not GROUP: USER...: there is no ':'".into());
            continue;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            fail(format!(
                "group name '{name}' is empty or has blanks (Apache would keep them and no Require group could name it)"
            ));
            continue;
        }
        let set = file.groups.entry(name.to_owned()).or_default();
        set.extend(members.split_whitespace().map(str::to_owned));
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_table() {
        let f = parse("# staff\nstaff: alice bob\nadmins:carol\n\nstaff: dave\nempty:\n").unwrap();
        let g = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (user, groups, want) in [
            ("alice", g(&["staff"]), true),
            ("dave", g(&["staff"]), true),
            ("carol", g(&["staff"]), false),
            ("carol", g(&["staff", "admins"]), true),
            ("Alice", g(&["staff"]), false),
            ("alice", g(&["Staff"]), false),
            ("alice", g(&["nosuch"]), false),
            ("", g(&["empty"]), false),
            ("staff", g(&["staff"]), false),
        ] {
            assert_eq!(f.in_any(user, &groups), want, "{user} in {groups:?}");
        }
    }

    #[test]
    fn errors_table() {
        for (text, line, want) in [
            ("staff alice\n", 1, "no ':'"),
            ("ok: a\n: alice\n", 2, "empty or has blanks"),
            ("staff : alice\n", 1, "blanks"),
            ("s: \"alice\"\n", 1, "quotes"),
            ("s: a\u{1}b\n", 1, "control"),
        ] {
            let e = parse(text).expect_err(text);
            assert_eq!(e[0].line, line, "{text:?}");
            assert!(e[0].message.contains(want), "{text:?}: {}", e[0].message);
        }
        let long = format!("g: {}\n", "a ".repeat(5000));
        assert!(parse(&long).unwrap_err()[0].message.contains("longer"));
    }
}
