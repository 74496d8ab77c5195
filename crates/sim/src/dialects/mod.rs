//! One module per exchange dialect. Each checks requests the way its
//! exchange documents them, not the way keyrevoke's own client builds them.

pub mod binance;
pub mod bybit;
pub mod coinbase;
pub mod common;
pub mod kucoin;
pub mod okx;

use crate::ExchangeSim;
use axum::Router;
use keyrevoke_core::ExchangeId;
use std::sync::Arc;
use std::time::Duration;

/// Exchanges the simulator speaks.
pub const SUPPORTED: &[ExchangeId] = &[
    ExchangeId::Binance,
    ExchangeId::Bybit,
    ExchangeId::Okx,
    ExchangeId::Kucoin,
    ExchangeId::Coinbase,
];

pub type DialectRouter = fn(Arc<ExchangeSim>) -> Router;

pub fn router_for(id: ExchangeId) -> Option<DialectRouter> {
    match id {
        ExchangeId::Binance => Some(binance::router),
        ExchangeId::Bybit => Some(bybit::router),
        ExchangeId::Coinbase => Some(coinbase::router),
        ExchangeId::Kucoin => Some(kucoin::router),
        ExchangeId::Okx => Some(okx::router),
        _ => None,
    }
}

/// The per-IP limit each exchange documents: (weight, per period).
pub fn ip_limit(id: ExchangeId) -> (u32, Duration) {
    match id {
        ExchangeId::Binance => binance::IP_LIMIT,
        ExchangeId::Bybit => bybit::IP_LIMIT,
        ExchangeId::Coinbase => coinbase::IP_LIMIT,
        ExchangeId::Kucoin => kucoin::IP_LIMIT,
        ExchangeId::Okx => okx::IP_LIMIT,
        _ => (u32::MAX, Duration::from_secs(1)),
    }
}

/// The permission names a synthetic key of `kind` gets on `id`.
pub fn permissions(id: ExchangeId, kind: crate::generate::KeyKind) -> Vec<String> {
    let names: &[&str] = match id {
        ExchangeId::Binance => binance::synthetic_permissions(kind),
        ExchangeId::Bybit => bybit::synthetic_permissions(kind),
        ExchangeId::Coinbase => coinbase::synthetic_permissions(kind),
        ExchangeId::Kucoin => kucoin::synthetic_permissions(kind),
        ExchangeId::Okx => okx::synthetic_permissions(kind),
        _ => &[],
    };
    names.iter().map(|s| s.to_string()).collect()
}

/// How an inventory names the sub account that owns a sub key (`account`).
pub fn sub_account_id(id: ExchangeId, key: &crate::keys::SimKey) -> String {
    match id {
        // Binance names a master's sub accounts by email (Binance Link broker
        // sub accounts by `subAccountId`, the sub key's uid).
        ExchangeId::Binance => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
        // Bybit identifies sub accounts by UID (`subMemberId`).
        ExchangeId::Bybit => key.uid.clone(),
        // Coinbase has no API through which one key manages another: the
        // account only groups keys of one user for its per-user rate limit.
        ExchangeId::Coinbase => key.uid.clone(),
        // KuCoin names sub accounts (`subName`).
        ExchangeId::Kucoin => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
        // OKX names sub-accounts (`subAcct`).
        ExchangeId::Okx => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
        _ => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
    }
}

/// Whether a key may delete itself through the exchange's API (Bybit's
/// `/v5/user/delete-api` and `delete-sub-api` act on the calling key;
/// see ../shared/exchanges/bybit.md). Elsewhere a master deletes sub keys.
pub fn key_can_delete_itself(id: ExchangeId) -> bool {
    id == ExchangeId::Bybit
}

/// Whether a master key may delete its sub accounts' keys by API.
pub fn master_can_delete_sub_keys(id: ExchangeId) -> bool {
    matches!(
        id,
        ExchangeId::Binance | ExchangeId::Bybit | ExchangeId::Kucoin | ExchangeId::Okx
    )
}

/// Whether the simulator serves a master's listing of its sub accounts and
/// their keys (what `keyrevoke panic` discovers with).
pub fn master_can_list_sub_keys(id: ExchangeId) -> bool {
    matches!(id, ExchangeId::Binance | ExchangeId::Bybit)
}

/// Whether the exchange's keys carry a passphrase.
pub fn needs_passphrase(id: ExchangeId) -> bool {
    matches!(
        id,
        ExchangeId::Okx | ExchangeId::Kucoin | ExchangeId::Bitget
    )
}

/// The IPs a synthetic master key is bound to. OKX refuses sub-key
/// management from a master key bound to no IP (50035), so its masters are
/// bound to the simulator's own address; elsewhere they are unbound.
pub fn master_ips(id: ExchangeId) -> Vec<String> {
    match id {
        ExchangeId::Okx => vec!["127.0.0.1".into()],
        _ => vec!["*".into()],
    }
}

/// Whether a master must quote the sub key's own passphrase to delete it.
pub fn sub_delete_needs_passphrase(id: ExchangeId) -> bool {
    matches!(id, ExchangeId::Kucoin)
}

/// A secret of the exchange's own format for a synthetic key, where a random
/// token would not do (Coinbase keys are real P-256 or Ed25519 key pairs).
pub fn synthetic_secret(id: ExchangeId, rng: &mut rand::rngs::StdRng) -> Option<String> {
    match id {
        ExchangeId::Coinbase => Some(coinbase::synthetic_secret(rng)),
        _ => None,
    }
}
