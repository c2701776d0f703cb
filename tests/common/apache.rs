//! The real Apache (Debian's apache2) as a test oracle: start it on 127.0.0.1 serving `root`
//! with `directives`, run `check` against its port, stop it.

use super::{free_port, scratch};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `modules`: extra `mod_X.so` names beyond mpm_prefork, authz_core, dir and mime.
pub fn with_apache(
    name: &str,
    make_site: impl Fn(&Path),
    directives: impl Fn(&Path) -> String,
    modules: &[&str],
    check: impl Fn(u16) + std::panic::RefUnwindSafe,
) {
    let apache = Path::new("/usr/sbin/apache2");
    assert!(
        apache.exists(),
        "apache2 (Debian) is the oracle of this test: scripts/test installs it"
    );
    let dir = scratch(name);
    let root = dir.join("www");
    make_site(&root);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let port = free_port();
    let m = "/usr/lib/apache2/modules";
    let mut load = String::new();
    for module in ["mpm_prefork", "authz_core", "dir", "mime"]
        .iter()
        .chain(modules)
    {
        load.push_str(&format!("LoadModule {module}_module {m}/mod_{module}.so\n"));
    }
    let conf = format!(
        "ServerRoot {d}\nServerName t.test\nListen 127.0.0.1:{port}\n{load}\
         TypesConfig /etc/mime.types\nPidFile {d}/logs/pid\nErrorLog {d}/logs/error.log\n\
         User nobody\nGroup nogroup\nStartServers 1\nDocumentRoot {r}\n\
         <Directory {r}>\nRequire all granted\n</Directory>\n{s}",
        d = dir.display(),
        r = root.display(),
        s = directives(&root)
    );
    let file = dir.join("apache.conf");
    std::fs::write(&file, conf).unwrap();
    let ok = Command::new(apache)
        .arg("-f")
        .arg(&file)
        .args(["-k", "start"])
        .env("APACHE_RUN_DIR", &dir)
        .status()
        .unwrap()
        .success();
    assert!(
        ok,
        "apache2 did not start; see {}",
        dir.join("logs/error.log").display()
    );
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let result = std::panic::catch_unwind(|| check(port));
    let _ = Command::new(apache)
        .arg("-f")
        .arg(&file)
        .args(["-k", "stop"])
        .status();
    let until = Instant::now() + Duration::from_secs(10);
    while dir.join("logs/pid").exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
