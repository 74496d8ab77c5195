//! Rotation: a managing credential replaces one sub key with a new one of
//! the same shape. The connector answers one call at a time (describe the
//! old key, create the new one, test it with its own secret); the rotation
//! driver paces, retries, journals and audits, and deletes the old key
//! through the ordinary revocation routes.

use crate::connector::Reply;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};

/// The calls of a rotation, for rate-limit charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationCall {
    /// Read a sub key's permissions, IP list and creation time via its
    /// managing credential.
    Describe,
    /// Create a sub key via the managing credential.
    Create,
    /// A signed read with the new key's own secret.
    Test,
}

impl RotationCall {
    pub const ALL: [RotationCall; 3] = [
        RotationCall::Describe,
        RotationCall::Create,
        RotationCall::Test,
    ];
}

/// What a new key must copy from the key it replaces. Permissions are in
/// the exchange's own spelling, as the same connector's create takes them
/// back (Bybit `ContractTrade.Order`, OKX `read_only`, KuCoin `General`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyShape {
    pub permissions: Vec<String>,
    /// The IP allow-list; empty when the key is unrestricted.
    pub ips: Vec<String>,
    /// Only read: whether the key can only read.
    pub read_only: bool,
    /// When the exchange says the key was created (Unix ms), if it says.
    pub created_at_ms: Option<i64>,
    /// The exchange's own name for the key (Bybit `note`, OKX `label`).
    pub label: Option<String>,
}

/// A sub key to create under `account`, shaped as `shape`.
#[derive(Clone, Debug)]
pub struct CreateKey {
    /// The sub account, named as the exchange's create call names it.
    pub account: String,
    pub shape: KeyShape,
    /// The name the new key gets at the exchange (its note or label): it
    /// finds the key again by listing if its secret was never stored.
    pub label: String,
    /// For exchanges whose creator chooses the new key's passphrase (OKX,
    /// KuCoin): a strong one, generated before the create is sent.
    pub passphrase: Option<Secret>,
}

/// A key just created. The exchange shows its secret once, in this reply.
#[derive(Clone, Debug)]
pub struct NewKey {
    pub api_key: String,
    pub api_secret: Secret,
    pub passphrase: Option<Secret>,
    /// The sub account holding it, as the delete call names it.
    pub account: String,
    pub created_at_ms: Option<i64>,
}

/// A described key and the reply that carried it.
#[derive(Clone, Debug)]
pub struct Described {
    pub shape: KeyShape,
    pub reply: Reply,
}

/// A created key and the reply that carried it.
#[derive(Clone, Debug)]
pub struct Created {
    pub key: NewKey,
    pub reply: Reply,
}

/// The entry for `api_key` in a listing's array of keys (`items`), whose
/// key id is in field `id_field`; a listing of sub account `account` that
/// holds no such key says the key is gone (dead, or not under that
/// account).
pub fn listed_key<'a>(
    items: &'a serde_json::Value,
    id_field: &str,
    api_key: &str,
    account: &str,
    meta: &crate::error::ReplyMeta,
) -> Result<&'a serde_json::Value, crate::error::Failure> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k[id_field].as_str() == Some(api_key))
        .ok_or_else(|| {
            crate::error::Failure::new(
                crate::error::ConnectorError::KeyDead(format!(
                    "sub account {account} lists no such key"
                )),
                meta.clone(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_key_is_found_by_its_id_and_a_missing_one_is_dead() {
        let items = json!([{"apiKey": "A", "n": 1}, {"apiKey": "B", "n": 2}]);
        let meta = crate::error::ReplyMeta::default();
        assert_eq!(
            listed_key(&items, "apiKey", "B", "s1", &meta).unwrap()["n"],
            2
        );
        let dead = listed_key(&items, "apiKey", "C", "s1", &meta).unwrap_err();
        assert!(matches!(
            dead.error,
            crate::error::ConnectorError::KeyDead(_)
        ));
        assert!(listed_key(&json!(null), "apiKey", "A", "s1", &meta).is_err());
    }
}
