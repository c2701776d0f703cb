//! The `oneshot-httpd` binary: the command line is in `oneshot_httpd::cli`.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(oneshot_httpd::cli::main());
}
