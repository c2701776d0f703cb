//! Configuration checking through the real binary: `-t` names FILE:LINE and fails for errors
//! (I8) but passes with warnings (I3), and a reload with a bad configuration, or one whose
//! reading crashes or hangs, leaves the running configuration serving (I9).

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn check(dir: &std::path::Path, conf: &str) -> (Option<i32>, String) {
    std::fs::write(dir.join("t.conf"), conf).unwrap();
    let out = Command::new(BIN)
        .arg("-t")
        .arg("-f")
        .arg(dir.join("t.conf"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dash_t_names_file_and_line_and_never_aborts() {
    let dir = site("check-t");
    let f = dir.join("t.conf");
    let f = f.display();
    let base = "Listen 127.0.0.1:1\nDocumentRoot www/default\n";
    let rows: &[(&str, Option<i32>, &[String])] = &[
        (
            "Options \"\"\n",
            Some(1),
            &[format!("{f}:3: Options: an empty argument (\"\") is not allowed")],
        ),
        (
            "Confinement landlock\nUserIDMap map\n",
            Some(1),
            &[format!(
                "{f}:4: UserIDMap needs 'unix' in Confinement ({f}:3 lists: landlock)"
            )],
        ),
        (
            "<Directory www/g[>\n</Directory>\n",
            Some(1),
            &[format!(
                "{f}:3: <Directory www/g[>: 'g[': '[' without its closing ']'"
            )],
        ),
        (
            "<Directory /nowhere>\n</Directory>\n",
            Some(0),
            &[
                format!("warning: {f}:3: <Directory /nowhere> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory"),
                "Syntax OK".to_string(),
            ],
        ),
        (
            "Include t.conf\n",
            Some(1),
            &[format!("{f}:3: Include loop: {f} is already being read")],
        ),
        (
            "Options None\u{0}\n",
            Some(1),
            &[format!("{f}:3: NUL byte in the line")],
        ),
    ];
    for (extra, code, want) in rows {
        let (got_code, stderr) = check(&dir, &format!("{base}{extra}"));
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(got_code, *code, "{extra:?}: {stderr}");
        for w in *want {
            assert!(
                lines.contains(&w.as_str()),
                "{extra:?}: want {w:?} in:\n{stderr}"
            );
        }
    }
    // -D NAME, Define and ${VAR} from the environment, through the binary.
    std::fs::write(
        dir.join("t.conf"),
        format!("{base}<IfDefine !CHECKED>\nFrobnicate\n</IfDefine>\nErrorLog ${{ONESHOT_CHECK_LOGS}}/e.log\n"),
    )
    .unwrap();
    let run = |defines: &[&str], env: Option<&str>| {
        let mut c = Command::new(BIN);
        c.arg("-t").arg("-f").arg(dir.join("t.conf"));
        for d in defines {
            c.args(["-D", d]);
        }
        if let Some(v) = env {
            c.env("ONESHOT_CHECK_LOGS", v);
        } else {
            c.env_remove("ONESHOT_CHECK_LOGS");
        }
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["CHECKED"], Some("/tmp"));
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = run(&[], Some("/tmp"));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("{f}:4: unknown directive 'Frobnicate'")),
        "{err}"
    );
    let (code, err) = run(&["CHECKED"], None);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("{f}:6: ErrorLog: ${{ONESHOT_CHECK_LOGS}} is not defined (neither by Define nor in the environment)")),
        "{err}"
    );
    // Not UTF-8: the line of the first bad byte.
    std::fs::write(dir.join("t.conf"), b"Listen 1\n\nDocumentRoot /\xff\n").unwrap();
    let out = Command::new(BIN)
        .args(["-t", "-f"])
        .arg(dir.join("t.conf"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(&format!(
            "{f}:3: not valid UTF-8 (configuration files must be UTF-8)"
        )),
        "{stderr}"
    );
}

fn wait_for(s: &Server, what: &str, secs: u64) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if s.error_log().contains(what) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_reload_with_a_configuration_that_used_to_panic_keeps_the_old_one() {
    let dir = site("reload-panic");
    let s = Server::start(&dir, BASE_CONF);
    assert_eq!(s.get("alice.test", "/").status, 200);
    // `Options ""` made the reader index an empty word: in the release profile
    // (panic=abort) a SIGHUP after this edit killed the master.
    let bad = format!("{BASE_CONF}Options \"\"\n");
    std::fs::write(dir.join("httpd.conf"), &bad).unwrap();
    nix_kill(s.pid() as i32, 1).unwrap();
    let line = bad.lines().count();
    let want = format!(
        "reload refused: {}:{line}: Options: an empty argument (\"\") is not allowed",
        dir.join("httpd.conf").display()
    );
    assert!(wait_for(&s, &want, 10), "{}", s.error_log());
    assert!(wait_for(&s, "reload: keeping the old configuration", 5));
    assert!(alive(s.pid()), "the master must survive");
    assert_eq!(s.get("alice.test", "/").body, b"alice index\n");
    assert!(!s.error_log().contains("reloaded configuration"));
    // The master still takes a good reload afterwards.
    let good = BASE_CONF.replace("DocumentRoot www/alice", "DocumentRoot www/bob");
    std::fs::write(dir.join("httpd.conf"), good).unwrap();
    nix_kill(s.pid() as i32, 1).unwrap();
    assert!(
        wait_for(&s, "reloaded configuration", 10),
        "{}",
        s.error_log()
    );
    let until = Instant::now() + Duration::from_secs(5);
    while s.get("alice.test", "/").body != b"bob index\n" && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.get("alice.test", "/").body, b"bob index\n");
}

/// A configuration whose reading hangs (an `Include` of a FIFO nobody writes) is read by the
/// forked checker, which is killed after its deadline; the master keeps serving meanwhile
/// and afterwards.
#[test]
fn a_fifo_or_device_in_the_configuration_is_refused_at_once_and_a_reload_keeps_serving() {
    // Apache's ap_pcfg_openfile reads only regular files (and /dev/null); before this rule a
    // FIFO made `-t` and every reload hang (the master killed its checker after 10 s), and
    // `Include /dev/zero` read until memory ran out.
    let dir = site("reload-fifo");
    let s = Server::start(&dir, BASE_CONF);
    let fifo = dir.join("stuck.conf");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let conf = dir.join("httpd.conf");
    let line = BASE_CONF.lines().count() + 1;
    for (include, what) in [
        ("stuck.conf", fifo.display().to_string()),
        ("/dev/zero", "/dev/zero".into()),
    ] {
        std::fs::write(&conf, format!("{BASE_CONF}Include {include}\n")).unwrap();
        let t = Instant::now();
        let out = Command::new(BIN)
            .arg("-t")
            .arg("-f")
            .arg(&conf)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{include}: -t took {:?}",
            t.elapsed()
        );
        assert_eq!(out.status.code(), Some(1), "{include}: {err}");
        let want = format!(
            "{}:{line}: cannot read {what}: not a regular file",
            conf.display()
        );
        assert!(err.contains(&want), "{include}: want {want:?} in {err}");
        nix_kill(s.pid() as i32, 1).unwrap();
        assert!(wait_for(&s, &want, 5), "{include}: {}", s.error_log());
        assert!(alive(s.pid()));
        assert_eq!(s.get("alice.test", "/").body, b"alice index\n");
    }
    // /dev/null is an empty file, as in Apache.
    std::fs::write(&conf, format!("{BASE_CONF}Include /dev/null\n")).unwrap();
    let out = Command::new(BIN)
        .args(["-c", "Listen 127.0.0.1:1"])
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A connection child that just exited may not be reaped yet: a zombie must not last.
    let zombies = || -> Vec<_> {
        children_of(s.pid())
            .into_iter()
            .filter(|(_, st)| *st == 'Z')
            .collect()
    };
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while !zombies().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        zombies().is_empty(),
        "the checker must be reaped: {:?}",
        zombies()
    );
}
