//! Which connector serves which exchange: the one place a new exchange is
//! wired in. The set of exchanges keyrevoke accepts in inventories and
//! configs is this table's, read through [`exchanges`].

use keyrevoke_core::config::{Config, ExchangeSettings};
use keyrevoke_core::http::Client;
use keyrevoke_core::http::Url;
use keyrevoke_core::{Connector, ExchangeId, ExchangeName, ExchangeSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How one registered exchange's connector is built from the config.
type Build = fn(&Config, &Client) -> Result<Arc<dyn Connector>, String>;

/// Every connector keyrevoke ships: its exchange's names and how to build it.
const REGISTERED: &[(ExchangeName, Build)] = &[
    (keyrevoke_binance::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_binance::EXCHANGE.id,
            keyrevoke_binance::DEFAULT_BASE_URL,
            keyrevoke_binance::BinanceConnector::new,
        )
    }),
    (keyrevoke_bybit::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_bybit::EXCHANGE.id,
            keyrevoke_bybit::DEFAULT_BASE_URL,
            keyrevoke_bybit::BybitConnector::new,
        )
    }),
    (keyrevoke_coinbase::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_coinbase::EXCHANGE.id,
            keyrevoke_coinbase::DEFAULT_BASE_URL,
            keyrevoke_coinbase::CoinbaseConnector::new,
        )
    }),
    (keyrevoke_kucoin::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_kucoin::EXCHANGE.id,
            keyrevoke_kucoin::DEFAULT_BASE_URL,
            keyrevoke_kucoin::KucoinConnector::new,
        )
    }),
    (keyrevoke_okx::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_okx::EXCHANGE.id,
            keyrevoke_okx::DEFAULT_BASE_URL,
            keyrevoke_okx::OkxConnector::new,
        )
    }),
    (keyrevoke_mexc::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_mexc::EXCHANGE.id,
            keyrevoke_mexc::DEFAULT_BASE_URL,
            keyrevoke_mexc::MexcConnector::new,
        )
    }),
    (keyrevoke_gate::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_gate::EXCHANGE.id,
            keyrevoke_gate::DEFAULT_BASE_URL,
            keyrevoke_gate::GateConnector::new,
        )
    }),
    (keyrevoke_htx::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_htx::EXCHANGE.id,
            keyrevoke_htx::DEFAULT_BASE_URL,
            keyrevoke_htx::HtxConnector::new,
        )
    }),
    (keyrevoke_bitget::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_bitget::EXCHANGE.id,
            keyrevoke_bitget::DEFAULT_BASE_URL,
            keyrevoke_bitget::BitgetConnector::new,
        )
    }),
    (keyrevoke_kraken::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_kraken::EXCHANGE.id,
            keyrevoke_kraken::DEFAULT_BASE_URL,
            keyrevoke_kraken::KrakenConnector::new,
        )
    }),
    (keyrevoke_deribit::EXCHANGE, |config, client| {
        over_http(
            config,
            client,
            keyrevoke_deribit::EXCHANGE.id,
            keyrevoke_deribit::DEFAULT_BASE_URL,
            keyrevoke_deribit::DeribitConnector::new,
        )
    }),
    (keyrevoke_ftx::EXCHANGE, |_, _| {
        Ok(Arc::new(keyrevoke_ftx::FtxConnector))
    }),
];

/// A connector that speaks HTTP, pointed at its configured base URL
/// (`KEYREVOKE_<EXCHANGE>_URL`, else the config, else production).
fn over_http<C: Connector>(
    config: &Config,
    client: &Client,
    id: ExchangeId,
    default_base_url: &str,
    new: fn(Client, Url, &ExchangeSettings) -> C,
) -> Result<Arc<dyn Connector>, String> {
    let base = config.base_url(id, default_base_url)?;
    Ok(Arc::new(new(client.clone(), base, &config.exchange(id))))
}

/// The exchanges keyrevoke accepts: those with a registered connector.
pub fn exchanges() -> ExchangeSet {
    ExchangeSet::new(REGISTERED.iter().map(|(name, _)| *name))
}

/// Connectors for every registered exchange (for planning: the first of
/// each exchange's egress set, see [`egress_connectors`]).
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

/// For every registered exchange, one connector per egress address (its own
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
    for (name, build) in REGISTERED {
        let addresses = config.egress(name.id);
        let mut set = Vec::new();
        if addresses.is_empty() {
            set.push(build(config, &unbound)?);
        }
        for ip in addresses {
            let client = bound
                .entry(*ip)
                .or_insert_with(|| keyrevoke_core::http::build_client_from(timeout, Some(*ip)));
            set.push(build(config, client)?);
        }
        out.insert(name.id, set);
    }
    Ok(out)
}
