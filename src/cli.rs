//! Command line, Apache's letters: `oneshot-httpd -f FILE [-D NAME]... [-c DIRECTIVE]... [-t]`, `-h`, `-v`.
//!
//! Hand-written rather than `clap`: the grammar is seven options in getopt style (`-f FILE` or
//! `-fFILE`, `-c` and `-D` repeatable, `-t`), the exit codes are fixed (usage on stderr and 2 for bad
//! arguments), and the whole of it is a pure function tested as a table below; a parser crate
//! would add a dozen crates to compile and audit to a binary whose dependencies are its
//! attack surface, for no behaviour we need.
#![forbid(unsafe_code)]

use crate::config;
use std::path::PathBuf;

#[derive(Debug, PartialEq, Eq)]
pub struct Args {
    pub file: PathBuf,
    pub directives: Vec<String>,
    /// `-D NAME`: defined before the files are read, as Apache's.
    pub defines: Vec<String>,
    pub test_only: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run(Args),
    Version,
    Help,
}

pub const USAGE: &str = "\
usage: oneshot-httpd -f FILE [-D NAME]... [-c DIRECTIVE]... [-t]
       oneshot-httpd -h | -v
  -f FILE       configuration file (Apache syntax)
  -D NAME       define NAME for <IfDefine NAME> and ${NAME} (repeatable)
  -c DIRECTIVE  apply DIRECTIVE after reading FILE (repeatable)
  -t            check the configuration and exit: FILE:LINE for every error; as root also
                whether the identities children take can reach every DocumentRoot and
                ScriptAlias directory
  -h, --help    show this help
  -v, -V, --version
                show the version
Signals: SIGHUP or SIGUSR1 reloads the configuration and reopens the logs,
         SIGTERM/SIGINT stop gracefully. See oneshot-httpd(8).
Under systemd: Type=notify-reload and socket activation (see dist/systemd/).
";

/// Pure argument parsing; `Err` carries the message to print before the usage text.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut file = None;
    let mut directives = Vec::new();
    let mut defines = Vec::new();
    let mut test_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        // getopt style: the value of -f/-c may be glued to the letter (`-fhttpd.conf`).
        let mut value = |flag: &str, what: &str| -> Result<String, String> {
            match &a[flag.len()..] {
                "" => it.next().cloned().ok_or(format!("{flag} needs {what}")),
                glued => Ok(glued.to_string()),
            }
        };
        match a.as_str() {
            "--version" | "-v" | "-V" => return Ok(Command::Version),
            "--help" | "-h" | "-?" => return Ok(Command::Help),
            "-t" => test_only = true,
            s if s.starts_with("-f") => {
                if file.is_some() {
                    return Err("-f given twice".into());
                }
                file = Some(PathBuf::from(value("-f", "a file")?));
            }
            s if s.starts_with("-c") => directives.push(value("-c", "a directive")?),
            s if s.starts_with("-D") => defines.push(value("-D", "a name")?),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let file = file.ok_or("no configuration file given (-f FILE)")?;
    Ok(Command::Run(Args {
        file,
        directives,
        defines,
        test_only,
    }))
}

/// The program: exit code 0 on success, 1 on a configuration or start-up error, 2 on bad usage.
pub fn main() -> i32 {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(crate::master::reexec::CHILD_FLAG) {
        crate::master::reexec::child_main(&argv);
    }
    let args = match parse(&argv) {
        Ok(Command::Version) => {
            println!("oneshot-httpd {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        Ok(Command::Help) => {
            print!("{USAGE}");
            return 0;
        }
        Ok(Command::Run(a)) => a,
        Err(m) => {
            eprint!("oneshot-httpd: {m}\n{USAGE}");
            return 2;
        }
    };
    // Before anything opens a descriptor: the activated sockets are at 3 and up.
    let systemd = if args.test_only {
        crate::systemd::Systemd::default()
    } else {
        match crate::systemd::Systemd::from_env() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("oneshot-httpd: {e}");
                return 1;
            }
        }
    };
    let cfg = match config::load_with(&args.file, &args.defines, &args.directives) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("oneshot-httpd: {} configuration error(s)", errors.len());
            return 1;
        }
    };
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
    // A root master's children take other identities: can those reach what they serve?
    let unreachable = if nix::unistd::geteuid().is_root() {
        crate::reach::check(
            &cfg,
            crate::reach::worker(&cfg).as_ref(),
            &crate::reach::Real,
        )
    } else {
        Vec::new()
    };
    if args.test_only {
        if !unreachable.is_empty() {
            for e in &unreachable {
                eprintln!("{e}");
            }
            eprintln!(
                "oneshot-httpd: {} configuration error(s): children could not reach what they serve (every page would be a 500); make each named directory searchable (chmod o+x, or a group or ACL entry for that identity) or move the site",
                unreachable.len()
            );
            return 1;
        }
        eprintln!("Syntax OK");
        return 0;
    }
    let log_fd = match crate::logging::init(&cfg) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("oneshot-httpd: {e}");
            return 1;
        }
    };
    for w in &cfg.warnings {
        log::warn!("{w}");
    }
    // A reload reads the new files in a forked checker (I9): a crash or hang there refuses
    // the reload instead of taking the master down.
    let reload = || {
        let checked = crate::master::validate::load_in_child(
            &args.file,
            &args.defines,
            &args.directives,
            crate::master::validate::TIMEOUT,
        );
        match checked {
            Ok(c) => {
                for w in &c.warnings {
                    log::warn!("reload: {w}");
                }
                Some(c)
            }
            Err(errors) => {
                for e in &errors {
                    log::error!("reload refused: {e}");
                }
                log::error!("reload: keeping the old configuration");
                None
            }
        }
    };
    match crate::master::run(cfg, reload, log_fd, systemd) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e}");
            eprintln!("oneshot-httpd: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn table() {
        let run = |file: &str, directives: &[&str], test_only| {
            Ok(Command::Run(Args {
                file: file.into(),
                directives: directives.iter().map(|d| d.to_string()).collect(),
                defines: vec![],
                test_only,
            }))
        };
        let good: &[(&[&str], Result<Command, String>)] = &[
            (&["--version"], Ok(Command::Version)),
            (&["-v"], Ok(Command::Version)),
            (&["-V"], Ok(Command::Version)),
            (&["-h"], Ok(Command::Help)),
            (&["--help"], Ok(Command::Help)),
            // Help and version win over whatever else is on the line, as in Apache.
            (&["-f", "x.conf", "--help"], Ok(Command::Help)),
            (&["-x", "-h"], Err("unknown argument '-x'".into())),
            (
                &["-f", "x.conf", "-c", "Listen 1", "-t"],
                run("x.conf", &["Listen 1"], true),
            ),
            (&["-fx.conf"], run("x.conf", &[], false)),
            (
                &["-t", "-cUser a", "-c", "Group b", "-f", "/etc/h.conf"],
                run("/etc/h.conf", &["User a", "Group b"], true),
            ),
            // A value that looks like an option is still the value.
            (&["-f", "-t"], run("-t", &[], false)),
            (
                &["-f", "x.conf", "-D", "X", "-DY"],
                Ok(Command::Run(Args {
                    file: "x.conf".into(),
                    directives: vec![],
                    defines: vec!["X".into(), "Y".into()],
                    test_only: false,
                })),
            ),
        ];
        for (args, want) in good {
            assert_eq!(&parse(&a(args)), want, "{args:?}");
        }
        for bad in [
            &["-f"][..],
            &["-x"],
            &[],
            &["-c", "Listen 1"],
            &["-t"],
            &["-f", "a", "-f", "b"],
            &["-c"],
            &["--file=x"],
            &["x.conf"],
        ] {
            assert!(parse(&a(bad)).is_err(), "{bad:?}");
        }
    }
}
