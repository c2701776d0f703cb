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
