//! What a URL maps to: mod_alias (`Alias`, `AliasMatch`, `Redirect*`), `ScriptAlias`,
//! `AddHandler`, `SetHandler`, `DirectoryIndex` and `Options`. Separate because these turn a
//! path into a file, a program or a redirect.

#![forbid(unsafe_code)]

use super::*;

/// An `Alias`/`AliasMatch` entry (its origin still to be set): the target made absolute
/// against ServerRoot, its reachable root, the URL-path or the compiled expression.
fn alias_entry(
    b: &Builder,
    fake: &str,
    real: &str,
    is_regex: bool,
) -> Result<super::super::alias::Alias, String> {
    use super::super::alias::{literal_root, Alias, Pattern};
    let mut target = b.path(real).to_string_lossy().into_owned();
    if real.ends_with('/') && !target.ends_with('/') {
        target.push('/');
    }
    let pattern = if is_regex {
        Pattern::Regex(SectionRegex::new(fake)?)
    } else {
        if !fake.starts_with('/') {
            return Err(format!("the URL-path '{fake}' must start with '/'"));
        }
        if fake.ends_with('/') != target.ends_with('/') {
            return Err(format!(
                "'{fake}' and '{real}': end both or neither with '/' (Apache would append the rest of the URL without a separator)"
            ));
        }
        Pattern::Prefix(fake.to_string())
    };
    let root_text = if is_regex {
        literal_root(&target)
    } else {
        target.as_str()
    };
    let root = PathBuf::from(root_text);
    if root
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(format!("the target '{real}' may not contain '..'"));
    }
    Ok(Alias {
        pattern,
        target,
        root,
        origin: Origin {
            file: PathBuf::new(),
            line: 0,
        },
    })
}

/// Apache's AH00671: a plain Alias whose URL-path an earlier Alias or AliasMatch of the same
/// server already covers will probably never match.
fn alias_overlap(v: &VHostDraft) -> Option<String> {
    use super::super::alias::{alias_matches, Pattern};
    let (last, earlier) = v.aliases.split_last()?;
    let Pattern::Prefix(fake) = &last.pattern else {
        return None;
    };
    let covered = |p: &Pattern| match p {
        Pattern::Prefix(f) => alias_matches(fake, f).is_some(),
        Pattern::Regex(r) => r.is_match(fake),
    };
    if let Some(e) = earlier.iter().find(|e| covered(&e.pattern)) {
        return Some(format!(
            "will probably never match because it overlaps the Alias at {}",
            e.origin
        ));
    }
    let segs = crate::http::route::route(fake).ok()?.segments;
    v.script_aliases
        .iter()
        .find(|s| segs.starts_with(&s.prefix))
        .map(|s| {
            format!(
                "never matches: the ScriptAlias at {} covers it, and ScriptAliases are tried first",
                s.origin
            )
        })
}

/// `ScriptAlias URL-PREFIX DIR`: the prefix as decoded route segments. A prefix covering the
/// whole site would turn every URL into a program, so it is refused.
pub fn parse_script_alias(url: &str) -> Result<Vec<String>, String> {
    if !url.starts_with('/') {
        return Err(format!(
            "ScriptAlias: the URL prefix '{url}' must start with '/'"
        ));
    }
    let r = crate::http::route::route(url)
        .map_err(|e| format!("ScriptAlias: URL prefix '{url}': {e}"))?;
    if r.segments.is_empty() {
        return Err(format!(
            "ScriptAlias: the URL prefix '{url}' would make every URL a program"
        ));
    }
    Ok(r.segments)
}

/// `AddHandler cgi-script .EXT...`: only the CGI handler exists here. Suffixes are stored
/// lowercase without the dot (Apache matches them case-insensitively, dot optional).
pub fn parse_add_handler(args: &[String]) -> Result<Vec<String>, String> {
    let Some((handler, extensions)) = args.split_first() else {
        return Err("AddHandler takes at least 2 argument(s), got 0".into());
    };
    if !handler.eq_ignore_ascii_case("cgi-script") {
        return Err(format!(
            "AddHandler: handler '{handler}' is not supported (only cgi-script)"
        ));
    }
    extensions
        .iter()
        .map(|a| {
            let e = a.strip_prefix('.').unwrap_or(a);
            if e.is_empty() || e.contains(['/', '.']) || e.chars().any(char::is_control) {
                Err(format!("AddHandler: '{a}' is not a file extension"))
            } else {
                Ok(e.to_ascii_lowercase())
            }
        })
        .collect()
}

/// An `Options` line: absolute (replaces what the scope inherits) or relative (adjusts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsSetting {
    Absolute(Options),
    Relative(OptionsDelta),
}

/// Apache's `Options`: plain words replace, `+`/`-` words adjust; mixing the two is an error.
pub fn parse_options_setting(args: &[String]) -> Result<OptionsSetting, String> {
    let relative = args
        .iter()
        .any(|a| a.starts_with('+') || a.starts_with('-'));
    if !relative {
        return parse_options(args, Options::default()).map(OptionsSetting::Absolute);
    }
    let on = parse_options(args, Options::default())?;
    let negated: Vec<String> = args
        .iter()
        .filter_map(|a| a.strip_prefix('-').map(|w| format!("+{w}")))
        .collect();
    let off = if negated.is_empty() {
        Options::default()
    } else {
        parse_options(&negated, Options::default())?
    };
    Ok(OptionsSetting::Relative(OptionsDelta { on, off }))
}

/// Apache's `Options`: plain words replace, `+`/`-` words adjust; mixing the two is an error.
pub fn parse_options(args: &[String], inherited: Options) -> Result<Options, String> {
    let relative = args
        .iter()
        .any(|a| a.starts_with('+') || a.starts_with('-'));
    let absolute = args
        .iter()
        .any(|a| !(a.starts_with('+') || a.starts_with('-')));
    if relative && absolute {
        return Err("Options: either all options must start with + or -, or no option may".into());
    }
    let mut o = if relative {
        inherited
    } else {
        Options::default()
    };
    for a in args {
        let (on, word) = if let Some(w) = a.strip_prefix('+') {
            (true, w)
        } else if let Some(w) = a.strip_prefix('-') {
            (false, w)
        } else {
            (true, a.as_str())
        };
        match word.to_ascii_lowercase().as_str() {
            "none" if !relative => o = Options::default(),
            // Apache's All is every option but MultiViews.
            "all" if !relative => {
                o = Options {
                    indexes: true,
                    follow_symlinks: true,
                    symlinks_if_owner_match: true,
                    exec_cgi: true,
                }
            }
            "indexes" => o.indexes = on,
            "followsymlinks" => o.follow_symlinks = on,
            "symlinksifownermatch" => o.symlinks_if_owner_match = on,
            "execcgi" => o.exec_cgi = on,
            // Turning off what this server never does is what it does.
            "includes" | "includesnoexec" | "multiviews" if relative && !on => {}
            "includes" | "includesnoexec" | "multiviews" => {
                return Err(format!("Options: '{word}' is not supported by this server"))
            }
            _ => return Err(format!("Options: unknown option '{word}'")),
        }
    }
    Ok(o)
}

pub fn script_alias(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    if let Some([a0, a1]) = b.args(n, 2, 2) {
        match parse_script_alias(a0) {
            Ok(prefix) => v.script_aliases.push(ScriptAlias {
                prefix,
                dir: b.path(a1),
                origin: origin(n),
            }),
            Err(m) => b.error(n, m),
        }
    }
}

/// `Alias URL-PATH TARGET` and `AliasMatch REGEX TARGET` (see `config::alias`).
pub fn alias(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    let Some([fake, real]) = b.args(n, 2, 2) else {
        return;
    };
    let is_regex = n.name.eq_ignore_ascii_case("AliasMatch");
    match alias_entry(b, fake, real, is_regex) {
        Ok(a) => {
            let a = super::super::alias::Alias {
                origin: origin(n),
                ..a
            };
            v.aliases.push(a);
        }
        Err(m) => b.error(n, format!("{}: {m}", n.name)),
    }
    if let Some(w) = alias_overlap(v) {
        b.warn(n, format!("{}: {w}", n.name));
    }
}

/// `Redirect`, `RedirectMatch`, `RedirectPermanent`, `RedirectTemp`.
pub fn redirect(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    let name = n.name.to_ascii_lowercase();
    let implied = if name == "redirectpermanent" {
        301
    } else {
        302
    };
    let is_regex = name == "redirectmatch";
    if matches!(name.as_str(), "redirectpermanent" | "redirecttemp") && n.args.len() != 2 {
        return b.error(
            n,
            format!("{} takes 2 argument(s), got {}", n.name, n.args.len()),
        );
    }
    let parsed = super::super::alias::parse_redirect(implied, &n.args, is_regex).and_then(
        |(status, fake, target)| {
            let pattern = if is_regex {
                super::super::alias::Pattern::Regex(SectionRegex::new(&fake)?)
            } else {
                super::super::alias::Pattern::Prefix(fake)
            };
            Ok(super::super::alias::Redirect {
                pattern,
                status,
                target,
                origin: origin(n),
            })
        },
    );
    match parsed {
        Ok(r) => v.redirects.push(r),
        Err(m) => b.error(n, format!("{}: {m}", n.name)),
    }
}

pub fn options(b: &mut Builder, n: &Node, d: &mut DirConf) {
    match parse_options_setting(&n.args) {
        Ok(OptionsSetting::Absolute(o)) => {
            d.options = Some(o);
            d.options_delta = None;
        }
        Ok(OptionsSetting::Relative(delta)) => match d.options {
            Some(o) => d.options = Some(delta.apply(o)),
            None => d.options_delta = Some(d.options_delta.unwrap_or_default().then(&delta)),
        },
        Err(m) => b.error(n, m),
    }
}

pub fn add_handler(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if n.args
        .first()
        .is_some_and(|h| h.eq_ignore_ascii_case("type-map"))
    {
        return b.warn(n, "AddHandler type-map: accepted without effect: there is no content negotiation; such files are served as they are");
    }
    match parse_add_handler(&n.args) {
        Ok(exts) => d.cgi_extensions.get_or_insert_with(Vec::new).extend(exts),
        Err(m) => b.error(n, m),
    }
}

pub fn set_handler(b: &mut Builder, n: &Node) {
    match n.args.first().map(|a| a.to_ascii_lowercase()).as_deref() {
        Some("server-status") | Some("server-info") => b.warn(n, format!("SetHandler {}: accepted without effect: there is no such page; its URLs are served as any other", n.args.join(" "))),
        Some("none") => {}
        _ => b.error(n, format!("SetHandler {}: not supported (ScriptAlias or AddHandler cgi-script for programs)", n.args.join(" "))),
    }
}

pub fn directory_index(b: &mut Builder, n: &Node, d: &mut DirConf) {
    if matches!(n.args.as_slice(), [only] if only.eq_ignore_ascii_case("disabled")) {
        d.directory_index = Some(Vec::new());
    } else if let Some(bad) = n
        .args
        .iter()
        .find(|a| a.contains('/') || a.as_str() == "..")
    {
        b.error(
            n,
            format!("DirectoryIndex: '{bad}' must be a plain file name"),
        );
    } else {
        d.directory_index = Some(n.args.clone());
    }
}
