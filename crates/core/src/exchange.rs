//! Exchange identifiers, spelled as ccxt spells them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeId {
    Binance,
    Bybit,
    Okx,
    Kucoin,
    Gate,
    Htx,
    Mexc,
    Deribit,
    Bitget,
    Coinbase,
    Kraken,
    Ftx,
}

impl ExchangeId {
    pub const ALL: [ExchangeId; 12] = [
        ExchangeId::Binance,
        ExchangeId::Bybit,
        ExchangeId::Okx,
        ExchangeId::Kucoin,
        ExchangeId::Gate,
        ExchangeId::Htx,
        ExchangeId::Mexc,
        ExchangeId::Deribit,
        ExchangeId::Bitget,
        ExchangeId::Coinbase,
        ExchangeId::Kraken,
        ExchangeId::Ftx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeId::Binance => "binance",
            ExchangeId::Bybit => "bybit",
            ExchangeId::Okx => "okx",
            ExchangeId::Kucoin => "kucoin",
            ExchangeId::Gate => "gate",
            ExchangeId::Htx => "htx",
            ExchangeId::Mexc => "mexc",
            ExchangeId::Deribit => "deribit",
            ExchangeId::Bitget => "bitget",
            ExchangeId::Coinbase => "coinbase",
            ExchangeId::Kraken => "kraken",
            ExchangeId::Ftx => "ftx",
        }
    }

    /// The environment variable that overrides this exchange's base URL,
    /// e.g. `KEYREVOKE_BYBIT_URL`.
    pub fn url_env_var(self) -> String {
        format!("KEYREVOKE_{}_URL", self.as_str().to_ascii_uppercase())
    }
}

impl fmt::Display for ExchangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown exchange {} (expected one of: {list})", shown_name(.0), list = ExchangeId::ALL.map(|e| e.as_str()).join(", "))]
pub struct UnknownExchange(pub String);

/// An unknown exchange name is echoed only when it looks like a name: when
/// columns are out of place the cell may hold a key or a secret, which must
/// not reach the terminal or the journal.
fn shown_name(raw: &str) -> String {
    let name = raw.trim();
    let plausible = name.len() <= 16
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plausible {
        format!("`{name}`")
    } else {
        format!(
            "(a value of {} characters, not shown: is a column out of place?)",
            name.chars().count()
        )
    }
}

impl FromStr for ExchangeId {
    type Err = UnknownExchange;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        // ccxt's older spellings, which operators' exports still carry.
        let canonical = match lower.as_str() {
            "huobi" => "htx",
            "gateio" => "gate",
            "coinbasepro" | "coinbaseadvanced" => "coinbase",
            other => other,
        };
        ExchangeId::ALL
            .into_iter()
            .find(|e| e.as_str() == canonical)
            .ok_or_else(|| UnknownExchange(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_unknown_exchange_is_named_only_when_it_looks_like_a_name() {
        let short = "bitmex"
            .parse::<super::ExchangeId>()
            .unwrap_err()
            .to_string();
        assert!(short.contains("unknown exchange `bitmex`"), "{short}");
        let secret = "Zx9kQ2mN7pL4vR8tY3wB6cD1fG5hJ0sA";
        let long = secret.parse::<super::ExchangeId>().unwrap_err().to_string();
        assert!(!long.contains(secret), "{long}");
        assert!(long.contains("32 characters"), "{long}");
    }

    use super::*;

    #[test]
    fn parses_ccxt_ids_and_legacy_spellings() {
        assert_eq!("bybit".parse::<ExchangeId>().unwrap(), ExchangeId::Bybit);
        assert_eq!(
            " Binance ".parse::<ExchangeId>().unwrap(),
            ExchangeId::Binance
        );
        assert_eq!("huobi".parse::<ExchangeId>().unwrap(), ExchangeId::Htx);
        assert!("bitmex".parse::<ExchangeId>().is_err());
    }

    #[test]
    fn env_var_names_follow_the_contract() {
        assert_eq!(ExchangeId::Bybit.url_env_var(), "KEYREVOKE_BYBIT_URL");
        assert_eq!(ExchangeId::Okx.url_env_var(), "KEYREVOKE_OKX_URL");
    }
}
