//! Where a rotation's new secrets go, staged as AWS Secrets Manager stages
//! them: a new secret is stored as *pending* before its key is trusted,
//! then promoted to *current* once tested, while the one it replaces stays
//! as *previous*.
//!
//! Two sinks: age-encrypted files ([`age`]) and a HashiCorp Vault / OpenBao
//! KV v2 mount ([`vault`]). The rotation driver journals each step after
//! the sink returns, so every call here must be idempotent: a crash between
//! the sink's write and the journal's record repeats the call.

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
