//! The keys a simulated exchange holds, and their state.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Alive,
    Deleted,
}

/// One API key on a simulated exchange.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimKey {
    pub api_key: String,
    pub secret: String,
    #[serde(default)]
    pub passphrase: Option<String>,
    /// The account (UID) the key belongs to.
    pub uid: String,
    /// For a sub-account key, the master account's UID.
    #[serde(default)]
    pub parent_uid: Option<String>,
    /// For a sub-account key, the sub account's name (exchanges that name
    /// sub accounts rather than number them).
    #[serde(default)]
    pub sub_name: Option<String>,
    /// The name its owner gave the key (Bybit's `note`, Binance's
    /// `apiName`), as the master's listing shows it.
    #[serde(default)]
    pub label: Option<String>,
    /// The exchange's own permission names.
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    /// Bound IPs; `*` (or empty) means unbound.
    #[serde(default = "unbound")]
    pub ips: Vec<String>,
    #[serde(default = "alive")]
    pub state: KeyState,
    /// Disabled by its owner (Deribit's `disable_api_key`): held, listed
    /// as disabled, and refused until enabled again.
    #[serde(default)]
    pub disabled: bool,
    /// When the key was created (Unix ms), as the exchange's listings and
    /// key queries report it; a key loaded without one was created now.
    #[serde(default = "keyrevoke_core::http::unix_ms")]
    pub created_at_ms: i64,
}

fn unbound() -> Vec<String> {
    vec!["*".into()]
}

fn alive() -> KeyState {
    KeyState::Alive
}

impl SimKey {
    pub fn is_master(&self) -> bool {
        self.parent_uid.is_none()
    }

    pub fn is_alive(&self) -> bool {
        self.state == KeyState::Alive
    }

    /// Whether a request from loopback passes the key's IP binding.
    pub fn allows_loopback(&self) -> bool {
        self.ips.is_empty() || self.ips.iter().any(|ip| ip == "*" || ip == "127.0.0.1")
    }

    /// The IPs the key is bound to, none when unbound (`*`).
    pub fn bound_ips(&self) -> Vec<String> {
        self.ips.iter().filter(|ip| *ip != "*").cloned().collect()
    }

    pub fn has_any(&self, permissions: &[&str]) -> bool {
        self.permissions
            .iter()
            .any(|p| permissions.contains(&p.as_str()))
    }
}

/// What a create call asks of a new key (see
/// [`crate::ExchangeSim::create_sub_key`]).
#[derive(Clone, Debug)]
pub struct NewKeyShape {
    /// Its note, label, remark or name, as given.
    pub label: String,
    pub permissions: Vec<String>,
    pub read_only: bool,
    /// Bound IPs; empty for unbound.
    pub ips: Vec<String>,
    /// The passphrase its creator chose (OKX, KuCoin).
    pub passphrase: Option<String>,
    /// The lengths of the id and secret the exchange issues.
    pub api_key_len: usize,
    pub secret_len: usize,
}

/// All keys of one simulated exchange.
#[derive(Default)]
pub struct KeyStore {
    keys: Mutex<HashMap<String, SimKey>>,
}

impl KeyStore {
    pub fn insert(&self, key: SimKey) {
        self.keys.lock().unwrap().insert(key.api_key.clone(), key);
    }

    pub fn get(&self, api_key: &str) -> Option<SimKey> {
        self.keys.lock().unwrap().get(api_key).cloned()
    }

    /// Apply `f` to a key under the lock; returns what `f` returns.
    pub fn update<T>(&self, api_key: &str, f: impl FnOnce(&mut SimKey) -> T) -> Option<T> {
        self.keys.lock().unwrap().get_mut(api_key).map(f)
    }

    /// Keys matching `pred`, in a stable order (by api key).
    pub fn filter(&self, pred: impl Fn(&SimKey) -> bool) -> Vec<SimKey> {
        let mut v: Vec<SimKey> = self
            .keys
            .lock()
            .unwrap()
            .values()
            .filter(|k| pred(k))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.api_key.cmp(&b.api_key));
        v
    }

    /// Whether any key matches `pred` (stops at the first).
    pub fn any(&self, pred: impl Fn(&SimKey) -> bool) -> bool {
        self.keys.lock().unwrap().values().any(pred)
    }

    pub fn len(&self) -> usize {
        self.keys.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn count_alive(&self) -> usize {
        self.keys
            .lock()
            .unwrap()
            .values()
            .filter(|k| k.is_alive())
            .count()
    }
}
