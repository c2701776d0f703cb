//! Stage: per-request decision (pure, after authentication, before any transition).
//!
//! Invariants: the first rule whose identity matches wins (file order, as mod_selinux);
//! with no match the vhost default applies; with neither the answer is `Refuse`, never
//! "stay in the current context". The peer is compared in both its IPv4 and
//! IPv4-mapped IPv6 forms.
#![forbid(unsafe_code)]

use std::net::IpAddr;

use super::map::Rule;

/// Where a chosen target came from, for the audit line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleRef {
    /// A map-file rule; the caller knows the file and renders `FILE:LINE`.
    Map {
        line: usize,
    },
    VhostDefault,
}

/// The outcome of [`decide`]. The discriminants are far apart in Hamming distance so
/// that a single flipped bit cannot turn a refusal into a choice.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(u32)]
pub enum Decision<T> {
    Chosen { target: T, rule: RuleRef } = 0x5a3c_c35a,
    Refuse = 0xa5c3_3ca5,
}

/// Chooses the target for a request from `peer` authenticated as `user`
/// (None = anonymous).
pub fn decide<'a, T>(
    rules: &'a [Rule<T>],
    default: Option<&'a T>,
    user: Option<&str>,
    peer: IpAddr,
) -> Decision<&'a T> {
    if let Some(rule) = rules.iter().find(|rule| rule.ident.matches(user, peer)) {
        return Decision::Chosen {
            target: &rule.target,
            rule: RuleRef::Map { line: rule.line },
        };
    }
    match default {
        Some(target) => Decision::Chosen {
            target,
            rule: RuleRef::VhostDefault,
        },
        None => Decision::Refuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::map::parse_map;

    const MAP: &str = "\
alice            alice_t
!192.0.2.0/24    outside_t
__anonymous__    anon_t
2001:db8::/32    v6_t
*                everyone_t
";

    fn target_name(target: &str) -> Result<String, String> {
        Ok(target.to_owned())
    }

    #[test]
    fn first_match_wins() {
        let rules = parse_map(MAP, target_name).unwrap();
        let default = "default_t".to_owned();
        let cases: &[(Option<&str>, &str, &str, RuleRef)] = &[
            (
                Some("alice"),
                "198.51.100.1",
                "alice_t",
                RuleRef::Map { line: 1 },
            ),
            (
                Some("bob"),
                "198.51.100.1",
                "outside_t",
                RuleRef::Map { line: 2 },
            ),
            (
                Some("bob"),
                "::ffff:198.51.100.1",
                "outside_t",
                RuleRef::Map { line: 2 },
            ),
            (None, "192.0.2.5", "anon_t", RuleRef::Map { line: 3 }),
            (None, "::ffff:192.0.2.5", "anon_t", RuleRef::Map { line: 3 }),
            (
                Some("bob"),
                "192.0.2.5",
                "everyone_t",
                RuleRef::Map { line: 5 },
            ),
            (
                Some("bob"),
                "::ffff:192.0.2.5",
                "everyone_t",
                RuleRef::Map { line: 5 },
            ),
            // IPv6 peers are outside the IPv4 network, so line 2 catches them first.
            (
                Some("bob"),
                "2001:db8::1",
                "outside_t",
                RuleRef::Map { line: 2 },
            ),
        ];
        for (user, peer, expected, rule) in cases {
            let peer: IpAddr = peer.parse().unwrap();
            let decision = decide(&rules, Some(&default), *user, peer);
            let want = Decision::Chosen {
                target: &expected.to_string(),
                rule: *rule,
            };
            assert_eq!(decision, want, "user={user:?} peer={peer}");
        }
    }

    #[test]
    fn default_then_refuse() {
        let rules = parse_map("alice alice_t\n10.0.0.0/8 lan_t\n", target_name).unwrap();
        let default = "default_t".to_owned();
        let outside: IpAddr = "192.0.2.1".parse().unwrap();
        let lan: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(
            decide(&rules, Some(&default), Some("bob"), outside),
            Decision::Chosen {
                target: &default,
                rule: RuleRef::VhostDefault
            }
        );
        assert_eq!(decide(&rules, None, Some("bob"), outside), Decision::Refuse);
        assert_eq!(decide(&rules, None, None, outside), Decision::Refuse);
        assert_eq!(
            decide::<String>(&[], None, Some("alice"), lan),
            Decision::Refuse
        );
        assert_eq!(
            decide(&rules, None, None, lan),
            Decision::Chosen {
                target: &"lan_t".to_owned(),
                rule: RuleRef::Map { line: 2 }
            }
        );
    }
}
