//! Debian's own Apache configuration through `oneshot-httpd -t` (issue 14): the `/etc/apache2`
//! tree of Debian's `apache2` package, with its default modules and site, copied to a scratch
//! directory, only its `Listen` port and its paths changed, and the `${APACHE_*}` variables set
//! the way `/etc/apache2/envvars` sets them. It must pass with exactly the warnings listed
//! below, each of which says what an administrator porting the site loses.
//!
//! The tree is the copy in `tests/apache/debian-etc-apache2/`: Debian 12's `/etc/apache2` as
//! `apt-get install apache2` (2.4.71-1~deb12u1) leaves it, mods-enabled links included, taken
//! right after the install (Apache never started). Not the machine's own `/etc/apache2`, which
//! other packages change (libapache2-mpm-itk switches the MPM links).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Copies a tree, keeping symbolic links as links (Debian's *-enabled are relative links).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let kind = e.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{}: no {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

/// Debian's tree copied to a scratch directory with the minimal edits (port, paths); `edits`
/// runs on it (`conf`) before `oneshot-httpd -t`; returns -t's exit code and stderr.
fn dash_t_on_debian_tree(
    edits: &dyn Fn(&Path, &Path),
) -> (Option<i32>, String, std::path::PathBuf) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apache/debian-etc-apache2");
    eprintln!("Debian's tree from {}", source.display());
    let dir = scratch("debian-apache2");
    let conf = dir.join("etc-apache2");
    copy_tree(&source, &conf);
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("html")).unwrap();
    for d in ["run", "lock", "log"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    // The minimal edits: the port, and the paths that must exist on this machine.
    let port = free_port();
    edit(
        &conf.join("ports.conf"),
        "Listen 80\n",
        &format!("Listen 127.0.0.1:{port}\n"),
    );
    edit(
        &conf.join("sites-available/000-default.conf"),
        "DocumentRoot /var/www/html",
        &format!("DocumentRoot {}/html", www.display()),
    );
    edit(
        &conf.join("apache2.conf"),
        "<Directory /var/www/>",
        &format!("<Directory {}/>", www.display()),
    );
    edits(&dir, &conf);
    let out = Command::new(BIN)
        .args(["-t", "-f"])
        .arg(conf.join("apache2.conf"))
        // As /etc/apache2/envvars sets them, under the scratch directory.
        .env("APACHE_RUN_USER", "www-data")
        .env("APACHE_RUN_GROUP", "www-data")
        .env("APACHE_PID_FILE", dir.join("run/apache2.pid"))
        .env("APACHE_RUN_DIR", dir.join("run"))
        .env("APACHE_LOCK_DIR", dir.join("lock"))
        .env("APACHE_LOG_DIR", dir.join("log"))
        .env("LANG", "C")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        conf,
    )
}

/// The warnings of -t's stderr, paths relative to the tree.
fn warnings(stderr: &str, conf: &Path) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .map(|l| {
            l.strip_prefix(&format!("{}/", conf.display()))
                .unwrap_or(l)
                .to_string()
        })
        .collect()
}

#[test]
fn debian_apache2_tree_passes_dash_t() {
    let (code, stderr, conf) = dash_t_on_debian_tree(&|_, _| {});
    assert_eq!(code, Some(0), "{stderr}");
    // Every warning, in order: what an administrator porting this site is told.
    let want: &[&str] = &[
        "mods-enabled/access_compat.load:2: LoadModule access_compat_module: mod_access_compat is not implemented, <IfModule access_compat_module> is false: Order, Allow, Deny and Satisfy (Apache 2.2 access control) are refused: write Require",
        "mods-enabled/deflate.load:2: LoadModule deflate_module: mod_deflate is not implemented, <IfModule deflate_module> is false: responses are not compressed (DEFLATE filter)",
        "mods-enabled/filter.load:1: LoadModule filter_module: mod_filter is not implemented, <IfModule filter_module> is false: there are no output filters (AddOutputFilterByType, FilterProvider...)",
        "mods-enabled/mpm_event.load:2: LoadModule mpm_event_module: event is not implemented, <IfModule mpm_event_module> is false: oneshot-httpd is its own prefork MPM (one process per connection): mpm_event's thread settings (ThreadsPerChild, MinSpareThreads...) have no effect; StartServers, MaxRequestWorkers and MaxConnectionsPerChild keep their meaning",
        "mods-enabled/negotiation.load:1: LoadModule negotiation_module: mod_negotiation is not implemented, <IfModule negotiation_module> is false: no content negotiation (type maps, MultiViews): LanguagePriority and ForceLanguagePriority have no effect",
        "mods-enabled/status.load:1: LoadModule status_module: mod_status is not implemented, <IfModule status_module> is false: there is no server-status page: SetHandler server-status and ExtendedStatus have no effect",
        "apache2.conf:80: DefaultRuntimeDir: accepted without effect: there are no runtime files besides PidFile",
        "mods-enabled/autoindex.conf:7: IndexOptions: accepted without effect: listings have one fixed layout",
        "mods-enabled/autoindex.conf:13: AddIconByEncoding: accepted without effect: directory listings have no icons",
        "mods-enabled/autoindex.conf:15: AddIconByType: accepted without effect: directory listings have no icons (and 3 more lines in this file)",
        "mods-enabled/autoindex.conf:20: AddIcon: accepted without effect: directory listings have no icons (and 38 more lines in this file)",
        "mods-enabled/autoindex.conf:68: DefaultIcon: accepted without effect: directory listings have no icons",
        "mods-enabled/autoindex.conf:85: ReadmeName: accepted without effect: listings show no README",
        "mods-enabled/autoindex.conf:86: HeaderName: accepted without effect: listings show no header file",
        "mods-enabled/autoindex.conf:91: IndexIgnore: accepted without effect: not implemented yet: listings hide every dot-name and nothing else",
        "mods-enabled/mime.conf:67: AddLanguage: accepted without effect: no Content-Language is sent (and 80 more lines in this file)",
        "mods-enabled/mime.conf:85: RemoveType: accepted without effect: not implemented yet: AddType rows cannot be removed in a deeper scope (and 1 more line in this file)",
        "mods-enabled/mime.conf:235: AddHandler type-map: accepted without effect: there is no content negotiation; such files are served as they are",
        "mods-enabled/mpm_event.conf:9: MinSpareThreads: accepted without effect: this server has no threads (one process per connection): size the pool with StartServers, MinSpareServers, MaxSpareServers, MaxRequestWorkers",
        "mods-enabled/mpm_event.conf:10: MaxSpareThreads: accepted without effect: this server has no threads (one process per connection): size the pool with StartServers, MinSpareServers, MaxSpareServers, MaxRequestWorkers",
        "mods-enabled/mpm_event.conf:11: ThreadLimit: accepted without effect: this server has no threads (one process per connection): size the pool with StartServers, MinSpareServers, MaxSpareServers, MaxRequestWorkers",
        "mods-enabled/mpm_event.conf:12: ThreadsPerChild: accepted without effect: this server has no threads (one process per connection): size the pool with StartServers, MinSpareServers, MaxSpareServers, MaxRequestWorkers",
        "mods-enabled/negotiation.conf:7: LanguagePriority: accepted without effect: there is no content negotiation",
        "mods-enabled/negotiation.conf:14: ForceLanguagePriority: accepted without effect: there is no content negotiation",
        "mods-enabled/setenvif.conf:5: BrowserMatch: accepted without effect: sets only Apache's special variables (nokeepalive, downgrade-1.0, force-response-1.0, redirect-carefully...), workarounds this server does not have; programs still see them (and 13 more lines in this file)",
        "mods-enabled/status.conf:6: SetHandler server-status: accepted without effect: there is no such page; its URLs are served as any other",
        "mods-enabled/status.conf:12: ExtendedStatus: accepted without effect: there is no server-status page",
        "conf-enabled/security.conf:12: ServerTokens OS: the Server header is always 'oneshot-httpd' (as ServerTokens Prod)",
        "conf-enabled/security.conf:23: ServerSignature: accepted without effect: generated pages carry no signature line (as ServerSignature Off)",
        "sites-enabled/000-default.conf:11: ServerAdmin: accepted without effect: shown nowhere: generated pages carry no signature and CGI programs get no SERVER_ADMIN",
    ];
    let got = warnings(&stderr, &conf);
    assert_eq!(got, want, "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| !l.starts_with("warning: "))
            .collect::<Vec<_>>(),
        ["Syntax OK"],
        "{stderr}"
    );
    assert!(stderr.ends_with("Syntax OK\n"), "{stderr}");
}

/// `a2enmod ssl; a2ensite default-ssl` on Debian's tree (the links a2enmod makes, with its
/// dependency socache_shmcb; setenvif and mime are already on), the snakeoil certificate
/// replaced by one made here (the paths must exist on this machine): -t passes, and what the
/// TLS site adds are exactly these warnings, each saying what the port loses; `Listen 443`
/// (inside `<IfModule ssl_module>`) is https by Apache's port rule, and `SSLCipherSuite
/// HIGH:!aNULL`, `SSLProtocol all -SSLv3`, `SSLSessionTickets off` keep their meaning.
#[test]
fn debian_tree_with_mod_ssl_and_default_ssl_passes_dash_t() {
    let enable = |dir: &Path, conf: &Path| {
        for (link, target) in [
            ("mods-enabled/ssl.load", "../mods-available/ssl.load"),
            ("mods-enabled/ssl.conf", "../mods-available/ssl.conf"),
            (
                "mods-enabled/socache_shmcb.load",
                "../mods-available/socache_shmcb.load",
            ),
            (
                "sites-enabled/default-ssl.conf",
                "../sites-available/default-ssl.conf",
            ),
        ] {
            std::os::unix::fs::symlink(target, conf.join(link)).unwrap();
        }
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-keyout",
            ])
            .arg(dir.join("snakeoil.key"))
            .arg("-out")
            .arg(dir.join("snakeoil.pem"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let site = conf.join("sites-available/default-ssl.conf");
        edit(
            &site,
            "/etc/ssl/certs/ssl-cert-snakeoil.pem",
            &dir.join("snakeoil.pem").to_string_lossy(),
        );
        edit(
            &site,
            "/etc/ssl/private/ssl-cert-snakeoil.key",
            &dir.join("snakeoil.key").to_string_lossy(),
        );
        edit(
            &site,
            "DocumentRoot /var/www/html",
            &format!("DocumentRoot {}/www/html", dir.display()),
        );
    };
    let (_, plain_stderr, plain_conf) = dash_t_on_debian_tree(&|_, _| {});
    let plain = warnings(&plain_stderr, &plain_conf);
    let (code, stderr, conf) = dash_t_on_debian_tree(&enable);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.ends_with("Syntax OK\n"), "{stderr}");
    let got: Vec<String> = warnings(&stderr, &conf)
        .into_iter()
        .filter(|w| !plain.contains(w))
        .collect();
    let want: &[&str] = &[
        "mods-enabled/socache_shmcb.load:1: LoadModule socache_shmcb_module: mod_socache_shmcb is not implemented, <IfModule socache_shmcb_module> is false: there is no session cache (TLS resumption is off)",
        "mods-enabled/ssl.conf:12: SSLRandomSeed: accepted without effect: rustls and ring draw every random number from the kernel (getrandom(2)); there is no PRNG to seed (and 3 more lines in this file)",
        "mods-enabled/ssl.conf:34: SSLPassPhraseDialog: accepted without effect: keys are read unencrypted by the key holder, which never asks for a pass phrase (an encrypted key stops the start)",
        "mods-enabled/ssl.conf:41: SSLSessionCache shmcb:RUN/ssl_scache(512000): accepted without effect: there is no session cache, resumption is off (each child serves one connection; see docs/tls.md), as SSLSessionCache none",
        "mods-enabled/ssl.conf:42: SSLSessionCacheTimeout: accepted without effect: there is no session cache, resumption is off (docs/tls.md)",
        "sites-enabled/default-ssl.conf:2: ServerAdmin: accepted without effect: shown nowhere: generated pages carry no signature and CGI programs get no SERVER_ADMIN",
        "sites-enabled/default-ssl.conf:98: <Directory /usr/lib/cgi-bin> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory",
    ];
    let run = conf.parent().unwrap().join("run").display().to_string();
    let got: Vec<String> = got.iter().map(|w| w.replace(&run, "RUN")).collect();
    assert_eq!(got, want, "{stderr}");
}
