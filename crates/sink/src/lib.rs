//! Where a rotation's new secrets go, staged as AWS Secrets Manager stages
//! them: a new secret is stored as *pending* before its key is trusted,
//! then promoted to *current* once tested, while the one it replaces stays
//! as *previous*.
//!
//! Two sinks: age-encrypted files ([`age`]) and a HashiCorp Vault / OpenBao
//! KV v2 mount ([`vault`]). The rotation driver journals each step after
//! the sink returns, so every call here must be idempotent: a crash between
//! the sink's write and the journal's record repeats the call.

pub mod age;
pub mod spec;
pub mod test_support;
pub mod vault;

pub use spec::{SinkKind, SinkSpec, open};

use async_trait::async_trait;
use keyrevoke_core::Secret;
use serde::Serialize;
use std::fmt;

/// A new key's secret material, as a sink stores it. Its plaintext is one
/// JSON object (see [`RotatedSecret::plaintext`]).
#[derive(Clone)]
pub struct RotatedSecret {
    pub exchange: String,
    /// Unique within a plan: names the secret in the sink.
    pub label: String,
    pub api_key: String,
    pub api_secret: Secret,
    pub passphrase: Option<Secret>,
    /// RFC 3339, when the exchange created the key (or when we saw it).
    pub created_at: String,
    /// The key this one replaces, masked.
    pub replaces: String,
}

impl fmt::Debug for RotatedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatedSecret")
            .field("exchange", &self.exchange)
            .field("label", &self.label)
            .field("api_key", &keyrevoke_core::mask_key(&self.api_key))
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Plaintext<'a> {
    exchange: &'a str,
    label: &'a str,
    api_key: &'a str,
    api_secret: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    passphrase: Option<&'a str>,
    created_at: &'a str,
    replaces: &'a str,
}

impl RotatedSecret {
    /// The JSON object a sink stores; zeroized when dropped.
    pub fn plaintext(&self) -> zeroize::Zeroizing<String> {
        let p = Plaintext {
            exchange: &self.exchange,
            label: &self.label,
            api_key: &self.api_key,
            api_secret: self.api_secret.expose(),
            passphrase: self.passphrase.as_ref().map(Secret::expose),
            created_at: &self.created_at,
            replaces: &self.replaces,
        };
        zeroize::Zeroizing::new(serde_json::to_string(&p).expect("strings serialize"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink's settings cannot work (bad recipient, no such mount).
    #[error("{0}")]
    Config(String),
    /// The sink refused or failed a write; nothing was promoted.
    #[error("{0}")]
    Write(String),
}

#[async_trait]
pub trait SecretSink: Send + Sync {
    /// For people: `age files under rotated/` or `vault http://…/secret`.
    fn describe(&self) -> String;

    /// Where (exchange, label)'s current secret lives, for people and the
    /// audit: a file path or a Vault path.
    fn location(&self, exchange: &str, label: &str) -> String;

    /// Check, before any key is created, that the sink can take writes.
    async fn preflight(&self) -> Result<(), SinkError>;

    /// Store `secret` as pending, durably, replacing any earlier pending
    /// secret of its label; the current one is untouched.
    async fn store_pending(&self, secret: &RotatedSecret) -> Result<(), SinkError>;

    /// Make the pending secret of key `api_key` current; the current one
    /// becomes previous. Done again after it succeeded: Ok, no change.
    async fn promote(&self, exchange: &str, label: &str, api_key: &str) -> Result<(), SinkError>;

    /// Drop the pending secret of a key that was deleted before it was
    /// trusted. Nothing pending: Ok.
    async fn discard_pending(&self, exchange: &str, label: &str) -> Result<(), SinkError>;
}

/// The suffixes that name a label's staged secrets beside its current one
/// (`<label>.pending`, `<label>.previous`): a label ending so would share a
/// name with another label's staged secret.
const STAGE_SUFFIXES: [&str; 2] = [".pending", ".previous"];

/// Check that `value` can name a secret in a sink: letters, digits, `.`,
/// `_` and `-`, not starting with `.` and not ending in a stage suffix.
/// An exchange and a label become one file name or one Vault path segment
/// each, so a `/`, a `..` or an empty name must never reach one.
/// `what` names the field in the error (`label`, `exchange`).
pub fn check_name(what: &str, value: &str) -> Result<(), SinkError> {
    let problem = if value.is_empty() {
        Some("is empty".to_string())
    } else if value.starts_with('.') {
        Some("starts with `.`".to_string())
    } else if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        Some(format!(
            "has `{}`; use letters, digits, `.`, `_` and `-`",
            c.escape_default()
        ))
    } else {
        STAGE_SUFFIXES
            .iter()
            .find(|suffix| value.ends_with(*suffix))
            .map(|suffix| format!("ends with `{suffix}`, which names a staged secret"))
    };
    match problem {
        Some(why) => Err(SinkError::Config(format!("{what} `{value}` {why}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn names_that_could_leave_their_folder_or_collide_are_refused() {
        for good in ["bot-17", "acme.mm_1", "BYBIT", "a"] {
            assert!(check_name("label", good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "is empty"),
            ("..", "starts with `.`"),
            (".hidden", "starts with `.`"),
            ("a/b", "`/`"),
            ("a\\b", "`\\\\`"),
            ("bot 1", "` `"),
            ("bot-1.pending", "staged secret"),
            ("bot-1.previous", "staged secret"),
        ] {
            let err = check_name("label", bad).unwrap_err().to_string();
            assert!(err.starts_with("label `"), "{bad}: {err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
