//! Parses arbitrary text as an htpasswd file. Verification is not fuzzed: a valid
//! entry may legitimately ask for bcrypt cost 31 or a billion SHA-crypt rounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::auth::htpasswd;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    match htpasswd::parse(text) {
        Ok(file) => {
            assert!(file.len() <= lines);
            let w = file.warnings();
            assert!(w.len() <= file.len());
            assert!(w.iter().all(|e| (1..=lines).contains(&e.line)));
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| (1..=lines).contains(&e.line)));
            assert!(errors.windows(2).all(|w| w[0].line < w[1].line));
        }
    }
});
