//! Parses arbitrary text as a configuration file, applies the reading stage (Define, ${VAR},
//! <IfModule>, <IfDefine>, <IfVersion>, LoadModule) and builds it (all pure: no file is read,
//! Include is only a node here). Neither may panic, every error must name the main file and a
//! line that exists (0 meaning the whole file), and a configuration that builds must hold what
//! the master relies on before it forks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::config::{build::build, load::expand_text, parse::parse};
use oneshot_httpd::sandbox::Backend;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("/etc/oneshot/fuzz.conf");
    let lines = text.split('\n').count();
    let nodes = match parse(text, file) {
        Ok(n) => n,
        Err(errors) => {
            assert!(!errors.is_empty(), "a failed parse must say why");
            for e in errors {
                assert!(e.line <= lines, "syntax error on line {} of {lines}", e.line);
            }
            return;
        }
    };
    let (nodes, errors, warnings) = expand_text(nodes, file);
    for e in errors.iter().chain(&warnings) {
        assert_eq!(e.origin.file, file, "{e}");
        assert!(e.origin.line <= lines, "{e}: line past the end ({lines})");
    }
    if !errors.is_empty() {
        return;
    }
    match build(&nodes, file) {
        Ok(cfg) => {
            assert!(!cfg.listen.is_empty(), "a built configuration listens somewhere");
            assert!(!cfg.vhosts.is_empty(), "a built configuration has a default vhost");
            assert!(!cfg.timeout.is_zero(), "Timeout 0 must be refused");
            for v in &cfg.vhosts {
                assert!(v.document_root.is_absolute(), "DocumentRoot resolved: {v:?}");
                // I3: an identity directive is never accepted without its backend.
                let scopes = std::iter::once(&v.conf)
                    .chain(v.directories.iter().map(|s| &s.conf))
                    .chain(v.locations.iter().map(|s| &s.conf));
                for c in scopes {
                    if c.user_map.is_some() || c.assign_user.is_some() {
                        assert!(cfg.confinement.contains(&Backend::Unix), "{c:?}");
                    }
                    if c.selinux_map.is_some() || c.selinux_default.is_some() {
                        assert!(cfg.confinement.contains(&Backend::Selinux), "{c:?}");
                    }
                }
            }
            for w in &cfg.warnings {
                assert_eq!(w.origin.file, file, "{w}");
                assert!(w.origin.line <= lines, "{w}: line past the end ({lines})");
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a failed build must say why");
            for e in errors {
                assert_eq!(e.origin.file, file, "{e}");
                assert!(e.origin.line <= lines, "{e}: line past the end ({lines})");
            }
        }
    }
});
