//! Parses arbitrary text as an `AuthGroupFile`. Never panics; errors name lines that exist, in
//! order; a parsed file only ever finds a user in a group that a line of the text names with
//! that user on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::auth::groupfile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    match groupfile::parse(text) {
        Ok(file) => {
            for line in text.lines() {
                let t = line.trim();
                if t.starts_with('#') {
                    continue; // a comment, whatever it holds
                }
                let Some((group, members)) = t.split_once(':') else {
                    continue;
                };
                for user in members.split_whitespace() {
                    assert!(file.in_any(user, &[group.to_string()]), "{line:?}");
                }
            }
            assert!(!file.in_any("", &["".to_string()]));
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| (1..=lines).contains(&e.line)));
            assert!(errors.windows(2).all(|w| w[0].line < w[1].line));
        }
    }
});
