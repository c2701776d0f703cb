fn main() {
    std::process::exit(oneshot_httpd::cli::main());
}
