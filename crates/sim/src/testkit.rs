//! Test support: what the simulator's dialect tests and every connector's
//! `tests/dialect.rs` share. Test keys and their secrets, a simulator of one
//! exchange holding them, a connector pointed at it, the clock, the HMAC
//! primitives hand-built requests sign with, and a reply read back.
//!
//! It is compiled in normal builds so that other crates' tests can use it;
//! keyrevoke itself never calls it.

use crate::faults::Faults;
use crate::keys::{KeyState, SimKey};
use crate::{SimConfig, SimHandle};
use keyrevoke_core::ExchangeId;
use keyrevoke_core::config::ExchangeSettings;
use serde_json::Value;
use std::time::Duration;

/// The HMAC-SHA256 primitives, as exchanges document them (hex for Bybit
/// and Binance, Base64 for OKX and KuCoin).
pub use keyrevoke_core::sign::{hmac_sha256_base64, hmac_sha256_hex};

/// Now, in Unix ms, by the local clock.
pub use keyrevoke_core::http::unix_ms as now_ms;

/// Unix ms as ISO 8601 UTC with milliseconds (OKX's timestamps).
pub use crate::dialects::common::iso8601;

/// Now, in Unix seconds, by the local clock.
pub fn now_s() -> i64 {
    now_ms().div_euclid(1000)
}

/// One day in ms.
pub const DAY_MS: i64 = 86_400_000;

/// The secret of a test key, unless a test gives it another: derived from
/// the key's id, so that a test can sign for any key it names.
pub fn secret_of(api_key: &str) -> String {
    format!("{api_key}-secret")
}

/// A live master key of account `uid` holding `permissions`, unbound, with
/// no passphrase and the secret [`secret_of`]`(api_key)`. The builders below
/// make it a sub key, give it a passphrase, another secret or bound IPs.
pub fn key(api_key: &str, uid: &str, permissions: &[&str]) -> SimKey {
    SimKey {
        api_key: api_key.into(),
        secret: secret_of(api_key),
        passphrase: None,
        uid: uid.into(),
        parent_uid: None,
        sub_name: None,
        label: None,
        permissions: permissions.iter().map(|s| s.to_string()).collect(),
        read_only: false,
        ips: vec!["*".into()],
        state: KeyState::Alive,
        disabled: false,
        created_at_ms: now_ms(),
    }
}

/// Builders for test keys (see [`key`]).
impl SimKey {
    /// A sub-account key of the master account `parent_uid`.
    pub fn sub_of(mut self, parent_uid: &str) -> SimKey {
        self.parent_uid = Some(parent_uid.into());
        self
    }

    /// The sub account's name (or email), where the exchange names them.
    pub fn in_sub_account(mut self, name: &str) -> SimKey {
        self.sub_name = Some(name.into());
        self
    }

    /// The name its owner gave the key.
    pub fn labelled(mut self, label: &str) -> SimKey {
        self.label = Some(label.into());
        self
    }

    pub fn with_passphrase(mut self, passphrase: impl Into<String>) -> SimKey {
        self.passphrase = Some(passphrase.into());
        self
    }

    pub fn with_secret(mut self, secret: impl Into<String>) -> SimKey {
        self.secret = secret.into();
        self
    }

    /// Created `days` days ago (a key due for rotation, or not).
    pub fn created_days_ago(mut self, days: u32) -> SimKey {
        self.created_at_ms = now_ms() - i64::from(days) * DAY_MS;
        self
    }

    /// Bound to `ips` (`*`: unbound).
    pub fn bound_to(mut self, ips: &[&str]) -> SimKey {
        self.ips = ips.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// A simulator of `exchange` alone, with `faults`, holding `keys`.
pub async fn start(
    exchange: ExchangeId,
    faults: Faults,
    keys: impl IntoIterator<Item = SimKey>,
) -> SimHandle {
    let h = crate::start(SimConfig {
        exchanges: vec![exchange],
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts on loopback");
    let sim = h.exchange(exchange);
    for k in keys {
        sim.keys.insert(k);
    }
    h
}

/// A simulator of `exchange` alone holding `keys`, its rate limits off:
/// for tests that send refusals back to back, which the exchange counts
/// against limits as low as one call a second.
pub async fn start_unlimited(
    exchange: ExchangeId,
    keys: impl IntoIterator<Item = SimKey>,
) -> SimHandle {
    let h = crate::start(SimConfig {
        exchanges: vec![exchange],
        limits: false,
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts on loopback");
    for k in keys {
        h.exchange(exchange).keys.insert(k);
    }
    h
}

/// A connector built by `new` (its `Connector::new`), pointed at the
/// simulator's `exchange`, with a 2 s request timeout and default settings.
pub fn connector<C>(
    h: &SimHandle,
    exchange: ExchangeId,
    new: impl FnOnce(reqwest::Client, url::Url, &ExchangeSettings) -> C,
) -> C {
    let base = keyrevoke_core::http::parse_base_url(&h.urls[&exchange])
        .expect("the simulator serves loopback URLs");
    let client = keyrevoke_core::http::build_client(Duration::from_secs(2));
    new(client, base, &ExchangeSettings::default())
}

/// A master credential named `name` over a test key (its secret is
/// [`secret_of`] the key; no passphrase).
pub fn master_credential(
    exchange: ExchangeId,
    name: &str,
    api_key: &str,
) -> std::sync::Arc<keyrevoke_core::Credential> {
    std::sync::Arc::new(keyrevoke_core::Credential {
        name: name.into(),
        exchange,
        api_key: api_key.into(),
        api_secret: keyrevoke_core::Secret::new(secret_of(api_key)),
        passphrase: None,
        role: keyrevoke_core::CredentialRole::Master,
    })
}

/// An inventory row for a test key: with its own secret or not, acting
/// through `via` or not, in `account` or not.
pub fn row(
    exchange: ExchangeId,
    api_key: &str,
    own_secret: bool,
    via: Option<std::sync::Arc<keyrevoke_core::Credential>>,
    account: Option<&str>,
) -> keyrevoke_core::KeyJob {
    keyrevoke_core::KeyJob::new(
        keyrevoke_core::KeyMaterial {
            exchange,
            api_key: api_key.into(),
            api_secret: own_secret.then(|| keyrevoke_core::Secret::new(secret_of(api_key))),
            passphrase: None,
            account: account.map(str::to_string),
            label: None,
        },
        via,
    )
}

/// A key's state on the simulator.
pub fn state(h: &SimHandle, exchange: ExchangeId, api_key: &str) -> KeyState {
    h.exchange(exchange)
        .keys
        .get(api_key)
        .unwrap_or_else(|| panic!("the simulator holds no key {api_key}"))
        .state
}

/// A reply as a test reads it: the body as JSON, or as a JSON string when it
/// is not JSON (a plain-text refusal, say).
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the reply's body arrives");
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
