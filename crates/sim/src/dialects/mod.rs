//! One module per exchange dialect. Each checks requests the way its
//! exchange documents them, not the way keyrevoke's own client builds them.

pub mod bybit;

use crate::ExchangeSim;
use axum::Router;
use keyrevoke_core::ExchangeId;
use std::sync::Arc;
use std::time::Duration;

/// Exchanges the simulator speaks.
pub const SUPPORTED: &[ExchangeId] = &[ExchangeId::Bybit];

pub type DialectRouter = fn(Arc<ExchangeSim>) -> Router;

pub fn router_for(id: ExchangeId) -> Option<DialectRouter> {
    match id {
        ExchangeId::Bybit => Some(bybit::router),
        _ => None,
    }
}

/// The per-IP limit each exchange documents: (weight, per period).
pub fn ip_limit(id: ExchangeId) -> (u32, Duration) {
    match id {
        ExchangeId::Bybit => bybit::IP_LIMIT,
        _ => (u32::MAX, Duration::from_secs(1)),
    }
}

/// The permission names a synthetic key of `kind` gets on `id`.
pub fn permissions(id: ExchangeId, kind: crate::generate::KeyKind) -> Vec<String> {
    let names: &[&str] = match id {
        ExchangeId::Bybit => bybit::synthetic_permissions(kind),
        _ => &[],
    };
    names.iter().map(|s| s.to_string()).collect()
}

/// How an inventory names the sub account that owns a sub key (`account`).
pub fn sub_account_id(id: ExchangeId, key: &crate::keys::SimKey) -> String {
    match id {
        // Bybit identifies sub accounts by UID (`subMemberId`).
        ExchangeId::Bybit => key.uid.clone(),
        _ => key.sub_name.clone().unwrap_or_else(|| key.uid.clone()),
    }
}

/// Whether the exchange's keys carry a passphrase.
pub fn needs_passphrase(id: ExchangeId) -> bool {
    matches!(id, ExchangeId::Okx | ExchangeId::Kucoin | ExchangeId::Bitget)
}

/// Whether a master must quote the sub key's own passphrase to delete it.
pub fn sub_delete_needs_passphrase(id: ExchangeId) -> bool {
    matches!(id, ExchangeId::Kucoin)
}
