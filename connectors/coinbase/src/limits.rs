//! Coinbase Advanced Trade's rate-limit tiers and what each call spends.
//!
//! Source: docs.cdp.coinbase.com/advanced-trade/docs/rest-api-rate-limits
//! (the page coinbase-advanced-py's README links for REST limits): private
//! endpoints are throttled by user at 30 requests per second, public ones by
//! IP at 10 per second; beyond, HTTP 429. Replies carry `x-ratelimit-limit`,
//! `x-ratelimit-remaining` and `x-ratelimit-reset` (the names: coinbase-advanced-py
//! 1.8.4 `coinbase/constants.py` `RATE_LIMIT_HEADERS`). No IP ban is
//! documented for Advanced Trade.

use crate::endpoints;
use keyrevoke_core::{Charge, Operation, Tier, TierScope};
use std::time::Duration;

/// Authenticated calls, per user (the key's account).
pub const USER_PRIVATE: &str = "user_private";
/// Public calls (server time), per IP.
pub const IP_PUBLIC: &str = "ip_public";

pub static TIERS: [Tier; 2] = [
    Tier {
        name: USER_PRIVATE,
        scope: TierScope::Account,
        capacity: 30,
        period: Duration::from_secs(1),
    },
    Tier {
        name: IP_PUBLIC,
        scope: TierScope::Ip,
        capacity: 10,
        period: Duration::from_secs(1),
    },
];

pub const HEADER_LIMIT: &str = "x-ratelimit-limit";
pub const HEADER_REMAINING: &str = "x-ratelimit-remaining";
pub const HEADER_RESET: &str = "x-ratelimit-reset";

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        // No route sends anything: Coinbase keys are only escalated.
        Operation::Route(_) => &[],
        // `key_permissions`, signed by the key itself.
        Operation::Probe => endpoints::KEY_PERMISSIONS.charges,
        Operation::ClockSync => endpoints::SERVER_TIME.charges,
        // No list endpoint is used yet: nothing to discover, nothing spent.
        Operation::List(_) => &[],
        // Not rotated here (`can_rotate` is false): never sent.
        Operation::Rotate(_) => &[],
    }
}
