//! The log directives: `ErrorLog`, `LogLevel`, `LogFormat`, `CustomLog` (files and piped
//! programs). Separate because they configure where the server writes, not how it serves.

#![forbid(unsafe_code)]

use super::*;

pub fn error_log(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    let Some([a0]) = b.args(n, 1, 1) else { return };
    if a0.starts_with('|') || a0.starts_with("syslog") {
        return b.error(
            n,
            "ErrorLog: piped and syslog error logs are not supported; give a path or 'stderr' (CustomLog can be piped)",
        );
    }
    let stderr = a0.eq_ignore_ascii_case("stderr");
    if v.is_vhost {
        if stderr {
            return b.error(n, "ErrorLog stderr in <VirtualHost>: give this virtual host a file, or leave its errors to the server's ErrorLog");
        }
        v.error_log = Some(b.path(a0));
    } else if stderr {
        b.server_error_log = Some(LogTarget::Stderr);
    } else {
        b.server_error_log = Some(LogTarget::File(b.path(a0)));
    }
}

pub fn log_level(b: &mut Builder, n: &Node, cfg: &mut Config) {
    if let Some([a0]) = b.args(n, 1, 1) {
        match parse_level(a0) {
            Some(l) => cfg.log_level = l,
            None => b.error(n, format!("LogLevel: unknown level '{}'", a0)),
        }
    }
}

pub fn log_format(b: &mut Builder, n: &Node, _: &mut VHostDraft) {
    match n.args.as_slice() {
        [format, nick] => {
            // As Apache: a format is parsed where it is defined, used or not.
            if let Err(e) = crate::logformat::Format::parse(format) {
                return b.error(n, format!("LogFormat {nick}: {e}"));
            }
            let nick = nick.to_ascii_lowercase();
            b.log_formats.retain(|(k, _)| *k != nick);
            b.log_formats.push((nick, format.clone()));
        }
        _ => b.warn(
            n,
            "LogFormat without a nickname: accepted without effect (there is no TransferLog; CustomLog always names its format)",
        ),
    }
}

pub fn custom_log(b: &mut Builder, n: &Node, v: &mut VHostDraft) {
    let Some([a0, a1]) = b.args(n, 2, 2) else {
        return;
    };
    let lower = a1.to_ascii_lowercase();
    let named = b
        .log_formats
        .iter()
        .find(|(k, _)| *k == lower)
        .map(|(_, f)| f.clone());
    use crate::logformat::{COMBINED, COMMON, SUFFIX};
    let text = match (named, lower.as_str()) {
        (Some(f), _) => f,
        (None, "combined") => format!("{COMBINED}{SUFFIX}"),
        (None, "common") => format!("{COMMON}{SUFFIX}"),
        (None, "clf") => COMMON.to_string(),
        (None, _) if a1.contains('%') => a1.clone(),
        (None, other) => {
            return b.error(n, format!("CustomLog: no LogFormat is named '{other}' (define it before this line, or use combined or common)"))
        }
    };
    let format = match crate::logformat::Format::parse(&text) {
        Ok(f) => f,
        Err(e) => return b.error(n, format!("CustomLog: {e}")),
    };
    for var in format.env_names() {
        if !crate::logformat::ENV.contains(&var) {
            b.warn(n, format!("CustomLog: %{{{var}}}e is always '-': this server sets no such variable for its access log (it sets {})", crate::logformat::ENV.join(", ")));
        }
    }
    for note in format.note_names() {
        if !crate::logformat::NOTES.contains(&note) {
            b.warn(
                n,
                format!(
                    "CustomLog: %{{{note}}}n is always '-': the notes are {}",
                    crate::logformat::NOTES.join(", ")
                ),
            );
        }
    }
    if format.uses_filename() {
        b.warn(n, "CustomLog: %f is always '-': the file a request mapped to is not passed to the access log yet");
    }
    let dest = match piped(a0) {
        Some(Ok(dest)) => dest,
        Some(Err(m)) => return b.error(n, format!("CustomLog: {m}")),
        None => LogDest::File(b.path(a0)),
    };
    v.custom_logs.push(CustomLog { dest, format });
}

fn parse_level(s: &str) -> Option<log::LevelFilter> {
    use log::LevelFilter as L;
    Some(match s.to_ascii_lowercase().as_str() {
        "emerg" | "alert" | "crit" | "error" => L::Error,
        "warn" => L::Warn,
        "notice" | "info" => L::Info,
        "debug" => L::Debug,
        s if s.starts_with("trace") => L::Trace,
        _ => return None,
    })
}

/// `"|program"`, `"||program"` (no shell) and `"|$program"` (`/bin/sh -c`), as Apache 2.4;
/// None for a file.
fn piped(a: &str) -> Option<Result<LogDest, String>> {
    let rest = a.strip_prefix('|')?;
    let (command, shell) = match (rest.strip_prefix('|'), rest.strip_prefix('$')) {
        (Some(c), _) => (c, false),
        (_, Some(c)) => (c, true),
        _ => (rest, false),
    };
    let command = command.trim();
    if command.is_empty() {
        return Some(Err(format!("'{a}' names no program")));
    }
    if !shell {
        match shlex::split(command) {
            Some(argv) if !argv.is_empty() => {}
            _ => return Some(Err(format!("'{command}': unbalanced quotes"))),
        }
    }
    Some(Ok(LogDest::Pipe {
        command: command.to_string(),
        shell,
    }))
}
