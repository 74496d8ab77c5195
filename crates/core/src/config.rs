//! The TOML config: credentials, per-exchange settings, executor, retry and
//! audit settings. Unknown keys are errors (a typo must not silently drop a
//! limit or a credential), reported with their TOML path.

use crate::exchange::{ExchangeId, ExchangeSet};
use crate::http::parse_base_url;
use crate::inventory::{InputError, SecretSpec, without_quoted_values};
use crate::key::{Credential, CredentialRole};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// No `Debug`: its credentials and audit key are secrets.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    credentials: BTreeMap<String, RawCredential>,
    #[serde(default)]
    exchanges: BTreeMap<String, RawExchange>,
    #[serde(default)]
    executor: ExecutorSettings,
    #[serde(default)]
    retry: RetrySettings,
    #[serde(default)]
    audit: RawAudit,
}

/// No `Debug`: it holds secrets in plain strings until they are wrapped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    exchange: String,
    api_key: String,
    api_secret: String,
    passphrase: Option<String>,
    #[serde(default)]
    role: CredentialRole,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    base_url: Option<String>,
    concurrency: Option<usize>,
    rate_limit_scale: Option<f64>,
    ip_ban_pause_secs: Option<u64>,
    /// Local addresses to send from, in turn (overrides `[executor] egress`).
    egress: Option<Vec<String>>,
    #[serde(default)]
    limits: BTreeMap<String, LimitOverride>,
}

/// No `Debug`: it holds the audit signing key.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    signing_key: Option<String>,
}

/// Replaces one documented tier (e.g. a VIP tier with a higher limit).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverride {
    pub capacity: u32,
    pub period_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorSettings {
    /// Requests in flight across all exchanges.
    pub concurrency: usize,
    /// Keys being worked on per exchange (waiting for budget or in flight).
    pub per_exchange_concurrency: usize,
    pub request_timeout_ms: u64,
    /// Local addresses every exchange's requests leave from, in turn (empty:
    /// the system's choice). Each has its own per-IP budgets.
    pub egress: Vec<String>,
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        ExecutorSettings {
            // Sockets in flight overall: enough that no exchange's lane
            // waits on another's.
            concurrency: 1024,
            per_exchange_concurrency: 128,
            request_timeout_ms: 10_000,
            egress: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrySettings {
    /// Attempts per key per route before the key fails.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// Consecutive failures of an exchange that open its circuit breaker.
    pub breaker_threshold: u32,
    pub breaker_cooldown_ms: u64,
}

impl Default for RetrySettings {
    fn default() -> Self {
        RetrySettings {
            max_attempts: 8,
            base_delay_ms: 250,
            max_delay_ms: 30_000,
            breaker_threshold: 20,
            breaker_cooldown_ms: 5_000,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ExchangeSettings {
    pub base_url: Option<Url>,
    pub concurrency: Option<usize>,
    /// Fraction of each documented limit to use (default: the executor's).
    pub rate_limit_scale: Option<f64>,
    pub ip_ban_pause: Option<Duration>,
    /// Local addresses this exchange's requests leave from, in turn, each
    /// with its own per-IP budgets (empty: the executor's default).
    pub egress: Vec<IpAddr>,
    pub limits: BTreeMap<String, LimitOverride>,
}

#[derive(Clone, Debug, Default)]
pub struct Config {
    pub path: Option<PathBuf>,
    pub credentials: BTreeMap<String, Arc<Credential>>,
    pub exchanges: BTreeMap<ExchangeId, ExchangeSettings>,
    pub executor: ExecutorSettings,
    /// `[executor] egress`, parsed: where exchanges without their own send from.
    pub egress: Vec<IpAddr>,
    pub retry: RetrySettings,
    pub audit_signing_key: Option<Secret>,
}

impl Config {
    /// Load and validate; every problem of the file is reported at once.
    /// Read and check the config at `path`; exchange names must be among
    /// `known`, the connectors registered with the program.
    pub fn load(path: &Path, known: &ExchangeSet) -> Result<Config, Vec<InputError>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![InputError::new(
                path,
                None,
                None,
                format!("cannot read: {e}"),
            )]
        })?;
        Config::parse(&text, path, known)
    }

    pub fn parse(text: &str, path: &Path, known: &ExchangeSet) -> Result<Config, Vec<InputError>> {
        let de = toml::Deserializer::new(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let line = e.inner().span().map(|s| line_of(text, s.start));
            // The inner message alone: toml's full rendering quotes the
            // offending line, which may hold a secret.
            let message = without_quoted_values(e.inner().message());
            let field = e.path().to_string();
            vec![InputError::new(
                path,
                line,
                (field != ".").then_some(field.as_str()),
                message,
            )]
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut errors = Vec::new();
        let mut err = |field: String, msg: String| {
            errors.push(InputError::new(path, None, Some(&field), msg))
        };

        let mut credentials = BTreeMap::new();
        for (name, c) in raw.credentials {
            let at = |f: &str| format!("credentials.{name}.{f}");
            let exchange = match known.parse(&c.exchange) {
                Ok(x) => Some(x),
                Err(e) => {
                    err(at("exchange"), e.to_string());
                    None
                }
            };
            if c.api_key.trim().is_empty() {
                err(at("api_key"), "empty".into());
            }
            let secret = SecretSpec::parse(c.api_secret.trim(), &base_dir).resolve();
            if let Err(m) = &secret {
                err(at("api_secret"), m.clone());
            }
            let passphrase = c
                .passphrase
                .as_deref()
                .map(|p| SecretSpec::parse(p.trim(), &base_dir).resolve())
                .transpose();
            if let Err(m) = &passphrase {
                err(at("passphrase"), m.clone());
            }
            if let (Some(exchange), Ok(api_secret), Ok(passphrase)) = (exchange, secret, passphrase)
            {
                credentials.insert(
                    name.clone(),
                    Arc::new(Credential {
                        name,
                        exchange,
                        api_key: c.api_key.trim().to_string(),
                        api_secret,
                        passphrase,
                        role: c.role,
                    }),
                );
            }
        }

        let mut exchanges = BTreeMap::new();
        for (name, x) in raw.exchanges {
            let at = |f: &str| format!("exchanges.{name}.{f}");
            let id = match known.parse(&name) {
                Ok(id) => id,
                Err(e) => {
                    err(format!("exchanges.{name}"), e.to_string());
                    continue;
                }
            };
            let base_url = match x.base_url.as_deref().map(parse_base_url).transpose() {
                Ok(u) => u,
                Err(m) => {
                    err(at("base_url"), m);
                    None
                }
            };
            if let Some(s) = x.rate_limit_scale
                && !(s > 0.0 && s <= 1.0)
            {
                err(at("rate_limit_scale"), "must be in (0, 1]".into());
            }
            if x.concurrency == Some(0) {
                err(at("concurrency"), "must be at least 1".into());
            }
            for (tier, l) in &x.limits {
                if l.capacity == 0 || l.period_ms == 0 {
                    err(
                        at(&format!("limits.{tier}")),
                        "capacity and period_ms must be positive".into(),
                    );
                }
            }
            let egress = match &x.egress {
                Some(list) => parse_egress(list).unwrap_or_else(|m| {
                    err(at("egress"), m);
                    Vec::new()
                }),
                None => Vec::new(),
            };
            exchanges.insert(
                id,
                ExchangeSettings {
                    base_url,
                    concurrency: x.concurrency,
                    rate_limit_scale: x.rate_limit_scale,
                    ip_ban_pause: x.ip_ban_pause_secs.map(Duration::from_secs),
                    egress,
                    limits: x.limits,
                },
            );
        }

        if raw.executor.concurrency == 0 || raw.executor.per_exchange_concurrency == 0 {
            err("executor.concurrency".into(), "must be at least 1".into());
        }
        let egress = parse_egress(&raw.executor.egress).unwrap_or_else(|m| {
            err("executor.egress".into(), m);
            Vec::new()
        });
        if raw.retry.max_attempts == 0 {
            err("retry.max_attempts".into(), "must be at least 1".into());
        }
        let audit_signing_key = match raw
            .audit
            .signing_key
            .as_deref()
            .map(|k| SecretSpec::parse(k.trim(), &base_dir).resolve())
            .transpose()
        {
            Ok(k) => k,
            Err(m) => {
                err("audit.signing_key".into(), m);
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Config {
            path: Some(path.to_path_buf()),
            credentials,
            exchanges,
            executor: raw.executor,
            egress,
            retry: raw.retry,
            audit_signing_key,
        })
    }

    pub fn exchange(&self, id: ExchangeId) -> ExchangeSettings {
        self.exchanges.get(&id).cloned().unwrap_or_default()
    }

    /// The local addresses an exchange's requests leave from, in turn: its
    /// own `egress`, else `[executor] egress`. Empty: one unbound client.
    pub fn egress(&self, id: ExchangeId) -> &[IpAddr] {
        match self.exchanges.get(&id) {
            Some(x) if !x.egress.is_empty() => &x.egress,
            _ => &self.egress,
        }
    }

    /// The base URL for an exchange: `KEYREVOKE_<EXCHANGE>_URL`, else the
    /// config's, else the exchange's production default.
    pub fn base_url(&self, id: ExchangeId, default: &str) -> Result<Url, String> {
        let var = id.url_env_var();
        if let Ok(v) = std::env::var(&var)
            && !v.trim().is_empty()
        {
            return parse_base_url(&v).map_err(|m| format!("{var}: {m}"));
        }
        if let Some(u) = self.exchanges.get(&id).and_then(|x| x.base_url.clone()) {
            return Ok(u);
        }
        parse_base_url(default)
    }
}

/// An `egress` list: distinct IP addresses, at least one.
fn parse_egress(list: &[String]) -> Result<Vec<IpAddr>, String> {
    let mut out: Vec<IpAddr> = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let ip = text
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| format!("entry {}: `{}` is not an IP address", i + 1, text.trim()))?;
        if ip.is_unspecified() {
            return Err(format!(
                "entry {}: {ip} is not one address; name each local address",
                i + 1
            ));
        }
        if out.contains(&ip) {
            return Err(format!("entry {}: {ip} is listed twice", i + 1));
        }
        out.push(ip);
    }
    Ok(out)
}

fn line_of(text: &str, byte: usize) -> u64 {
    text.as_bytes()[..byte.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Vec<InputError>> {
        let known = ExchangeSet::new(
            ["binance", "bybit", "okx"].map(|id| crate::exchange::ExchangeName::new(id, &[])),
        );
        Config::parse(text, Path::new("/etc/keyrevoke.toml"), &known)
    }

    #[test]
    fn a_full_config_parses() {
        let c = parse(
            r#"
[credentials.main]
exchange = "bybit"
api_key = "MASTERKEY"
api_secret = "master-secret"

[credentials.brk]
exchange = "binance"
api_key = "B"
api_secret = "s"
role = "broker"

[exchanges.bybit]
base_url = "http://127.0.0.1:9000"
concurrency = 16

[exchanges.bybit.limits.uid_key_mgmt]
capacity = 10
period_ms = 1000

[retry]
max_attempts = 3
"#,
        )
        .unwrap();
        assert_eq!(c.credentials["brk"].role, CredentialRole::Broker);
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.exchange(ExchangeId::new("bybit")).concurrency, Some(16));
        assert_eq!(
            c.base_url(ExchangeId::new("bybit"), "https://api.bybit.com")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9000/"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_path_and_line() {
        let errs = parse("[exchanges.bybit]\nbase_url = \"https://x.example\"\nconcurency = 3\n")
            .unwrap_err();
        assert_eq!(errs.len(), 1);
        let shown = errs[0].to_string();
        assert!(shown.contains("exchanges.bybit"), "{shown}");
        assert!(shown.contains("concurency"), "{shown}");
        assert_eq!(errs[0].line, Some(3), "{shown}");
    }

    #[test]
    fn wrong_types_never_echo_the_value() {
        let errs = parse(
            "[credentials.a]\nexchange = \"bybit\"\napi_key = \"K\"\napi_secret = 123456789\n",
        )
        .unwrap_err();
        let shown = errs[0].to_string();
        assert!(shown.contains("credentials.a.api_secret"), "{shown}");
        assert!(!shown.contains("123456789"), "{shown}");
    }

    #[test]
    fn all_semantic_problems_are_reported_together() {
        let errs = parse(
            r#"
[credentials.a]
exchange = "bitmex"
api_key = "K"
api_secret = "env:KEYREVOKE_SURELY_UNSET_VAR"

[exchanges.okx]
base_url = "http://10.1.2.3:80"
"#,
        )
        .unwrap_err();
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(errs.len(), 3, "{shown:?}");
        assert!(shown.iter().any(|s| s.contains("credentials.a.exchange")));
        assert!(shown.iter().any(|s| s.contains("credentials.a.api_secret")));
        assert!(
            shown
                .iter()
                .any(|s| s.contains("exchanges.okx.base_url") && s.contains("non-loopback"))
        );
    }

    #[test]
    fn egress_addresses_default_from_the_executor_and_bad_ones_are_named() {
        let c = parse(
            "[executor]\negress = [\"127.0.0.2\", \"127.0.0.3\"]\n\n[exchanges.bybit]\negress = [\"127.0.0.4\"]\n",
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(c.egress(ExchangeId::new("bybit")), [ip("127.0.0.4")]);
        assert_eq!(
            c.egress(ExchangeId::new("okx")),
            [ip("127.0.0.2"), ip("127.0.0.3")]
        );
        assert!(parse("").unwrap().egress(ExchangeId::new("okx")).is_empty());

        let errs = parse("[exchanges.okx]\negress = [\"127.0.0.2\", \"nine\"]\n").unwrap_err();
        let shown = errs[0].to_string();
        assert!(
            shown.contains("exchanges.okx.egress") && shown.contains("entry 2"),
            "{shown}"
        );
        let errs = parse("[executor]\negress = [\"127.0.0.2\", \"127.0.0.2\"]\n").unwrap_err();
        assert!(errs[0].to_string().contains("twice"), "{}", errs[0]);
    }
}
