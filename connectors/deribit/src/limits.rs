//! Deribit's rate limits, as tiers, and what each call spends.
//!
//! Sources: docs.deribit.com "Rate Limits" (articles/rate-limits) and
//! support.deribit.com "Rate Limits": a credit pool per sub account;
//! non-matching-engine requests (every call keyrevoke makes) cost 500
//! credits each, the pool holds 50,000 and refills at 10,000 per second
//! ("up to 20 requests per second", "up to 100 requests at once"). A
//! request with no credit left is refused with 10028 `too_many_requests`
//! "and the session terminated": wait for credits, then reconnect.
//!
//! As a tier: 50,000 credits per 5 s (a full refill), 500 per call. The
//! limit is per sub account: a credential acting in a sub account through
//! an exchanged token spends that sub account's credits, which the
//! executor counts against the credential's budget (the stricter reading).
//! Unconfirmed: how unauthenticated calls (`public/auth`, `public/get_time`)
//! are counted; here per IP, with the same figures. No IP ban is
//! documented beyond 10028.

use crate::endpoints;
use keyrevoke_core::discovery::ListKind;
use keyrevoke_core::{Charge, Operation, Route, Tier, TierScope};
use std::time::Duration;

pub const ACCOUNT_CREDITS: &str = "account_credits";
pub const IP_PUBLIC: &str = "ip_public";

/// What one non-matching-engine request costs.
pub const CREDITS_PER_CALL: u32 = 500;
/// The pool's size.
pub const MAX_CREDITS: u32 = 50_000;
/// How fast the pool refills: 10,000 credits per second, so a full pool
/// in 5 s.
pub const REFILL_PERIOD: Duration = Duration::from_secs(5);
/// How long to hold a scope after 10028, which states no wait: the time
/// one second's refill takes (20 calls), since the session was cut.
pub const AFTER_TOO_MANY_REQUESTS: Duration = Duration::from_secs(1);

const fn tier(name: &'static str, scope: TierScope) -> Tier {
    Tier {
        name,
        scope,
        capacity: MAX_CREDITS,
        period: REFILL_PERIOD,
    }
}

pub static TIERS: [Tier; 2] = [
    tier(ACCOUNT_CREDITS, TierScope::Account),
    tier(IP_PUBLIC, TierScope::Ip),
];

pub const fn charge(tier: &'static str, weight: u32) -> Charge {
    Charge { tier, weight }
}

const PUBLIC_CALL: Charge = charge(IP_PUBLIC, CREDITS_PER_CALL);

/// A route spends two calls of the credential's pool: in its own account
/// the listing and the remove (or disable); in a sub account
/// `public/auth` and `public/exchange_token`, the listing and the remove
/// then spending the sub account's own pool (at most two calls per key
/// there too, so the credential's pool bounds both); and the auth is
/// counted per IP as well.
static ROUTE: [Charge; 2] = [charge(ACCOUNT_CREDITS, 2 * CREDITS_PER_CALL), PUBLIC_CALL];
/// A probe: the key's own `public/auth`, or the credential's listing of
/// its own account, or of a sub account (after the auth and the token
/// exchange, which the credential's pool pays).
static PROBE: [Charge; 2] = [charge(ACCOUNT_CREDITS, 2 * CREDITS_PER_CALL), PUBLIC_CALL];
/// A sub account's key listing: a token for it, then the listing.
static LIST_KEYS: [Charge; 2] = [charge(ACCOUNT_CREDITS, 2 * CREDITS_PER_CALL), PUBLIC_CALL];

pub fn charges(op: Operation) -> &'static [Charge] {
    match op {
        Operation::Route(
            Route::DeleteByMaster | Route::DisableByMaster | Route::DeleteSelf | Route::DisableSelf,
        ) => &ROUTE,
        Operation::Route(_) => &[],
        Operation::Probe => &PROBE,
        Operation::ClockSync => endpoints::GET_TIME.charges,
        Operation::List(ListKind::SubAccounts) => endpoints::GET_SUBACCOUNTS.charges,
        Operation::List(ListKind::SubAccountKeys) => &LIST_KEYS,
        // Not rotated here (`can_rotate` is false): never sent.
        Operation::Rotate(_) => &[],
    }
}

/// The weight a sequence of account calls spends, for the tests below.
#[cfg(test)]
const fn calls(n: u32) -> u32 {
    n * CREDITS_PER_CALL
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyrevoke_core::connector::charge_problems;

    #[test]
    fn every_charge_names_a_tier_and_fits_in_it() {
        assert_eq!(charge_problems(&TIERS, charges), Vec::<String>::new());
    }

    #[test]
    fn the_pool_allows_the_documented_burst_and_rate() {
        assert_eq!(MAX_CREDITS / CREDITS_PER_CALL, 100, "100 at once");
        let per_second = MAX_CREDITS as u64 / REFILL_PERIOD.as_secs() / u64::from(CREDITS_PER_CALL);
        assert_eq!(per_second, 20, "20 per second");
    }

    #[test]
    fn a_route_pays_for_the_two_calls_of_the_credentials_pool_and_the_auth() {
        let route = charges(Operation::Route(Route::DeleteByMaster));
        assert!(route.contains(&charge(ACCOUNT_CREDITS, calls(2))));
        assert!(route.contains(&PUBLIC_CALL), "the auth is public");
    }
}
