//! Exchange identifiers, spelled as ccxt spells them.
//!
//! Core names no exchange. An [`ExchangeId`] is whatever id a connector
//! declares ([`ExchangeName`]); the set a program accepts in its inputs is
//! the set of connectors registered with it ([`ExchangeSet`]), so a library
//! user adds an exchange by registering a connector, without editing core.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

/// An exchange's id: its ccxt id, lowercase (`binance`, `okx`, `gate`).
/// Copy and cheap to compare; ordered by name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(&'static str);

impl ExchangeId {
    /// The id a connector declares for its exchange (its ccxt id).
    pub const fn new(ccxt_id: &'static str) -> Self {
        ExchangeId(ccxt_id)
    }

    /// The id of an exchange named in stored data (a journal row, an audit
    /// record), which was checked against the registry when it was written.
    /// Each distinct name is kept once for the life of the process, so that
    /// ids stay `Copy`. `None` when the text is not shaped like an id.
    pub fn stored(name: &str) -> Option<Self> {
        if !looks_like_an_id(name) {
            return None;
        }
        static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
        let mut names = NAMES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let kept = match names.get(name) {
            Some(kept) => *kept,
            None => {
                let kept: &'static str = Box::leak(name.to_string().into_boxed_str());
                names.insert(kept);
                kept
            }
        };
        Some(ExchangeId(kept))
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// The environment variable that overrides this exchange's base URL,
    /// e.g. `KEYREVOKE_BYBIT_URL`.
    pub fn url_env_var(self) -> String {
        format!("KEYREVOKE_{}_URL", self.0.to_ascii_uppercase())
    }
}

/// ccxt ids are lowercase letters and digits.
fn looks_like_an_id(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl fmt::Display for ExchangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.0)
    }
}

impl fmt::Debug for ExchangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for ExchangeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// Stored data only (see [`ExchangeId::stored`]); operators' inputs go
/// through [`ExchangeSet::parse`].
impl<'de> Deserialize<'de> for ExchangeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        ExchangeId::stored(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("`{name}` is not an exchange id")))
    }
}

/// How a connector names its exchange: its ccxt id, and the older ccxt
/// spellings that operators' exports still carry (`huobi` for `htx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExchangeName {
    pub id: ExchangeId,
    pub aliases: &'static [&'static str],
}

impl ExchangeName {
    pub const fn new(ccxt_id: &'static str, aliases: &'static [&'static str]) -> Self {
        ExchangeName {
            id: ExchangeId::new(ccxt_id),
            aliases,
        }
    }
}

/// The exchanges a program accepts: the connectors registered with it.
/// Inventory and config parsing read exchange names through it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExchangeSet {
    names: Vec<ExchangeName>,
}

impl ExchangeSet {
    pub fn new(names: impl IntoIterator<Item = ExchangeName>) -> Self {
        let mut names: Vec<ExchangeName> = names.into_iter().collect();
        names.sort_by_key(|n| n.id);
        names.dedup_by_key(|n| n.id);
        ExchangeSet { names }
    }

    /// This set and one more exchange (a library user's own connector).
    pub fn with(self, name: ExchangeName) -> Self {
        ExchangeSet::new(self.names.into_iter().chain([name]))
    }

    /// The registered ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = ExchangeId> + '_ {
        self.names.iter().map(|n| n.id)
    }

    pub fn contains(&self, id: ExchangeId) -> bool {
        self.names.iter().any(|n| n.id == id)
    }

    /// The exchange an operator names, by its ccxt id or an older ccxt
    /// spelling, in any case.
    pub fn parse(&self, text: &str) -> Result<ExchangeId, UnknownExchange> {
        let lower = text.trim().to_ascii_lowercase();
        self.names
            .iter()
            .find(|n| n.id.as_str() == lower || n.aliases.contains(&lower.as_str()))
            .map(|n| n.id)
            .ok_or_else(|| UnknownExchange {
                shown: shown_name(text),
                expected: self
                    .ids()
                    .map(ExchangeId::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown exchange {shown} (expected one of: {expected})")]
pub struct UnknownExchange {
    shown: String,
    expected: String,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> ExchangeSet {
        ExchangeSet::new([
            ExchangeName::new("bybit", &[]),
            ExchangeName::new("binance", &[]),
            ExchangeName::new("htx", &["huobi"]),
        ])
    }

    #[test]
    fn an_unknown_exchange_is_named_only_when_it_looks_like_a_name() {
        let short = registry().parse("bitmex").unwrap_err().to_string();
        assert!(short.contains("unknown exchange `bitmex`"), "{short}");
        assert!(
            short.contains("(expected one of: binance, bybit, htx)"),
            "{short}"
        );
        let secret = "Zx9kQ2mN7pL4vR8tY3wB6cD1fG5hJ0sA";
        let long = registry().parse(secret).unwrap_err().to_string();
        assert!(!long.contains(secret), "{long}");
        assert!(long.contains("32 characters"), "{long}");
    }

    #[test]
    fn parses_the_registered_ids_and_their_legacy_spellings_only() {
        let set = registry();
        assert_eq!(set.parse("bybit").unwrap(), ExchangeId::new("bybit"));
        assert_eq!(set.parse(" Binance ").unwrap(), ExchangeId::new("binance"));
        assert_eq!(set.parse("huobi").unwrap(), ExchangeId::new("htx"));
        assert!(set.parse("okx").is_err(), "okx is not registered here");
        assert!(set.parse("bitmex").is_err());
    }

    #[test]
    fn stored_ids_equal_declared_ones_and_odd_text_is_refused() {
        assert_eq!(ExchangeId::stored("gate"), Some(ExchangeId::new("gate")));
        assert_eq!(
            ExchangeId::stored("gate").unwrap().as_str().as_ptr(),
            ExchangeId::stored("gate").unwrap().as_str().as_ptr(),
            "a name read twice is kept once"
        );
        assert_eq!(ExchangeId::stored("Gate io"), None);
        assert_eq!(ExchangeId::stored(""), None);
    }

    #[test]
    fn env_var_names_follow_the_contract() {
        assert_eq!(
            ExchangeId::new("bybit").url_env_var(),
            "KEYREVOKE_BYBIT_URL"
        );
        assert_eq!(ExchangeId::new("okx").url_env_var(), "KEYREVOKE_OKX_URL");
    }
}
