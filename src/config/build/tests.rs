//! The walk's and the handlers' table tests, through parse -> expand -> build with an
//! answer written by hand per row. A file of their own so that build.rs stays a table of
//! contents under 800 lines.

use super::*;
use crate::config::parse::parse;

/// Parse, the reading stage without files, build: warnings of both stages in `warnings`.
fn load(text: &str) -> Result<Config, Vec<String>> {
    let f = Path::new("/etc/x/h.conf");
    let nodes = parse(text, f).map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())?;
    let (nodes, errors, mut warnings) = crate::config::load::expand_text(nodes, f);
    let strings = |e: Vec<ConfigError>| e.iter().map(|e| e.to_string()).collect();
    if !errors.is_empty() {
        return Err(strings(errors));
    }
    let mut c = build(&nodes, f).map_err(strings)?;
    warnings.append(&mut c.warnings);
    c.warnings = warnings;
    Ok(c)
}

#[test]
fn minimal_main_server() {
    let c = load("Listen 127.0.0.1:8080\nDocumentRoot www\n").unwrap();
    assert_eq!(c.listen, vec!["127.0.0.1:8080".parse().unwrap()]);
    assert_eq!(c.vhosts.len(), 1);
    assert_eq!(c.vhosts[0].document_root, PathBuf::from("/etc/x/www"));
    assert!(c.vhosts[0].conf.options.unwrap().follow_symlinks);
}

#[test]
fn vhosts_inherit_and_order() {
    let c = load("Listen 8080\nDocumentRoot /srv/main\nOptions Indexes\n<VirtualHost *:8080>\nServerName A.example\nServerAlias b c\n</VirtualHost>\n<VirtualHost *:8080>\nservername d\ndocumentroot /srv/d\nOptions -Indexes\n</VirtualHost>\n").unwrap();
    assert_eq!(c.vhosts.len(), 2);
    assert_eq!(c.vhosts[0].names, vec!["a.example", "b", "c"]);
    assert_eq!(c.vhosts[0].document_root, PathBuf::from("/srv/main"));
    assert!(c.vhosts[0].conf.options.unwrap().indexes);
    assert!(!c.vhosts[1].conf.options.unwrap().indexes);
    // The line that set each DocumentRoot, inherited or not (for `-t`'s reachability).
    assert_eq!(c.vhosts[0].root_origin.to_string(), "/etc/x/h.conf:2");
    assert_eq!(c.vhosts[1].root_origin.to_string(), "/etc/x/h.conf:10");
}

/// Logs as mod_log_config places them: a vhost with CustomLog lines of its own logs there
/// only, the others use the server's; a LogFormat is checked where it is written.
#[test]
fn log_directives() {
    let c = load("Listen 80\nDocumentRoot /x\nLogFormat \"%v %>s\" short\nCustomLog /l/a.log short\nCustomLog \"|/usr/bin/logger -t web\" common\n<VirtualHost *:80>\nServerName a\n</VirtualHost>\n<VirtualHost *:80>\nServerName b\nCustomLog /l/b.log \"%h %U\"\nCustomLog \"|$cat >>/l/b2\" short\nErrorLog /l/b-error.log\n</VirtualHost>\n").unwrap();
    assert_eq!(c.vhosts[0].access_logs, vec![0, 1]);
    assert_eq!(c.vhosts[1].access_logs, vec![2, 3]);
    assert_eq!(c.vhosts[0].error_log, None);
    assert_eq!(c.vhosts[1].error_log, Some(0));
    assert_eq!(c.vhost_error_logs, vec![PathBuf::from("/l/b-error.log")]);
    assert_eq!(
        c.custom_logs[1].dest,
        LogDest::Pipe {
            command: "/usr/bin/logger -t web".into(),
            shell: false
        }
    );
    assert_eq!(
        c.custom_logs[3].dest,
        LogDest::Pipe {
            command: "cat >>/l/b2".into(),
            shell: true
        }
    );
    let rows: &[(&str, &str)] = &[
        ("LogFormat \"%h %Z\" x\n", "/etc/x/h.conf:3: LogFormat x: Unrecognized LogFormat directive %Z"),
        ("CustomLog /l nosuch\n", "/etc/x/h.conf:3: CustomLog: no LogFormat is named 'nosuch' (define it before this line, or use combined or common)"),
        ("CustomLog /l \"%{x}a\"\n", "/etc/x/h.conf:3: CustomLog: %{x}a: 'x' is not an argument %a takes"),
        ("CustomLog \"|\" common\n", "/etc/x/h.conf:3: CustomLog: '|' names no program"),
        ("CustomLog \"|/bin/x 'a\" common\n", "/etc/x/h.conf:3: CustomLog: '/bin/x 'a': unbalanced quotes"),
        ("ErrorLog \"|/bin/x\"\n", "/etc/x/h.conf:3: ErrorLog: piped and syslog error logs are not supported; give a path or 'stderr' (CustomLog can be piped)"),
    ];
    for (line, want) in rows {
        let text = format!("Listen 80\nDocumentRoot /x\n{line}");
        assert_eq!(
            load(&text).expect_err(&text),
            vec![want.to_string()],
            "{line}"
        );
    }
    let c = load("Listen 80\nDocumentRoot /x\nCustomLog /l \"%f %{FOO}e %{bar}n\"\n").unwrap();
    let w: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w.iter()
            .all(|w| w.starts_with("/etc/x/h.conf:3: CustomLog: %")),
        "{w:?}"
    );
}

#[test]
fn table_errors_name_file_and_line() {
    let rows: &[(&str, &[&str])] = &[
        ("Listen 8080\nDocumentRoot /x\nFrobnicate on\n", &["/etc/x/h.conf:3: unknown directive 'Frobnicate'"]),
        ("Listen nope\nDocumentRoot /x\n", &["/etc/x/h.conf:1: Listen: 'nope' is not PORT, IPv4:PORT or [IPv6]:PORT"]),
        ("Listen 8080\nDocumentRoot /x\nTimeout abc\n", &["/etc/x/h.conf:3: Timeout: 'abc' is not a valid number"]),
        ("Listen 8080\nDocumentRoot /x\nKeepAlive maybe\n", &["/etc/x/h.conf:3: KeepAlive must be On or Off, not 'maybe'"]),
        ("Listen 8080\nDocumentRoot /x\n<Directory /x>\nListen 9\n</Directory>\n", &["/etc/x/h.conf:4: Listen is not allowed in <Directory>"]),
        ("Listen 8080\nDocumentRoot /x\nOptions +Indexes FollowSymLinks\n", &["/etc/x/h.conf:3: Options: either all options must start with + or -, or no option may"]),
        ("Listen 8080\nDocumentRoot /x\n<Foo>\n</Foo>\n", &["/etc/x/h.conf:3: unknown section <Foo>"]),
        ("DocumentRoot /x\n", &["/etc/x/h.conf:0: no Listen directive: the server would accept nothing"]),
        ("Listen 8080\n", &["/etc/x/h.conf:0: no DocumentRoot for this server"]),
        ("Listen 8080\nDocumentRoot /x\n<Location rel>\n</Location>\n", &["/etc/x/h.conf:3: <Location rel>: the URL path must start with '/'"]),
        ("Listen 8080\nDocumentRoot /x\nDirectoryIndex ../x\n", &["/etc/x/h.conf:3: DirectoryIndex: '../x' must be a plain file name"]),
        ("Listen 8080\nListen 8080\nDocumentRoot /x\n", &["/etc/x/h.conf:2: Listen 0.0.0.0:8080 is given twice"]),
    ];
    for (text, want) in rows {
        let got = load(text).expect_err(text);
        assert_eq!(&got, want, "{text:?}");
    }
}

/// Every directive that takes arguments, with `""`: each is refused with FILE:LINE, none
/// panics (`Options ""` used to index an empty word).
#[test]
fn empty_arguments_are_errors_everywhere() {
    let directives = [
        "Listen",
        "ServerRoot",
        "PidFile",
        "ErrorLog",
        "LogLevel",
        "User",
        "Group",
        "StartServers",
        "MinSpareServers",
        "MaxSpareServers",
        "MaxRequestWorkers",
        "MaxClients",
        "Timeout",
        "KeepAlive",
        "KeepAliveTimeout",
        "MaxKeepAliveRequests",
        "RequestReadTimeout",
        "ReexecChildren",
        "LimitRequestLine",
        "LimitRequestFieldSize",
        "LimitRequestFields",
        "LimitRequestBody",
        "CGIScriptTimeout",
        "CGIOwnerCheck",
        "Confinement",
        "ServerName",
        "ServerAlias",
        "DocumentRoot",
        "Options",
        "AddHandler",
        "DirectoryIndex",
        "AuthType",
        "AuthName",
        "AuthUserFile",
        "Require",
        "selinuxDomainMap",
        "selinuxConfigFile",
        "selinuxDomainVal",
        "selinuxDefaultDomain",
        "UserIDMap",
        "AssignUserID",
        "ScriptAlias",
        "CustomLog",
        "Frobnicate",
    ];
    for d in directives {
        for (text, line) in [
            (format!("Listen 8080\nDocumentRoot /x\n{d} \"\"\n"), 3),
            (format!("Listen 8080\nDocumentRoot /x\n{d} a \"\"\n"), 3),
            (
                format!(
                    "Listen 8080\nDocumentRoot /x\n<VirtualHost *:8080>\n{d} ''\n</VirtualHost>\n"
                ),
                4,
            ),
            (
                format!("Listen 8080\nDocumentRoot /x\n<Directory /x>\n{d} \"\"\n</Directory>\n"),
                4,
            ),
        ] {
            let got = load(&text).expect_err(&text);
            assert_eq!(
                got,
                vec![format!(
                    "/etc/x/h.conf:{line}: {d}: an empty argument (\"\") is not allowed"
                )],
                "{text:?}"
            );
        }
    }
    for (text, want) in [
        (
            "<Directory \"\">\n</Directory>\n",
            "/etc/x/h.conf:3: Directory: an empty argument (\"\") is not allowed",
        ),
        (
            "<Location ''>\n</Location>\n",
            "/etc/x/h.conf:3: Location: an empty argument (\"\") is not allowed",
        ),
        (
            "<VirtualHost \"\">\n</VirtualHost>\n",
            "/etc/x/h.conf:3: VirtualHost: an empty argument (\"\") is not allowed",
        ),
    ] {
        let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
        assert_eq!(
            load(&text).expect_err(&text),
            vec![want.to_string()],
            "{text:?}"
        );
    }
    // The pure parsers refuse an empty word themselves, whoever calls them.
    assert_eq!(
        parse_options(&[String::new()], Options::default()),
        Err("Options: unknown option ''".into())
    );
    assert!(parse_add_handler(&[]).is_err());
}

/// The section forms and their errors: each with FILE:LINE, none accepted to never apply.
#[test]
fn section_forms_table() {
    let rows: &[(&str, &[&str])] = &[
        ("<Files a.txt>\nRequire all denied\n</Files>\n<Files ~ \"^b\">\n</Files>\n<FilesMatch \"\\.php$\">\n</FilesMatch>\n<Directory ~ \"^/x/\">\n</Directory>\n<DirectoryMatch ^/x/>\n</DirectoryMatch>\n<Location ~ ^/y>\n</Location>\n<LocationMatch ^/y>\n</LocationMatch>\n<Directory /x>\n<Files *.bak>\n</Files>\n<FilesMatch x>\n</FilesMatch>\n</Directory>\n<VirtualHost *:80>\n<FilesMatch x>\n</FilesMatch>\n<DirectoryMatch x>\n</DirectoryMatch>\n</VirtualHost>\n", &[]),
        ("<FilesMatch \"(\">\n</FilesMatch>\n", &["/etc/x/h.conf:3: <FilesMatch (>: not a regular expression the regex crate accepts: regex parse error:\n    (\n    ^\nerror: unclosed group"]),
        ("<Directory ~ \"a(?=b)\">\n</Directory>\n", &["/etc/x/h.conf:3: <Directory ~ a(?=b)>: not a regular expression the regex crate accepts: regex parse error:\n    a(?=b)\n     ^^^\nerror: look-around, including look-ahead and look-behind, is not supported"]),
        ("<Directory a b>\n</Directory>\n", &["/etc/x/h.conf:3: <Directory a b>: takes PATH or ~ RE"]),
        ("<DirectoryMatch ~ x>\n</DirectoryMatch>\n", &["/etc/x/h.conf:3: DirectoryMatch takes 1 argument(s), got 2"]),
        ("<Files a/b>\n</Files>\n", &["/etc/x/h.conf:3: <Files a/b>: a file name cannot contain '/' (it is matched against the last path component only), so this section would never apply"]),
        ("<Location /x>\n<Files a>\n</Files>\n</Location>\n", &["/etc/x/h.conf:4: <Files> is not allowed inside <Location>"]),
        ("<Files a>\n<Files b>\n</Files>\n</Files>\n", &["/etc/x/h.conf:4: <Files> is not allowed inside <Files>"]),
        ("<Files a>\n<Directory /x>\n</Directory>\n</Files>\n", &["/etc/x/h.conf:4: <Directory> is not allowed inside <Files>"]),
        ("<Files a>\nAllowOverride None\n</Files>\n", &["/etc/x/h.conf:4: AllowOverride is not allowed in <Files>"]),
        ("<LocationMatch x>\n<DirectoryMatch y>\n</DirectoryMatch>\n</LocationMatch>\n", &["/etc/x/h.conf:4: <DirectoryMatch> is not allowed inside <LocationMatch>"]),
    ];
    for (text, want) in rows {
        let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
        let got = match load(&text) {
            Ok(_) => vec![],
            Err(e) => e,
        };
        assert_eq!(&got, want, "{text:?}");
    }
}

#[test]
fn odd_nesting_table() {
    let rows: &[(&str, &[&str])] = &[
        (
            "</Directory>\n",
            &["line 3: </Directory> without matching <Directory>"],
        ),
        (
            "<Directory /x>\n<VirtualHost *:80>\n</VirtualHost>\n</Directory>\n",
            &["/etc/x/h.conf:4: <VirtualHost> is not allowed inside <Directory>"],
        ),
        (
            "<Location /x>\n<Directory /x>\n</Directory>\n</Location>\n",
            &["/etc/x/h.conf:4: <Directory> is not allowed inside <Location>"],
        ),
        (
            "<VirtualHost *:80>\n<VirtualHost *:80>\n</VirtualHost>\n</VirtualHost>\n",
            &["/etc/x/h.conf:4: <VirtualHost> cannot be nested"],
        ),
        ("<Directory /x>\n", &["line 3: <Directory> is never closed"]),
        (
            "<VirtualHost *:80>\n<Directory /x>\n</VirtualHost>\n",
            &[
                "line 3: <VirtualHost> is never closed",
                "line 4: <Directory> is never closed",
                "line 5: </VirtualHost> does not close <Directory> opened on line 4",
            ],
        ),
        (
            "VirtualHost *:80\n",
            &["/etc/x/h.conf:3: VirtualHost must be a section: <VirtualHost ADDRESS>"],
        ),
        (
            "Directory /x\n",
            &["/etc/x/h.conf:3: Directory must be a section: <Directory>"],
        ),
        (
            "<DocumentRoot /y>\n</DocumentRoot>\n",
            &["/etc/x/h.conf:3: unknown section <DocumentRoot>"],
        ),
        (
            "<VirtualHost *:80>\n<ServerName a>\n</ServerName>\n</VirtualHost>\n",
            &["/etc/x/h.conf:4: unknown section <ServerName>"],
        ),
        (
            "<VirtualHost *:80>\n<IfModule x y>\n</IfModule>\n</VirtualHost>\n",
            &["/etc/x/h.conf:4: <IfModule> takes 1 argument ([!]MODULE), got 2"],
        ),
        (
            "<VirtualHost *:80>\nConfinement unix\n</VirtualHost>\n",
            &["/etc/x/h.conf:4: Confinement is not allowed in <VirtualHost>"],
        ),
        (
            "<Directory /x/[ab>\n</Directory>\n",
            &["/etc/x/h.conf:3: <Directory /x/[ab>: '[ab': '[' without its closing ']'"],
        ),
        (
            "<Location /[>\n</Location>\n",
            &["/etc/x/h.conf:3: <Location /[>: '[': '[' without its closing ']'"],
        ),
        (
            "Options \"None\n",
            &["line 3: unterminated \"quoted\" argument"],
        ),
        (
            "Options 'None\n",
            &["line 3: unterminated 'quoted' argument"],
        ),
        (
            "Options \"None\"x\n",
            &["line 3: a quoted argument must be followed by whitespace"],
        ),
        ("Options None\0\n", &["line 3: NUL byte in the line"]),
    ];
    for (text, want) in rows {
        let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
        let got = load(&text).expect_err(&text);
        assert_eq!(&got, want, "{text:?}");
    }
}

/// I3: identity directives bring the backend that enforces them, or name both lines.
#[test]
fn identity_directives_need_their_backend() {
    use crate::sandbox::Backend::{Landlock, Selinux, Unix};
    let ok: &[(&str, &[crate::sandbox::Backend])] = &[
        ("", &[Landlock]),
        ("UserIDMap /etc/m\n", &[Unix, Landlock]),
        (
            "<Location /a>\nAssignUserID www www\n</Location>\n",
            &[Unix, Landlock],
        ),
        (
            "<VirtualHost *:80>\nselinuxDomainMap /etc/m\n</VirtualHost>\n",
            &[Selinux, Landlock],
        ),
        (
            "selinuxDomainVal user_t:s0\nAssignUserID a b\n",
            &[Selinux, Unix, Landlock],
        ),
        ("Confinement unix\nUserIDMap /etc/m\n", &[Unix]),
        (
            "Confinement landlock selinux\nselinuxConfigFile /etc/m\n",
            &[Landlock, Selinux],
        ),
    ];
    for (text, want) in ok {
        let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
        let c = load(&text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert_eq!(&c.confinement, want, "{text:?}");
    }
    let bad: &[(&str, &[&str])] = &[
        ("Confinement landlock\nUserIDMap /etc/m\n", &["/etc/x/h.conf:4: UserIDMap needs 'unix' in Confinement (/etc/x/h.conf:3 lists: landlock)"]),
        ("<Directory /x>\nassignuserid a b\n</Directory>\nConfinement selinux landlock\n", &["/etc/x/h.conf:4: AssignUserID needs 'unix' in Confinement (/etc/x/h.conf:6 lists: selinux landlock)"]),
        ("Confinement unix landlock\n<VirtualHost *:80>\nselinuxDefaultDomain user_t:s0\n<Location /p>\nSELINUXDOMAINMAP /etc/m\n</Location>\n</VirtualHost>\n", &[
            "/etc/x/h.conf:5: selinuxDefaultDomain needs 'selinux' in Confinement (/etc/x/h.conf:3 lists: unix landlock)",
            "/etc/x/h.conf:7: selinuxDomainMap needs 'selinux' in Confinement (/etc/x/h.conf:3 lists: unix landlock)",
        ]),
    ];
    for (text, want) in bad {
        let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
        assert_eq!(&load(&text).expect_err(&text), want, "{text:?}");
    }
    // Enabled for one vhost, the backend applies to all: one that names nobody refuses
    // everything, which -t says.
    let c = load("Listen 8080\nDocumentRoot /x\n<VirtualHost *:80>\nServerName a\nAssignUserID a a\n</VirtualHost>\n<VirtualHost *:80>\nServerName b\n</VirtualHost>\n").unwrap();
    let got: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(got, vec!["/etc/x/h.conf:7: virtual host b has no AssignUserID or UserIDMap in any scope: with 'unix' in Confinement every request to it is refused (403)".to_string()]);
}

#[test]
fn tls_under_selinux_needs_both_helper_contexts() {
    let tls = "Listen 127.0.0.1:443 https\n<VirtualHost *:443>\nServerName a\nSSLEngine on\nSSLCertificateFile /c.pem\nSSLCertificateKeyFile /k.pem\nselinuxDomainVal user_t:s0\n</VirtualHost>\n";
    let kh = "SSLKeyHolderContext system_u:system_r:oneshot_keyholder_t:s0\n";
    let relay = "SSLRelaySocketContext system_u:system_r:oneshot_tlsrelay_t:s0\n";
    let need = |name: &str, why: &str| {
        format!("/etc/x/h.conf:2: `Confinement selinux` with a `Listen ... https` needs {name} (docs/tls.md): without it {why}")
    };
    let kh_err = need(
        "SSLKeyHolderContext",
        "the key holder would stay in the master's domain",
    );
    let relay_err = need("SSLRelaySocketContext", "the relay's socket would carry the master's context, which no web domain may use, so nothing would be served");
    for (extra, want) in [
        ("", vec![kh_err.clone(), relay_err.clone()]),
        (kh, vec![relay_err.clone()]),
        (relay, vec![kh_err.clone()]),
    ] {
        let text = format!("DocumentRoot /x\nConfinement selinux\n{extra}{tls}");
        let got = load(&text).expect_err(&text);
        for w in &want {
            assert!(got.contains(w), "{extra:?}: want {w:?} in {got:?}");
        }
        assert!(
            !got.iter()
                .any(|e| !want.contains(e) && e.contains("needs SSL")),
            "{got:?}"
        );
    }
    let text = format!("DocumentRoot /x\nConfinement selinux\n{kh}{relay}{tls}");
    if let Err(e) = load(&text) {
        assert!(!e.iter().any(|e| e.contains("needs SSL")), "{e:?}");
    }
    // Without selinux in Confinement neither is needed.
    let text = format!(
        "DocumentRoot /x\nConfinement landlock\n{}",
        tls.replace("selinuxDomainVal user_t:s0\n", "")
    );
    if let Err(e) = load(&text) {
        assert!(!e.iter().any(|e| e.contains("needs SSL")), "{e:?}");
    }
}

#[test]
fn directories_that_never_apply_are_warnings() {
    let rows: &[(&str, &[&str])] = &[
        ("<Directory />\n</Directory>\n<Directory /srv/www/sub>\n</Directory>\n<Directory /srv/w*>\n</Directory>\n", &[]),
        ("<Directory /var/www>\n</Directory>\n", &["/etc/x/h.conf:3: <Directory /var/www> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory"]),
        ("<Directory /srv/x*>\n</Directory>\n", &["/etc/x/h.conf:3: <Directory /srv/x*> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory"]),
        ("ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/\n<Directory /usr/lib/cgi-bin>\n</Directory>\n", &[]),
        ("<VirtualHost *:80>\nDocumentRoot /var/www\n</VirtualHost>\n<VirtualHost *:80>\n</VirtualHost>\n<Directory /var/www>\n</Directory>\n", &[]),
        ("<VirtualHost *:80>\nDocumentRoot /var/www\n<Directory /srv/www>\n</Directory>\n</VirtualHost>\n", &["/etc/x/h.conf:5: <Directory /srv/www> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory"]),
        ("<VirtualHost 10.0.0.1:80 *:80>\n</VirtualHost>\n<VirtualHost _default_:80>\n</VirtualHost>\n<VirtualHost [::1]:80>\n</VirtualHost>\n", &[
            "/etc/x/h.conf:3: <VirtualHost 10.0.0.1:80>: the address does not choose this virtual host (selection is by Host name only, as for *:PORT)",
            "/etc/x/h.conf:7: <VirtualHost [::1]:80>: the address does not choose this virtual host (selection is by Host name only, as for *:PORT)",
        ]),
    ];
    for (text, want) in rows {
        let text = format!("Listen 8080\nDocumentRoot /srv/www\n{text}");
        let c = load(&text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        let got: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
        assert_eq!(&got, want, "{text:?}");
    }
}

#[test]
fn wildcard_directory_applies_like_apache() {
    let c = load("Listen 8080\nDocumentRoot /srv/www\n<Directory /srv/www/g*>\nOptions Indexes\n</Directory>\n<Directory /srv/www/gallery/x>\nOptions +ExecCGI\n</Directory>\n").unwrap();
    let v = &c.vhosts[0];
    let at = |d: &str| v.dir_conf(Path::new(d), "/").options.unwrap();
    assert!(at("/srv/www/gallery").indexes);
    assert!(at("/srv/www/gallery/2024").indexes);
    assert!(!at("/srv/www/photos").indexes);
    let x = at("/srv/www/gallery/x");
    assert!(x.indexes && x.exec_cgi, "{x:?}");
}

#[test]
fn cgi_directives() {
    let c = load("Listen 8080\nDocumentRoot /srv/www\nScriptAlias /cgi-bin/ cgi\nCGIScriptTimeout 7\nCGIOwnerCheck Off\n<VirtualHost *:8080>\nServerName a\nScriptAlias /run/x /srv/a-cgi/\n<Directory /srv/www/dyn>\nOptions +ExecCGI\nAddHandler cgi-script .CGI pl\n</Directory>\n</VirtualHost>\n<VirtualHost *:8080>\nServerName b\n</VirtualHost>\n").unwrap();
    assert_eq!(c.cgi_timeout, Duration::from_secs(7));
    assert!(!c.cgi_owner_check);
    let a = &c.vhosts[0];
    let prefixes: Vec<(Vec<String>, PathBuf)> = a
        .script_aliases
        .iter()
        .map(|s| (s.prefix.clone(), s.dir.clone()))
        .collect();
    assert_eq!(
        prefixes,
        vec![
            (vec!["run".into(), "x".into()], PathBuf::from("/srv/a-cgi/")),
            (vec!["cgi-bin".into()], PathBuf::from("/etc/x/cgi")),
        ]
    );
    let dyn_conf = a.dir_conf(Path::new("/srv/www/dyn"), "/dyn/t.cgi");
    let o = dyn_conf.options.unwrap();
    // Relative Options merge onto the vhost's (Apache's default FollowSymLinks).
    assert!(o.exec_cgi && o.follow_symlinks, "{o:?}");
    assert_eq!(
        dyn_conf.cgi_extensions,
        Some(vec!["cgi".to_string(), "pl".to_string()])
    );
    assert!(
        !a.dir_conf(Path::new("/srv/www"), "/")
            .options
            .unwrap()
            .exec_cgi
    );
    assert!(a.cgi_enabled() && a.uses_cgi_extensions());
    let b = &c.vhosts[1];
    assert!(b.cgi_enabled() && !b.uses_cgi_extensions());
    let plain = load("Listen 8080\nDocumentRoot /x\n").unwrap();
    assert_eq!(plain.cgi_timeout, plain.timeout);
    assert!(plain.cgi_owner_check && !plain.vhosts[0].cgi_enabled());
}

#[test]
fn cgi_directive_errors() {
    let rows: &[(&str, &str)] = &[
        (
            "ScriptAlias cgi-bin /x\n",
            "/etc/x/h.conf:3: ScriptAlias: the URL prefix 'cgi-bin' must start with '/'",
        ),
        (
            "ScriptAlias / /x\n",
            "/etc/x/h.conf:3: ScriptAlias: the URL prefix '/' would make every URL a program",
        ),
        (
            "ScriptAlias /a\n",
            "/etc/x/h.conf:3: ScriptAlias takes 2 argument(s), got 1",
        ),
        (
            "AddHandler php-script .php\n",
            "/etc/x/h.conf:3: AddHandler: handler 'php-script' is not supported (only cgi-script)",
        ),
        (
            "AddHandler cgi-script .\n",
            "/etc/x/h.conf:3: AddHandler: '.' is not a file extension",
        ),
        (
            "AddHandler cgi-script\n",
            "/etc/x/h.conf:3: AddHandler takes at least 2 argument(s), got 1",
        ),
        (
            "CGIScriptTimeout 0\n",
            "/etc/x/h.conf:3: CGIScriptTimeout must be at least 1 second",
        ),
        (
            "CGIScriptTimeout soon\n",
            "/etc/x/h.conf:3: CGIScriptTimeout: 'soon' is not a valid number",
        ),
        (
            "CGIOwnerCheck maybe\n",
            "/etc/x/h.conf:3: CGIOwnerCheck must be On or Off, not 'maybe'",
        ),
        (
            "<Directory /x>\nCGIOwnerCheck Off\n</Directory>\n",
            "/etc/x/h.conf:4: CGIOwnerCheck is not allowed in <Directory>",
        ),
        (
            "<Location /x>\nScriptAlias /a /b\n</Location>\n",
            "/etc/x/h.conf:4: ScriptAlias is not allowed in <Location>",
        ),
    ];
    for (text, want) in rows {
        let text = format!("Listen 8080\nDocumentRoot /x\n{text}");
        let got = load(&text).expect_err(&text);
        assert_eq!(got, vec![want.to_string()], "{text:?}");
    }
}

#[test]
fn relative_options_merge_across_scopes() {
    let c = load("Listen 8080\nDocumentRoot /w\nOptions Indexes ExecCGI\n<Directory /w/a>\nOptions -Indexes\n</Directory>\n<Directory /w/a/b>\nOptions +Indexes -ExecCGI\n</Directory>\n<Directory /w/c>\nOptions FollowSymLinks\nOptions +ExecCGI\n</Directory>\n").unwrap();
    let v = &c.vhosts[0];
    let at = |d: &str| v.dir_conf(Path::new(d), "/").options.unwrap();
    assert!(at("/w").indexes && at("/w").exec_cgi);
    assert!(!at("/w/a").indexes && at("/w/a").exec_cgi);
    assert!(at("/w/a/b").indexes && !at("/w/a/b").exec_cgi);
    let c = at("/w/c");
    assert!(c.follow_symlinks && c.exec_cgi && !c.indexes, "{c:?}");
}

#[test]
fn request_read_timeout_table() {
    let t = |initial, max: Option<u64>, rate| ReadTimeout {
        initial: Duration::from_secs(initial),
        max: max.map(Duration::from_secs),
        min_rate: rate,
    };
    let d = RequestReadTimeout::default();
    let rows: &[(&[&str], Result<RequestReadTimeout, &str>)] = &[
        (&["header=20-40,MinRate=500", "body=20,MinRate=500"], Ok(d)),
        (&["header=5"], Ok(RequestReadTimeout { header: Some(t(5, None, None)), ..d })),
        (&["HEADER=5-10,minrate=1"], Ok(RequestReadTimeout { header: Some(t(5, Some(10), Some(1))), ..d })),
        (&["header=0", "body=0"], Ok(RequestReadTimeout { header: None, body: None, ..d })),
        (&["body=10,MinRate=100"], Ok(RequestReadTimeout { body: Some(t(10, None, Some(100))), ..d })),
        (&["header"], Err("RequestReadTimeout: 'header' is not header=... or body=...")),
        (&["head=5"], Err("RequestReadTimeout: unknown phase 'head' (handshake, header or body)")),
        (&["handshake=5"], Ok(RequestReadTimeout { handshake: Some(t(5, None, None)), ..d })),
        (&["handshake=5-10,MinRate=100"], Ok(RequestReadTimeout { handshake: Some(t(5, Some(10), Some(100))), ..d })),
        (&["handshake=0"], Ok(RequestReadTimeout { handshake: None, ..d })),
        (&["header=5-10"], Err("RequestReadTimeout: header=5-10: a timeout range needs MinRate")),
        (&["header=10-5,MinRate=1"], Err("RequestReadTimeout: header=10-5,MinRate=1: the maximum must be larger than the initial timeout")),
        (&["header=5,MinRate=0"], Err("RequestReadTimeout: header=5,MinRate=0: MinRate '0' is not a positive number")),
        (&["header=5,Rate=9"], Err("RequestReadTimeout: header=5,Rate=9: 'Rate=9' is not MinRate=BYTES_PER_SECOND")),
        (&["header=x"], Err("RequestReadTimeout: header=x: 'x' is not a number of seconds (0 to 86400)")),
        (&["header=-5,MinRate=1"], Err("RequestReadTimeout: header=-5,MinRate=1: '' is not a number of seconds (0 to 86400)")),
        (&["header=99999999999999999999"], Err("RequestReadTimeout: header=99999999999999999999: '99999999999999999999' is not a number of seconds (0 to 86400)")),
        (&["header=0,MinRate=5"], Err("RequestReadTimeout: header=0,MinRate=5: 0 turns the phase off and takes no range or MinRate")),
    ];
    for (args, want) in rows {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            parse_request_read_timeout(&args, d),
            want.map_err(str::to_string),
            "{args:?}"
        );
    }
    let e =
        load("Listen 8080\nDocumentRoot /x\nRequestReadTimeout handshake=1 header=1 body=2 x=3\n")
            .unwrap_err();
    assert_eq!(
        e,
        vec!["/etc/x/h.conf:3: RequestReadTimeout takes 1 to 3 argument(s), got 4".to_string()]
    );
}

#[test]
fn read_timeout_extends_with_the_rate_up_to_the_maximum() {
    let h = RequestReadTimeout::default().header.unwrap();
    let rows = [
        (0, 20.0),
        (500, 21.0),
        (5000, 30.0),
        (10_000, 40.0),
        (u64::MAX, 40.0),
    ];
    for (received, secs) in rows {
        assert_eq!(
            h.allowed(received),
            Duration::from_secs_f64(secs),
            "{received}"
        );
    }
    let fixed = ReadTimeout {
        initial: Duration::from_secs(3),
        max: None,
        min_rate: None,
    };
    assert_eq!(fixed.allowed(1 << 40), Duration::from_secs(3));
}

#[test]
fn options_table() {
    let base = Options {
        follow_symlinks: true,
        ..Options::default()
    };
    let rows: &[(&[&str], Options)] = &[
        (&["None"], Options::default()),
        (
            &["Indexes"],
            Options {
                indexes: true,
                ..Options::default()
            },
        ),
        (
            &["+Indexes"],
            Options {
                indexes: true,
                follow_symlinks: true,
                ..Options::default()
            },
        ),
        (
            &["-FollowSymLinks", "+SymLinksIfOwnerMatch"],
            Options {
                symlinks_if_owner_match: true,
                ..Options::default()
            },
        ),
        (
            &["ExecCGI", "FollowSymLinks"],
            Options {
                exec_cgi: true,
                follow_symlinks: true,
                ..Options::default()
            },
        ),
    ];
    for (args, want) in rows {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        assert_eq!(parse_options(&args, base).unwrap(), *want, "{args:?}");
    }
}
