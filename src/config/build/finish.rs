//! The finishing pass of [`build`](super::build): the drafts become the `Config`'s vhosts
//! (main server merged in, access and error logs numbered), and the checks that need the whole
//! configuration run (pool sizes, unreachable `<Directory>`, connection categories). Separate
//! from the walk because it runs once, after every node was read.

#![forbid(unsafe_code)]

use super::*;

impl Builder {
    /// I3: a `<Directory>` that lies outside every DocumentRoot and ScriptAlias target (and is
    /// not above one) can never apply to a request; say so at `-t` instead of ignoring it.
    pub(super) fn warn_unreachable_directories(&mut self, cfg: &Config) {
        let mut warned: Vec<&Origin> = Vec::new();
        let mut sections: Vec<(&Section, Vec<&Path>)> = Vec::new();
        for v in &cfg.vhosts {
            let roots: Vec<&Path> = std::iter::once(v.document_root.as_path())
                .chain(v.script_aliases.iter().map(|a| a.dir.as_path()))
                .chain(v.aliases.iter().map(|a| a.root.as_path()))
                .collect();
            for s in &v.directories {
                match sections.iter_mut().find(|(t, _)| t.origin == s.origin) {
                    Some((_, r)) => r.extend(&roots),
                    None => sections.push((s, roots.clone())),
                }
            }
        }
        for (s, roots) in sections {
            let reachable = roots
                .iter()
                .any(|r| super::super::glob::could_cover(&s.path, &normalize_dir(r)));
            if !reachable && !warned.contains(&&s.origin) {
                warned.push(&s.origin);
                self.warnings.push(ConfigError {
                    origin: s.origin.clone(),
                    message: format!(
                        "<Directory {}> never applies: it is outside every DocumentRoot, Alias and ScriptAlias directory",
                        s.path
                    ),
                });
            }
        }
    }

    pub(super) fn finish(&mut self, cfg: &mut Config, main: VHostDraft, drafts: Vec<VHostDraft>) {
        if cfg.listen.is_empty() && !self.saw_listen {
            self.errors.push(ConfigError {
                origin: Origin {
                    file: cfg.file.clone(),
                    line: 0,
                },
                message: "no Listen directive: the server would accept nothing".into(),
            });
        }
        self.finish_no_effect();
        if let Some(t) = self.server_error_log.take() {
            cfg.error_log = t;
        }
        // Access logs: the server's, then each vhost's; the same destination with the same
        // format is opened once. A vhost without a CustomLog of its own uses the server's.
        let mut index_of = |l: &CustomLog| match cfg.custom_logs.iter().position(|c| c == l) {
            Some(i) => i,
            None => {
                cfg.custom_logs.push(l.clone());
                cfg.custom_logs.len() - 1
            }
        };
        let server_logs: Vec<usize> = main.custom_logs.iter().map(&mut index_of).collect();
        let vhost_logs: Vec<Vec<usize>> = drafts
            .iter()
            .map(|d| d.custom_logs.iter().map(&mut index_of).collect())
            .collect();
        let drafts = if drafts.is_empty() {
            vec![VHostDraft::new(main.origin.clone())]
        } else {
            drafts
        };
        for (i, d) in drafts.into_iter().enumerate() {
            let access_logs = match vhost_logs.get(i) {
                Some(own) if !own.is_empty() => own.clone(),
                _ => server_logs.clone(),
            };
            let error_log = d.error_log.as_ref().map(|p| {
                match cfg.vhost_error_logs.iter().position(|e| e == p) {
                    Some(i) => i,
                    None => {
                        cfg.vhost_error_logs.push(p.clone());
                        cfg.vhost_error_logs.len() - 1
                    }
                }
            });
            let Some(root) = d
                .document_root
                .clone()
                .or_else(|| main.document_root.clone())
            else {
                self.errors.push(ConfigError {
                    origin: d.origin.clone(),
                    message: "no DocumentRoot for this server".into(),
                });
                continue;
            };
            let mut names = d.names.clone();
            if names.is_empty() {
                names = main.names.clone();
            }
            let mut directories = main.directories.clone();
            directories.extend(d.directories);
            // Apache applies <Directory> from the fewest path components to the most (file
            // order among equals); for plain paths that is also shortest to longest.
            directories.sort_by_key(|s| s.path.split('/').filter(|c| !c.is_empty()).count());
            let mut directory_matches = main.directory_matches.clone();
            directory_matches.extend(d.directory_matches);
            let mut locations = main.locations.clone();
            locations.extend(d.locations);
            let mut script_aliases = d.script_aliases;
            script_aliases.extend(main.script_aliases.iter().cloned());
            // mod_alias's merge: the vhost's entries, then the main server's.
            let mut aliases = d.aliases;
            aliases.extend(main.aliases.iter().cloned());
            let mut redirects = d.redirects;
            redirects.extend(main.redirects.iter().cloned());
            cfg.vhosts.push(VHost {
                names,
                document_root: root,
                root_origin: d
                    .root_origin
                    .clone()
                    .or_else(|| main.root_origin.clone())
                    .unwrap_or_else(|| d.origin.clone()),
                conf: defaults().merge(&main.conf).merge(&d.conf),
                directories,
                directory_matches,
                locations,
                script_aliases,
                aliases,
                redirects,
                harden: super::super::harden::HardenDraft::resolve(&main.harden, &d.harden),
                fcgi: super::super::fcgi::FcgiDraft::resolve(&main.fcgi, &d.fcgi),
                origin: d.origin,
                access_logs,
                error_log,
            });
            // HOOK(fcgi): the child connects to its TCP FastCGI backends after Landlock.
            if let Some(v) = cfg.vhosts.last_mut() {
                let ports: Vec<u16> = v
                    .fcgi
                    .rules
                    .iter()
                    .map(|r| &r.backend)
                    .chain(v.fcgi_handlers())
                    .filter_map(|b| b.tcp_port())
                    .collect();
                for p in ports {
                    if !v.harden.connect_tcp.contains(&p) {
                        v.harden.connect_tcp.push(p);
                    }
                }
            }
        }
        cfg.cgi_timeout = self.cgi_timeout.unwrap_or(cfg.timeout);
        self.check_numbers(cfg);
    }

    fn check_numbers(&mut self, cfg: &mut Config) {
        let at = Origin {
            file: cfg.file.clone(),
            line: 0,
        };
        let mut fail = |m: &str| {
            self.errors.push(ConfigError {
                origin: at.clone(),
                message: m.into(),
            })
        };
        if cfg.max_workers == 0 {
            fail("MaxRequestWorkers must be at least 1");
        }
        if cfg.min_spare == 0 {
            fail("MinSpareServers must be at least 1");
        }
        if cfg.max_spare < cfg.min_spare {
            // Apache silently raises it; say so instead of guessing.
            fail("MaxSpareServers must not be below MinSpareServers");
        }
        if cfg.timeout.is_zero() {
            fail("Timeout must be at least 1 second");
        }
        if cfg.limits.head.request_line < 16 || cfg.limits.head.field_size < 16 {
            fail("LimitRequestLine and LimitRequestFieldSize must be at least 16");
        }
        self.check_connection_categories(cfg);
    }

    /// Every live child needs a category of its own, and the categories only mean something
    /// when SELinux is a required backend.
    fn check_connection_categories(&mut self, cfg: &Config) {
        let Some(cc) = &cfg.selinux_connection_categories else {
            return;
        };
        let mut fail = |message: String| {
            self.errors.push(ConfigError {
                origin: cc.origin.clone(),
                message,
            })
        };
        if cc.range.len() < cfg.max_workers {
            fail(format!(
                "selinuxConnectionCategories {} holds {} categories, fewer than MaxRequestWorkers {}: every live child needs one of its own",
                cc.range,
                cc.range.len(),
                cfg.max_workers
            ));
        }
        if !cfg.confinement.contains(&crate::sandbox::Backend::Selinux) {
            fail("selinuxConnectionCategories needs `Confinement selinux`: without it no category would be entered".into());
        }
    }
}

/// Apache 2.4's defaults for the main server.
fn defaults() -> DirConf {
    DirConf {
        options: Some(Options {
            follow_symlinks: true,
            ..Options::default()
        }),
        directory_index: Some(vec!["index.html".into()]),
        ..DirConf::default()
    }
}
