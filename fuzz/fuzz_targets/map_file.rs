//! Parses arbitrary text as a map file with both target kinds and checks that the
//! decision agrees with the rules: a chosen map line is the first matching rule and
//! a refusal means no rule matched.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use oneshot_httpd::policy::{decide, parse_map, parse_selinux_target, parse_unix_target};
use oneshot_httpd::policy::{Decision, Rule, RuleRef};

fuzz_target!(|data: &[u8]| {
    // 16 bytes of peer address, one byte choosing the user, the rest is the file.
    if data.len() < 17 {
        return;
    }
    let (head, rest) = data.split_at(17);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let octets: [u8; 16] = head[..16].try_into().unwrap();
    let v6 = Ipv6Addr::from(octets);
    let peer = v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4);
    let user = match head[16] % 3 {
        0 => None,
        1 => Some("alice"),
        _ => Some("__anonymous__"),
    };
    if let Ok(rules) = parse_map(text, parse_selinux_target) {
        check(&rules, user, peer);
    }
    if let Ok(rules) = parse_map(text, parse_unix_target) {
        check(&rules, user, peer);
    }
});

fn check<T>(rules: &[Rule<T>], user: Option<&str>, peer: IpAddr) {
    let first = rules.iter().find(|r| r.ident.matches(user, peer));
    match (decide(rules, None, user, peer), first) {
        (
            Decision::Chosen {
                rule: RuleRef::Map { line },
                ..
            },
            Some(rule),
        ) => {
            assert_eq!(line, rule.line)
        }
        (Decision::Refuse, None) => {}
        _ => panic!("decision disagrees with the first matching rule"),
    }
}
