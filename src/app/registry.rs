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

/// Connectors for every supported exchange.
pub fn connectors(config: &Config) -> Result<BTreeMap<ExchangeId, Arc<dyn Connector>>, String> {
    let client = keyrevoke_core::http::build_client(Duration::from_millis(
        config.executor.request_timeout_ms,
    ));
    let mut out = BTreeMap::new();
    for x in SUPPORTED {
        if let Some(c) = connector(*x, config, &client)? {
            out.insert(*x, c);
        }
    }
    Ok(out)
}
