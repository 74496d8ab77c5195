//! One module per exchange dialect. Each checks requests the way its
//! exchange documents them, not the way keyrevoke's own client builds them.

pub mod binance;
pub mod bitget;
pub mod bybit;
pub mod coinbase;
pub mod common;
pub mod deribit;
pub mod gate;
pub mod htx;
pub mod kraken;
pub mod kucoin;
pub mod mexc;
pub mod okx;
mod okx_lists;

use crate::ExchangeSim;
use axum::Router;
use keyrevoke_core::ExchangeId;
use std::sync::Arc;
use std::time::Duration;

/// Exchanges the simulator speaks.
pub const SUPPORTED: &[ExchangeId] = &[
    binance::ID,
    bybit::ID,
    okx::ID,
    kucoin::ID,
    coinbase::ID,
    mexc::ID,
    gate::ID,
    htx::ID,
    bitget::ID,
    kraken::ID,
    deribit::ID,
];

/// The exchanges the simulator speaks, as names an operator may give.
pub fn names() -> keyrevoke_core::exchange::ExchangeSet {
    keyrevoke_core::exchange::ExchangeSet::new(SUPPORTED.iter().map(|id| {
        keyrevoke_core::exchange::ExchangeName {
            id: *id,
            aliases: &[],
        }
    }))
}

pub type DialectRouter = fn(Arc<ExchangeSim>) -> Router;

pub fn router_for(id: ExchangeId) -> Option<DialectRouter> {
    match id {
        binance::ID => Some(binance::router),
        bybit::ID => Some(bybit::router),
        coinbase::ID => Some(coinbase::router),
        kucoin::ID => Some(kucoin::router),
        okx::ID => Some(okx::router),
        mexc::ID => Some(mexc::router),
        gate::ID => Some(gate::router),
        htx::ID => Some(htx::router),
        bitget::ID => Some(bitget::router),
        kraken::ID => Some(kraken::router),
        deribit::ID => Some(deribit::router),
        _ => None,
    }
}

/// The per-IP limit each exchange documents: (weight, per period).
pub fn ip_limit(id: ExchangeId) -> (u32, Duration) {
    match id {
        binance::ID => binance::IP_LIMIT,
        bybit::ID => bybit::IP_LIMIT,
        coinbase::ID => coinbase::IP_LIMIT,
        kucoin::ID => kucoin::IP_LIMIT,
        okx::ID => okx::IP_LIMIT,
        mexc::ID => mexc::IP_LIMIT,
        gate::ID => gate::IP_LIMIT,
        htx::ID => htx::IP_LIMIT,
        bitget::ID => bitget::IP_LIMIT,
        kraken::ID => kraken::IP_LIMIT,
        deribit::ID => deribit::IP_LIMIT,
        _ => (u32::MAX, Duration::from_secs(1)),
    }
}

/// The permission names a synthetic key of `kind` gets on `id`.
pub fn permissions(id: ExchangeId, kind: crate::generate::KeyKind) -> Vec<String> {
    let names: &[&str] = match id {
        binance::ID => binance::synthetic_permissions(kind),
        bybit::ID => bybit::synthetic_permissions(kind),
        coinbase::ID => coinbase::synthetic_permissions(kind),
        kucoin::ID => kucoin::synthetic_permissions(kind),
        okx::ID => okx::synthetic_permissions(kind),
        mexc::ID => mexc::synthetic_permissions(kind),
        gate::ID => gate::synthetic_permissions(kind),
        htx::ID => htx::synthetic_permissions(kind),
        bitget::ID => bitget::synthetic_permissions(kind),
        kraken::ID => kraken::synthetic_permissions(kind),
        deribit::ID => deribit::synthetic_permissions(kind),
        _ => &[],
    };
    names.iter().map(|s| s.to_string()).collect()
}

/// How an inventory names the sub account that owns a sub key (`account`).
pub fn sub_account_id(id: ExchangeId, key: &crate::keys::SimKey) -> String {
    match id {
        // Binance names a master's sub accounts by email (Binance Link broker
        // sub accounts by `subAccountId`, the sub key's uid).
        binance::ID => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
        // Bybit identifies sub accounts by UID (`subMemberId`).
        bybit::ID => key.uid.clone(),
        // Coinbase has no API through which one key manages another: the
        // account only groups keys of one user for its per-user rate limit.
        coinbase::ID => key.uid.clone(),
        // KuCoin names sub accounts (`subName`).
        kucoin::ID => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
        // OKX names sub-accounts (`subAcct`).
        okx::ID => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
        // MEXC names sub accounts (`subAccount`).
        mexc::ID => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
        // Gate numbers sub accounts (`user_id`).
        gate::ID => key.uid.clone(),
        // HTX numbers sub users (`subUid`).
        htx::ID => key.uid.clone(),
        // Bitget numbers sub accounts (`subAccountUid`, `subUid`).
        bitget::ID => key.uid.clone(),
        // No Kraken key manages another: the account only groups keys.
        kraken::ID => key.uid.clone(),
        // Deribit numbers sub accounts (`subject_id`).
        deribit::ID => key.uid.clone(),
        _ => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
    }
}

/// Whether a key may delete itself through the exchange's API (Bybit's
/// `/v5/user/delete-api` and `delete-sub-api` act on the calling key;
/// see ../shared/exchanges/bybit.md). Elsewhere a master deletes sub keys.
pub fn key_can_delete_itself(id: ExchangeId) -> bool {
    id == bybit::ID
}

/// Whether a master key may delete its sub accounts' keys by API.
pub fn master_can_delete_sub_keys(id: ExchangeId) -> bool {
    matches!(
        id,
        binance::ID
            | bybit::ID
            | kucoin::ID
            | okx::ID
            | mexc::ID
            | gate::ID
            | htx::ID
            | bitget::ID
            | deribit::ID
    )
}

/// Whether the simulator serves a master's listing of its sub accounts and
/// their keys (what `keyrevoke panic` discovers with).
pub fn master_can_list_sub_keys(id: ExchangeId) -> bool {
    matches!(
        id,
        binance::ID
            | bybit::ID
            | okx::ID
            | kucoin::ID
            | gate::ID
            | htx::ID
            | bitget::ID
            | mexc::ID
            | deribit::ID
    )
}

/// Whether the simulator serves a master's create of sub keys (what
/// `keyrevoke rotate` replaces a key with).
pub fn master_can_create_sub_keys(id: ExchangeId) -> bool {
    matches!(id, binance::ID | bybit::ID | kucoin::ID | okx::ID)
}

/// Whether the exchange shows a sub key's IP list in full, so that a
/// rotation can copy it (KuCoin masks it: `203.**.154`).
pub fn shows_sub_key_ips(id: ExchangeId) -> bool {
    matches!(id, binance::ID | bybit::ID | okx::ID)
}

/// Whether every probe of the exchange is paced per IP, seconds apart,
/// because failed calls lock an IP out (Kraken's temporary lockout): a
/// demo gives it a few keys, not a full share.
pub fn probes_paced_per_ip(id: ExchangeId) -> bool {
    id == kraken::ID
}

/// Whether the exchange's keys carry a passphrase.
pub fn needs_passphrase(id: ExchangeId) -> bool {
    matches!(id, okx::ID | kucoin::ID | bitget::ID)
}

/// The IPs a synthetic master key is bound to. OKX refuses sub-key
/// management from a master key bound to no IP (50035), so its masters are
/// bound to the simulator's own address; elsewhere they are unbound.
pub fn master_ips(id: ExchangeId) -> Vec<String> {
    match id {
        okx::ID => vec!["127.0.0.1".into()],
        // Bitget's v2 sub-account calls need a main key bound to an IP.
        bitget::ID => vec!["127.0.0.1".into()],
        _ => vec!["*".into()],
    }
}

/// Whether a master must quote the sub key's own passphrase to delete it.
pub fn sub_delete_needs_passphrase(id: ExchangeId) -> bool {
    matches!(id, kucoin::ID)
}

/// A secret of the exchange's own format for a synthetic key, where a random
/// token would not do (Coinbase keys are real P-256 or Ed25519 key pairs).
pub fn synthetic_secret(id: ExchangeId, rng: &mut rand::rngs::StdRng) -> Option<String> {
    match id {
        coinbase::ID => Some(coinbase::synthetic_secret(rng)),
        kraken::ID => Some(kraken::synthetic_secret(rng)),
        _ => None,
    }
}
