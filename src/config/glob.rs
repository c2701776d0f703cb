//! Apache's wildcards, as `apr_fnmatch(.., APR_FNM_PATHNAME)` reads them in `<Directory>`,
//! `<Location>` and `Include`: `*` matches any run of characters, `?` one character,
//! `[...]` one character of a set (`[!...]` or `[^...]` negated, `a-z` ranges, a `]` right
//! after the opening bracket is literal), `\x` the character x. None of them matches `/`, so
//! a pattern and a path match segment by segment.
#![forbid(unsafe_code)]

/// Whether `s` uses wildcards at all (Apache's `apr_fnmatch_test`): plain paths keep the
/// cheaper prefix rule.
pub fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Checks that every `[` is closed and no set tries to match `/`.
pub fn check(pattern: &str) -> Result<(), String> {
    for segment in pattern.split('/') {
        tokens(segment)?;
    }
    if pattern.contains("[/") || pattern.contains("[!/") || pattern.contains("[^/") {
        return Err(format!("'{pattern}': a [...] set cannot match '/'"));
    }
    Ok(())
}

/// The whole of `path` matches `pattern` (`<Location>`, `Include`).
pub fn matches(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let t: Vec<&str> = path.split('/').collect();
    p.len() == t.len() && p.iter().zip(&t).all(|(p, t)| segment_matches(p, t))
}

/// The first segments of `path` match `pattern`, as many as the pattern has (`<Directory>`:
/// `/srv/*/pub` covers `/srv/a/pub` and everything beneath it, not `/srv/a/b/pub`).
pub fn matches_prefix(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let t: Vec<&str> = path.split('/').collect();
    p.len() <= t.len() && p.iter().zip(&t).all(|(p, t)| segment_matches(p, t))
}

/// Some path at or beneath `dir` (a plain directory path) could be covered by the
/// `<Directory>` pattern: the pattern is `dir` itself, above it, or could match beneath it.
pub fn could_cover(pattern: &str, dir: &str) -> bool {
    let dir = if dir == "/" { "" } else { dir };
    let pattern = if pattern == "/" { "" } else { pattern };
    pattern
        .split('/')
        .zip(dir.split('/'))
        .all(|(p, d)| segment_matches(p, d))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

fn tokens(segment: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = segment.chars().peekable();
    while let Some(c) = chars.next() {
        let t = match c {
            '*' => Token::Star,
            '?' => Token::Any,
            '\\' => Token::Char(chars.next().unwrap_or('\\')),
            '[' => {
                let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
                let mut ranges = Vec::new();
                let mut closed = false;
                let mut first = true;
                while let Some(c) = chars.next() {
                    if c == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    let lo = if c == '\\' {
                        chars.next().unwrap_or(c)
                    } else {
                        c
                    };
                    let hi = match chars.next_if_eq(&'-') {
                        Some(_) => match chars.next() {
                            // `[a-]`: the dash is literal.
                            Some(']') => {
                                ranges.push((lo, lo));
                                ranges.push(('-', '-'));
                                closed = true;
                                break;
                            }
                            Some('\\') => chars.next().unwrap_or('\\'),
                            Some(h) => h,
                            None => break,
                        },
                        None => lo,
                    };
                    ranges.push((lo, hi));
                }
                if !closed {
                    return Err(format!("'{segment}': '[' without its closing ']'"));
                }
                Token::Set { negated, ranges }
            }
            c => Token::Char(c),
        };
        out.push(t);
    }
    Ok(out)
}

fn token_matches(t: &Token, c: char) -> bool {
    match t {
        Token::Char(x) => *x == c,
        Token::Any => true,
        Token::Star => false,
        Token::Set { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

/// One segment (no `/` on either side).
fn segment_matches(pattern: &str, text: &str) -> bool {
    let Ok(p) = tokens(pattern) else {
        // An ill-formed pattern is refused at load time; here it matches nothing.
        return false;
    };
    let t: Vec<char> = text.chars().collect();
    star_match(
        &p,
        &t,
        |tok| *tok == Token::Star,
        |tok, &c| token_matches(tok, c),
    )
}

/// `*` and `?` only, byte by byte, `/` and `[` plain characters: `ServerAlias *.example.com`
/// (Apache's `ap_strcmp_match`). Linear like every match here.
pub fn star_question_matches(pattern: &str, text: &str) -> bool {
    star_match(
        pattern.as_bytes(),
        text.as_bytes(),
        |&p| p == b'*',
        |&p, &t| p == b'?' || p == t,
    )
}

/// The one wildcard engine: does the whole of `text` match the whole of `pattern`, where
/// `is_star(p)` matches any run (empty included) and any other `p` matches one `t` for which
/// `one(p, t)` holds. Greedy with a single backtrack point (the last star): when a later
/// star matches, the earlier stars' choices can never need revisiting, so the cost is at most
/// pattern length times text length, whatever the pattern (`*a*a*a*a*b` against a long run of
/// `a` included, which naive recursion takes exponential time over).
fn star_match<P, T>(
    p: &[P],
    t: &[T],
    is_star: impl Fn(&P) -> bool,
    one: impl Fn(&P, &T) -> bool,
) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        match (p.get(pi), t.get(ti)) {
            (Some(tok), _) if is_star(tok) => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(tok), Some(c)) if one(tok, c) => {
                pi += 1;
                ti += 1;
            }
            (None, None) => return true,
            _ => match star {
                // Let the last `*` take one more character and retry from there.
                Some((sp, st)) if st < t.len() => {
                    star = Some((sp, st + 1));
                    pi = sp + 1;
                    ti = st + 1;
                }
                _ => return false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_table() {
        for (p, t, want) in [
            ("*", "", true),
            ("*", "abc", true),
            ("g*", "gallery", true),
            ("g*", "xg", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.conf", "a.conf", true),
            ("*.conf", "a.conf~", false),
            ("x*y*z", "xaybz", true),
            ("x*y*z", "xaybzq", false),
            ("[abc]x", "bx", true),
            ("[!abc]x", "bx", false),
            ("[^abc]x", "dx", true),
            ("[a-c]", "b", true),
            ("[a-c]", "d", false),
            ("[]a]", "]", true),
            ("[a-]", "-", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            (
                "*a*a*a*a*a*a*b",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                false,
            ),
            ("ü?", "üß", true),
        ] {
            assert_eq!(segment_matches(p, t), want, "{p} {t}");
        }
    }

    /// ServerAlias wildcards (Apache's `ap_strcmp_match`): `*` any run, `?` one byte, every
    /// other byte itself (`[` and `\\` included).
    #[test]
    fn star_question_table() {
        for (p, t, want) in [
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "a.b.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", ".example.com", true),
            ("www.example.com", "www.example.com", true),
            ("www.example.com", "www.example.co", false),
            ("www?.example.com", "www1.example.com", true),
            ("www?.example.com", "www.example.com", false),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*", "a", true),
            ("*a", "ba", true),
            ("*a", "ab", false),
            ("[ab].x", "[ab].x", true),
            ("[ab].x", "a.x", false),
            ("\\*", "\\anything", true),
            ("*.*.com", "a.b.com", true),
            ("*.*.com", "ab.com", false),
        ] {
            assert_eq!(star_question_matches(p, t), want, "{p} {t}");
        }
    }

    #[test]
    fn paths_table() {
        for (p, t, whole, prefix) in [
            ("/srv/g*", "/srv/gallery", true, true),
            ("/srv/g*", "/srv/gallery/x", false, true),
            ("/srv/*/pub", "/srv/a/pub", true, true),
            ("/srv/*/pub", "/srv/a/b/pub", false, false),
            ("/srv/*", "/srv", false, false),
            ("/private*", "/private/x", false, true),
            ("/a?c", "/a/c", false, false),
        ] {
            assert_eq!(matches(p, t), whole, "{p} {t}");
            assert_eq!(matches_prefix(p, t), prefix, "{p} {t}");
        }
    }

    #[test]
    fn could_cover_table() {
        for (p, d, want) in [
            ("/", "/srv/www", true),
            ("/srv", "/srv/www", true),
            ("/srv/www", "/srv/www", true),
            ("/srv/www/sub", "/srv/www", true),
            ("/srv/w*/sub", "/srv/www", true),
            ("/srv/x*", "/srv/www", false),
            ("/var/www", "/srv/www", false),
            ("/srv/www2", "/srv/www", false),
            ("/srv/www", "/", true),
        ] {
            assert_eq!(could_cover(p, d), want, "{p} {d}");
        }
    }

    #[test]
    fn check_table() {
        assert!(check("/srv/[ab]*").is_ok());
        assert!(check("/srv/*").is_ok());
        assert_eq!(
            check("/srv/[ab"),
            Err("'[ab': '[' without its closing ']'".to_string())
        );
        assert_eq!(
            check("/a[/]b"),
            Err("'a[': '[' without its closing ']'".to_string())
        );
    }
}
