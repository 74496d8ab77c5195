//! Which connector serves which exchange: the one place a new exchange is
//! wired in.

use keyrevoke_core::config::Config;
use keyrevoke_core::{Connector, ExchangeId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Exchanges with a connector.
pub const SUPPORTED: &[ExchangeId] = &[
    ExchangeId::Binance,
    ExchangeId::Bybit,
    ExchangeId::Coinbase,
    ExchangeId::Kucoin,
    ExchangeId::Okx,
    ExchangeId::Ftx,
];

/// Build the connector for `x`, pointed at its configured base URL
/// (`KEYREVOKE_<EXCHANGE>_URL`, else the config, else production).
pub fn connector(
    x: ExchangeId,
    config: &Config,
    client: &keyrevoke_core::http::Client,
) -> Result<Option<Arc<dyn Connector>>, String> {
    let settings = config.exchange(x);
    Ok(match x {
        ExchangeId::Binance => {
            let base = config.base_url(x, keyrevoke_binance::DEFAULT_BASE_URL)?;
            Some(Arc::new(keyrevoke_binance::BinanceConnector::new(
                client.clone(),
                base,
                &settings,
            )))
        }
        ExchangeId::Bybit => {
            let base = config.base_url(x, keyrevoke_bybit::DEFAULT_BASE_URL)?;
            Some(Arc::new(keyrevoke_bybit::BybitConnector::new(
                client.clone(),
                base,
                &settings,
            )))
        }
        ExchangeId::Coinbase => {
            let base = config.base_url(x, keyrevoke_coinbase::DEFAULT_BASE_URL)?;
            Some(Arc::new(keyrevoke_coinbase::CoinbaseConnector::new(
                client.clone(),
                base,
                &settings,
            )))
        }
        ExchangeId::Okx => {
            let base = config.base_url(x, keyrevoke_okx::DEFAULT_BASE_URL)?;
            Some(Arc::new(keyrevoke_okx::OkxConnector::new(
                client.clone(),
                base,
                &settings,
            )))
        }
        ExchangeId::Kucoin => {
            let base = config.base_url(x, keyrevoke_kucoin::DEFAULT_BASE_URL)?;
            Some(Arc::new(keyrevoke_kucoin::KucoinConnector::new(
                client.clone(),
                base,
                &settings,
            )))
        }
        ExchangeId::Ftx => Some(Arc::new(keyrevoke_ftx::FtxConnector)),
        _ => None,
    })
}

/// Connectors for every supported exchange (for planning: the first of each
/// exchange's egress set, see [`egress_connectors`]).
pub fn connectors(config: &Config) -> Result<BTreeMap<ExchangeId, Arc<dyn Connector>>, String> {
    Ok(first_of(&egress_connectors(config)?))
}

/// The first connector of each exchange's egress set.
pub fn first_of(
    sets: &BTreeMap<ExchangeId, Vec<Arc<dyn Connector>>>,
) -> BTreeMap<ExchangeId, Arc<dyn Connector>> {
    sets.iter()
        .filter_map(|(x, set)| Some((*x, set.first()?.clone())))
        .collect()
}

/// Requests sent per exchange, over all its egress addresses.
pub fn requests_sent(
    sets: &BTreeMap<ExchangeId, Vec<Arc<dyn Connector>>>,
) -> BTreeMap<String, u64> {
    sets.iter()
        .map(|(x, set)| (x.to_string(), set.iter().map(|c| c.requests_sent()).sum()))
        .collect()
}

/// For every supported exchange, one connector per egress address (its own
/// or `[executor] egress`), each with a client bound to that address; one
/// unbound connector when none is configured. The executor sends each
/// request through one of them in turn, with that address's IP budgets.
pub fn egress_connectors(
    config: &Config,
) -> Result<BTreeMap<ExchangeId, Vec<Arc<dyn Connector>>>, String> {
    let timeout = Duration::from_millis(config.executor.request_timeout_ms);
    let unbound = keyrevoke_core::http::build_client(timeout);
    // One client per address, shared by the exchanges that send from it.
    let mut bound = BTreeMap::new();
    let mut out = BTreeMap::new();
    for x in SUPPORTED {
        let addresses = config.egress(*x);
        let mut set = Vec::new();
        if addresses.is_empty() {
            set.extend(connector(*x, config, &unbound)?);
        }
        for ip in addresses {
            let client = bound
                .entry(*ip)
                .or_insert_with(|| keyrevoke_core::http::build_client_from(timeout, Some(*ip)));
            set.extend(connector(*x, config, client)?);
        }
        if !set.is_empty() {
            out.insert(*x, set);
        }
    }
    Ok(out)
}
