//! Command line: `oneshot-httpd -f FILE [-D NAME]... [-c DIRECTIVE]... [-t] | --version`.
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
}

pub const USAGE: &str = "usage: oneshot-httpd -f FILE [-D NAME]... [-c DIRECTIVE]... [-t]\n       oneshot-httpd --version\n  -f FILE       configuration file (Apache syntax)\n  -D NAME       define NAME for <IfDefine NAME> (repeatable)\n  -c DIRECTIVE  apply DIRECTIVE after reading FILE (repeatable)\n  -t            check the configuration and exit\n";

/// Pure argument parsing; `Err` carries the message to print before the usage text.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut file = None;
    let mut directives = Vec::new();
    let mut defines = Vec::new();
    let mut test_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--version" | "-v" => return Ok(Command::Version),
            "-t" => test_only = true,
            "-f" => file = Some(PathBuf::from(it.next().ok_or("-f needs a file")?)),
            "-c" => directives.push(it.next().ok_or("-c needs a directive")?.clone()),
            "-D" => defines.push(it.next().ok_or("-D needs a name")?.clone()),
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
        Ok(Command::Run(a)) => a,
        Err(m) => {
            eprint!("oneshot-httpd: {m}\n{USAGE}");
            return 2;
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
    if args.test_only {
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
    match crate::master::run(cfg, reload, log_fd) {
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
        assert_eq!(parse(&a(&["--version"])), Ok(Command::Version));
        assert_eq!(
            parse(&a(&["-f", "x.conf", "-c", "Listen 1", "-D", "X", "-t"])),
            Ok(Command::Run(Args {
                file: "x.conf".into(),
                directives: vec!["Listen 1".into()],
                defines: vec!["X".into()],
                test_only: true
            }))
        );
        for bad in [
            &["-f"][..],
            &["-x"],
            &[],
            &["-c", "Listen 1"],
            &["-t"],
            &["-f", "x", "-D"],
        ] {
            assert!(parse(&a(bad)).is_err(), "{bad:?}");
        }
    }
}
