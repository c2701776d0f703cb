//! The parts of Apache's configuration language that act while the files are read, before any
//! directive means anything: `Define`/`UnDefine` (and `-D NAME`), `${VAR}`, `<IfDefine>`,
//! `<IfVersion>`. Pure: the loader supplies the environment and walks the tree
//! (`<IfModule>` and `LoadModule` are in [`super::modules`]).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

/// The Apache version this server claims compatibility with, for `<IfVersion>`: the 2.4 series
/// whose documented behaviour docs/configuration.md follows.
pub const APACHE_VERSION: (u32, u32, u32) = (2, 4, 62);

/// `Define` names (with their values, when given), in the order the files define them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defines {
    vars: BTreeMap<String, Option<String>>,
}

impl Defines {
    /// From the command line's `-D NAME` (or `-D NAME=VALUE`... Apache takes only names).
    pub fn from_names(names: &[String]) -> Self {
        let mut d = Defines::default();
        for n in names {
            d.vars.insert(n.clone(), None);
        }
        d
    }

    /// `Define NAME [VALUE]` (arguments already `${}`-expanded).
    pub fn define(&mut self, args: &[String]) -> Result<(), String> {
        match args {
            [name] => self.set(name, None),
            [name, value] => self.set(name, Some(value.clone())),
            _ => Err(format!(
                "Define takes 1 or 2 arguments (NAME [VALUE]), got {}",
                args.len()
            )),
        }
    }

    fn set(&mut self, name: &str, value: Option<String>) -> Result<(), String> {
        if name.contains(':') || name.contains('$') || name.contains('}') {
            return Err(format!(
                "Define: '{name}' is not a variable name (no ':', '$' or '}}')"
            ));
        }
        self.vars.insert(name.to_string(), value);
        Ok(())
    }

    /// `UnDefine NAME`.
    pub fn undefine(&mut self, args: &[String]) -> Result<(), String> {
        match args {
            [name] => {
                self.vars.remove(name);
                Ok(())
            }
            _ => Err(format!("UnDefine takes 1 argument, got {}", args.len())),
        }
    }

    /// `<IfDefine [!]NAME>`.
    pub fn if_define(&self, args: &[String]) -> Result<bool, String> {
        let [arg] = args else {
            return Err(format!(
                "<IfDefine> takes 1 argument ([!]NAME), got {}",
                args.len()
            ));
        };
        let (negated, name) = match arg.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, arg.as_str()),
        };
        Ok(self.vars.contains_key(name) != negated)
    }

    /// The value `${NAME}` takes from a `Define NAME VALUE`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.vars.get(name).and_then(|v| v.as_deref())
    }
}

/// Replaces every `${NAME}` in `s`: a `Define`d value first, then the environment (Apache's
/// order). An undefined name is an error (Apache warns and leaves the text as written, which
/// then fails far from its line).
pub fn substitute(
    s: &str,
    defines: &Defines,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if !s.contains("${") {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 2..).unwrap_or_default();
        let Some(end) = after.find('}') else {
            return Err(format!("'${{' without its closing '}}' in '{s}'"));
        };
        let name = after.get(..end).unwrap_or_default();
        if name.is_empty() {
            return Err(format!("'${{}}' names no variable in '{s}'"));
        }
        match defines
            .value(name)
            .map(str::to_string)
            .or_else(|| env(name))
        {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "${{{name}}} is not defined (neither by Define nor in the environment)"
                ))
            }
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// `<IfVersion [[!]OP] VERSION>` against [`APACHE_VERSION`], as mod_version: OP is `=`
/// (default), `==`, `>`, `>=`, `<`, `<=`; missing minor and patch numbers are 0. The regular
/// expression forms (`~`, `/re/`) are refused.
pub fn if_version(args: &[String]) -> Result<bool, String> {
    let (op, version) = match args {
        [v] => ("=", v.as_str()),
        [op, v] => (op.as_str(), v.as_str()),
        _ => {
            return Err(format!(
                "<IfVersion> takes 1 or 2 arguments ([[!]OP] VERSION), got {}",
                args.len()
            ))
        }
    };
    let (negated, op) = match op.strip_prefix('!') {
        Some(o) => (true, o),
        None => (false, op),
    };
    if op == "~" || version.starts_with('/') {
        return Err(
            "<IfVersion>: regular expressions are not supported; compare with =, >, >=, <, <="
                .into(),
        );
    }
    let mut parts = [0u32; 3];
    let mut count = 0;
    for (slot, word) in parts.iter_mut().zip(version.split('.')) {
        *slot = word
            .parse()
            .ok()
            .filter(|_| word.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!("<IfVersion>: '{version}' is not MAJOR[.MINOR[.PATCH]] in numbers")
            })?;
        count += 1;
    }
    if count == 0 || version.split('.').count() > 3 {
        return Err(format!(
            "<IfVersion>: '{version}' is not MAJOR[.MINOR[.PATCH]] in numbers"
        ));
    }
    let ours = APACHE_VERSION;
    let theirs = (parts[0], parts[1], parts[2]);
    let r = match op {
        "=" | "==" => ours == theirs,
        ">" => ours > theirs,
        ">=" => ours >= theirs,
        "<" => ours < theirs,
        "<=" => ours <= theirs,
        other => {
            return Err(format!(
                "<IfVersion>: unknown operator '{other}' (=, ==, >, >=, <, <=)"
            ))
        }
    };
    Ok(r != negated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn substitute_table() {
        let mut d = Defines::from_names(&a(&["ONLY_NAME"]));
        d.define(&a(&["ROOT", "/srv"])).unwrap();
        d.define(&a(&["HOME", "/from-define"])).unwrap();
        let env = |n: &str| (n == "HOME" || n == "LOGS").then(|| format!("/env/{n}"));
        let rows: &[(&str, Result<&str, &str>)] = &[
            ("plain", Ok("plain")),
            ("${ROOT}/www", Ok("/srv/www")),
            ("${HOME}", Ok("/from-define")),
            ("${LOGS}/error.log", Ok("/env/LOGS/error.log")),
            ("a${ROOT}b${LOGS}c", Ok("a/srvb/env/LOGSc")),
            ("$ROOT {x} $", Ok("$ROOT {x} $")),
            (
                "${NOPE}",
                Err("${NOPE} is not defined (neither by Define nor in the environment)"),
            ),
            (
                "${ONLY_NAME}",
                Err("${ONLY_NAME} is not defined (neither by Define nor in the environment)"),
            ),
            ("${ROOT", Err("'${' without its closing '}' in '${ROOT'")),
            ("${}", Err("'${}' names no variable in '${}'")),
        ];
        for (s, want) in rows {
            assert_eq!(
                substitute(s, &d, &env),
                want.map(str::to_string).map_err(str::to_string),
                "{s}"
            );
        }
    }

    #[test]
    fn defines_table() {
        let mut d = Defines::from_names(&a(&["CLI"]));
        assert_eq!(d.if_define(&a(&["CLI"])), Ok(true));
        assert_eq!(d.if_define(&a(&["!CLI"])), Ok(false));
        d.define(&a(&["X"])).unwrap();
        assert_eq!(d.if_define(&a(&["X"])), Ok(true));
        d.undefine(&a(&["X"])).unwrap();
        assert_eq!(d.if_define(&a(&["X"])), Ok(false));
        assert_eq!(d.if_define(&a(&["!X"])), Ok(true));
        assert!(d.define(&a(&[])).is_err());
        assert!(d.define(&a(&["a:b"])).is_err());
        assert!(d.undefine(&a(&["a", "b"])).is_err());
        assert!(d.if_define(&a(&[])).is_err());
    }

    #[test]
    fn if_version_table() {
        let rows: &[(&[&str], Result<bool, ()>)] = &[
            (&["2.4.62"], Ok(true)),
            (&["2.4"], Ok(false)),
            (&[">=", "2.4"], Ok(true)),
            (&[">", "2.4"], Ok(true)),
            (&["<", "2.4"], Ok(false)),
            (&["<", "2.5"], Ok(true)),
            (&["<=", "2.4.62"], Ok(true)),
            (&["==", "2"], Ok(false)),
            (&["!=", "2.2"], Ok(true)),
            (&["!>=", "2.4"], Ok(false)),
            (&[">=", "2.4.63"], Ok(false)),
            (&["~", "^2"], Err(())),
            (&["=", "/^2/"], Err(())),
            (&["=", "2.x"], Err(())),
            (&["=", "2.4.1.1"], Err(())),
            (&["=", ""], Err(())),
            (&["<>", "2"], Err(())),
            (&[], Err(())),
        ];
        for (args, want) in rows {
            assert_eq!(if_version(&a(args)).map_err(|_| ()), *want, "{args:?}");
        }
    }
}
