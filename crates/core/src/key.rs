//! Keys to neutralize and the credentials that act on them.

use crate::error::{ConnectorError, Failure};
use crate::exchange::ExchangeId;
use crate::model::Route;
use crate::secret::{Fingerprint, Secret, mask_key};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// What the inventory knows about one key.
#[derive(Clone)]
pub struct KeyMaterial {
    pub exchange: ExchangeId,
    pub api_key: String,
    pub api_secret: Option<Secret>,
    pub passphrase: Option<Secret>,
    /// Sub-account name or uid that owns the key.
    pub account: Option<String>,
    /// The operator's own reference.
    pub label: Option<String>,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("exchange", &self.exchange)
            .field("api_key", &mask_key(&self.api_key))
            .field(
                "api_secret",
                &self.api_secret.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "[redacted]"),
            )
            .field("account", &self.account)
            .field("label", &self.label)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialRole {
    /// A master (parent) account key that manages its sub-accounts' keys.
    #[default]
    Master,
    /// An exchange broker key that manages its broker sub-accounts' keys.
    Broker,
}

/// A named key that keyrevoke uses to act on other keys.
#[derive(Clone)]
pub struct Credential {
    pub name: String,
    pub exchange: ExchangeId,
    pub api_key: String,
    pub api_secret: Secret,
    pub passphrase: Option<Secret>,
    pub role: CredentialRole,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("exchange", &self.exchange)
            .field("api_key", &mask_key(&self.api_key))
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// One key handed to a connector: its material and, when the inventory names
/// one, the credential that manages it.
#[derive(Clone, Debug)]
pub struct KeyJob {
    pub key: KeyMaterial,
    pub via: Option<Arc<Credential>>,
    pub fingerprint: Fingerprint,
    /// The key is one of this run's managing credentials: acting on it would
    /// cut the branch the run sits on, so it is escalated, never touched.
    pub protected: bool,
}

impl KeyJob {
    pub fn new(key: KeyMaterial, via: Option<Arc<Credential>>) -> Self {
        let fingerprint = Fingerprint::of(&key.api_key);
        KeyJob {
            key,
            via,
            fingerprint,
            protected: false,
        }
    }

    pub fn masked(&self) -> String {
        mask_key(&self.key.api_key)
    }

    pub fn has_secret(&self) -> bool {
        self.key.api_secret.is_some()
    }

    /// The key's own secret, for a call the key signs itself; without it
    /// the route is unsupported for this row.
    pub fn own_secret(&self) -> Result<&Secret, Failure> {
        self.key.api_secret.as_ref().ok_or_else(|| {
            Failure::local(ConnectorError::Unsupported(
                "the key's secret is not known".into(),
            ))
        })
    }

    /// The credential that manages the key, for a call it signs; without
    /// one the route is unsupported for this row.
    pub fn managing_credential(&self) -> Result<&Credential, Failure> {
        self.via.as_deref().ok_or_else(|| {
            Failure::local(ConnectorError::Unsupported("no managing credential".into()))
        })
    }

    /// The account whose per-account rate limits a call on this route spends.
    /// A managing credential is its own account; a key acting on itself
    /// spends its owning account's budget when the inventory names it, and
    /// otherwise is treated as an account of its own.
    pub fn rate_account(&self, route: Option<Route>) -> String {
        match (&self.via, route) {
            (Some(cred), Some(r)) if r.uses_credential() => format!("cred:{}", cred.name),
            _ => match &self.key.account {
                Some(a) => format!("acct:{a}"),
                None => format!("key:{}", self.fingerprint.short()),
            },
        }
    }
}

/// Whether a rate-limit account (see [`KeyJob::rate_account`]) may be
/// spent by other keys than one: a credential's or a named account's. A
/// key's own (`key:`) account is spent by that key alone, and a clock sync
/// (empty) by no account.
pub fn is_shared_account(account: &str) -> bool {
    !account.is_empty() && !account.starts_with("key:")
}

/// The key that signs one call, and whose key it is (which the reply's
/// refusals are read against: see [`crate::error::SignedBy`]).
pub struct Caller<'a> {
    pub api_key: &'a str,
    pub secret: &'a Secret,
    pub signed_by: crate::error::SignedBy,
}

impl<'a> Caller<'a> {
    /// The target key, with its own secret.
    pub fn own_key(job: &'a KeyJob) -> Result<Self, Failure> {
        Ok(Caller {
            api_key: &job.key.api_key,
            secret: job.own_secret()?,
            signed_by: crate::error::SignedBy::TargetKey,
        })
    }

    /// The job's managing credential.
    pub fn managing(job: &'a KeyJob) -> Result<Self, Failure> {
        Ok(Caller::credential(job.managing_credential()?))
    }

    /// A credential acting on keys it manages (deleting, listing, creating).
    pub fn credential(cred: &'a Credential) -> Self {
        Caller {
            api_key: &cred.api_key,
            secret: &cred.api_secret,
            signed_by: crate::error::SignedBy::ManagingCredential,
        }
    }

    /// A key just created, testing itself with its own secret.
    pub fn new_key(key: &'a crate::rotation::NewKey) -> Self {
        Caller {
            api_key: &key.api_key,
            secret: &key.api_secret,
            signed_by: crate::error::SignedBy::TargetKey,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(account: Option<&str>, via: bool) -> KeyJob {
        let cred = Arc::new(Credential {
            name: "m1".into(),
            exchange: ExchangeId::new("bybit"),
            api_key: "MASTERKEY0001".into(),
            api_secret: Secret::from("master-secret-value"),
            passphrase: None,
            role: CredentialRole::Master,
        });
        KeyJob::new(
            KeyMaterial {
                exchange: ExchangeId::new("bybit"),
                api_key: "SUBKEY000000001".into(),
                api_secret: Some(Secret::from("sub-secret-value")),
                passphrase: None,
                account: account.map(str::to_string),
                label: None,
            },
            via.then_some(cred),
        )
    }

    #[test]
    fn debug_never_shows_secrets_or_the_full_key() {
        let j = job(None, true);
        let text = format!("{j:?}");
        assert!(!text.contains("sub-secret-value"), "{text}");
        assert!(!text.contains("master-secret-value"), "{text}");
        assert!(!text.contains("SUBKEY000000001"), "{text}");
        assert!(!text.contains("MASTERKEY0001"), "{text}");
    }

    #[test]
    fn missing_material_makes_a_route_unsupported_without_reaching_the_exchange() {
        let lone = KeyJob::new(
            KeyMaterial {
                api_secret: None,
                ..job(None, false).key
            },
            None,
        );
        for f in [
            lone.own_secret().unwrap_err(),
            lone.managing_credential().unwrap_err(),
        ] {
            assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
            assert_eq!(f.meta.http_status, None, "nothing was sent");
        }
        let j = job(None, true);
        assert_eq!(j.own_secret().unwrap().expose(), "sub-secret-value");
        assert_eq!(j.managing_credential().unwrap().name, "m1");
    }

    #[test]
    fn a_master_route_spends_the_credentials_budget() {
        let j = job(Some("sub7"), true);
        assert_eq!(j.rate_account(Some(Route::DeleteByMaster)), "cred:m1");
        assert_eq!(j.rate_account(Some(Route::DeleteSelf)), "acct:sub7");
        let lone = job(None, false);
        assert!(
            lone.rate_account(Some(Route::DeleteSelf))
                .starts_with("key:")
        );
    }
}
