//! The error taxonomy every connector maps its exchange's replies into.
//!
//! Errors are `Clone + Eq` so that tests can match them and the executor can
//! store them; they never carry a secret.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which budget a rate-limit reply speaks of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// The calling account's (UID's) own limit.
    Account,
    /// The limit shared by everything sent from this IP.
    Ip,
    /// The exchange has banned this IP: pause the whole exchange.
    Ban,
}

/// Who signed the call whose reply is read. A refusal that speaks of "the
/// API key" (invalid, expired, does not exist) speaks of the signer: the
/// target key when it signed its own call, the managing credential when a
/// master or broker acted on the target's behalf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignedBy {
    /// The target key itself, with its own secret.
    TargetKey,
    /// A master or broker credential acting on the target key.
    ManagingCredential,
    /// Nobody: a public endpoint.
    Nobody,
}

impl SignedBy {
    /// The error for a reply that refuses the signing key itself: the target
    /// is dead only when it signed; a managing credential's refusal says
    /// nothing of the target, which the executor must not count as dead.
    pub fn signer_refused(self, code: &str, message: &str) -> ConnectorError {
        match self {
            SignedBy::TargetKey => ConnectorError::KeyDead(format!("{code}: {message}")),
            SignedBy::ManagingCredential => ConnectorError::Permanent {
                code: code.to_string(),
                message: format!("managing credential refused: {message}"),
            },
            SignedBy::Nobody => ConnectorError::Permanent {
                code: code.to_string(),
                message: message.to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    #[error("rate limited ({scope:?}); retry after {retry_after:?}")]
    RateLimited {
        retry_after: Option<Duration>,
        scope: LimitScope,
    },
    /// Nothing took effect; retry with backoff.
    #[error("transient failure: {0}")]
    Transient(String),
    /// The request may or may not have taken effect: verify before retrying.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// The exchange rejected our timestamp: resync the clock, re-sign, retry.
    #[error("clock skew: timestamp rejected")]
    ClockSkew,
    /// The exchange says the key does not exist or is invalid.
    #[error("key is dead: {0}")]
    KeyDead(String),
    /// This route cannot be used for this key: try the next channel.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A deterministic refusal.
    #[error("exchange error {code}: {message}")]
    Permanent { code: String, message: String },
}

/// What the exchange answered, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyMeta {
    pub http_status: Option<u16>,
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Rate-limit usage reported by the exchange with a reply, so the executor can
/// tighten its own limiter before the exchange has to refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub scope: LimitScope,
    /// Calls like this one still possible in the current window: where the
    /// exchange counts weight, what is left divided by this call's weight
    /// (the executor pauses the scope at 0).
    pub remaining: Option<u64>,
    /// When the current window resets, from now.
    pub reset_after: Option<Duration>,
}

impl ConnectorError {
    /// A reply that could not be read: after a state-changing call the
    /// outcome is unknown; after a read nothing happened.
    pub fn unreadable_reply(mutating: bool) -> Self {
        let what = "unreadable reply".to_string();
        if mutating {
            ConnectorError::OutcomeUnknown(what)
        } else {
            ConnectorError::Transient(what)
        }
    }
}

impl Usage {
    /// What a reply's usage headers reported, as the list a reply carries:
    /// empty when they reported nothing.
    pub fn reported(
        scope: LimitScope,
        remaining: Option<u64>,
        reset_after: Option<Duration>,
    ) -> Vec<Usage> {
        if remaining.is_none() && reset_after.is_none() {
            return Vec::new();
        }
        vec![Usage {
            scope,
            remaining,
            reset_after,
        }]
    }
}

/// A failed call: the classified error and what the exchange said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: ConnectorError,
    pub meta: ReplyMeta,
    pub usage: Vec<Usage>,
}

impl Failure {
    /// A failure as the exchange told it, with any API key it echoed
    /// masked ([`crate::secret::redact_api_keys`]): every message an
    /// exchange sends passes here before anything records it.
    pub fn new(mut error: ConnectorError, mut meta: ReplyMeta) -> Self {
        let redact = |s: &mut String| {
            if let std::borrow::Cow::Owned(masked) = crate::secret::redact_api_keys(s) {
                *s = masked;
            }
        };
        if let Some(m) = meta.message.as_mut() {
            redact(m);
        }
        match &mut error {
            ConnectorError::Transient(m)
            | ConnectorError::OutcomeUnknown(m)
            | ConnectorError::KeyDead(m)
            | ConnectorError::Unsupported(m)
            | ConnectorError::Permanent { message: m, .. } => redact(m),
            ConnectorError::RateLimited { .. } | ConnectorError::ClockSkew => {}
        }
        Failure {
            error,
            meta,
            usage: Vec::new(),
        }
    }

    /// A failure that never reached the exchange's API (no status, no code).
    pub fn local(error: ConnectorError) -> Self {
        Failure::new(error, ReplyMeta::default())
    }

    pub fn with_usage(mut self, usage: Vec<Usage>) -> Self {
        self.usage = usage;
        self
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(s) = self.meta.http_status {
            write!(f, " (HTTP {s})")?;
        }
        Ok(())
    }
}
