//! Rotation: the master reads a sub key's shape from its sub UID's key
//! listing, creates the replacement with `create-sub-api`, and the new key
//! tests itself with `query-api` (see `endpoints.rs` for the sources).
//!
//! Permissions travel as `Group.Name` (`ContractTrade.Order`,
//! `Wallet.AccountTransfer`): the listing reports them by group and the
//! create call takes them back by group.

use crate::{BybitConnector, Caller, endpoints};
use keyrevoke_core::rotation::{CreateKey, Created, Described, KeyShape, NewKey};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure, Reply, Secret};
use serde_json::{Map, Value, json};

/// Groups `create-sub-api` does not take: Derivatives is deprecated ("the
/// system will automatically add this permission according to your account
/// is UTA or Classic"); BlockTrade, NFT and Affiliate are "not applicable
/// to sub account" (create-subuid-apikey.mdx, list-sub-apikeys.mdx).
const NOT_CREATABLE_GROUPS: [&str; 4] = ["Derivatives", "BlockTrade", "NFT", "Affiliate"];

impl BybitConnector {
    fn master_caller<'a>(cred: &'a Credential) -> Result<Caller<'a>, Failure> {
        if cred.role == CredentialRole::Broker {
            return Err(Failure::local(ConnectorError::Unsupported(
                "Bybit sub keys are created by master keys, not broker credentials".into(),
            )));
        }
        Ok(Caller::credential(cred))
    }

    /// One page of the largest size of `sub-apikeys`: a sub UID holds no
    /// more than one page of keys in practice, and a key beyond it is
    /// reported as such rather than read from a second, unpaced call.
    pub(crate) async fn describe_sub_key(
        &self,
        cred: &Credential,
        sub_uid: &str,
        api_key: &str,
    ) -> Result<Described, Failure> {
        let caller = Self::master_caller(cred)?;
        let query = endpoints::list_sub_keys_query(sub_uid, None);
        let answer = self
            .call(&caller, &endpoints::LIST_SUB_KEYS, &query, None)
            .await?;
        let listed = answer.result["result"].as_array();
        let found = listed
            .into_iter()
            .flatten()
            .find(|k| k["apiKey"].as_str() == Some(api_key));
        match found {
            Some(k) => Ok(Described {
                shape: shape_of(k),
                reply: answer.reply,
            }),
            None if answer.result["nextPageCursor"]
                .as_str()
                .is_some_and(|c| !c.is_empty()) =>
            {
                Err(Failure::new(
                    ConnectorError::Permanent {
                        code: "not_on_first_page".into(),
                        message: format!(
                            "the key is not among the first {} keys of sub UID {sub_uid}",
                            endpoints::LIST_PAGE_SIZE
                        ),
                    },
                    answer.reply.meta,
                ))
            }
            None => Err(Failure::new(
                ConnectorError::KeyDead(format!(
                    "sub UID {sub_uid} lists no such key (deleted, or not its key)"
                )),
                answer.reply.meta,
            )),
        }
    }

    pub(crate) async fn create_sub_key(
        &self,
        cred: &Credential,
        req: &CreateKey,
    ) -> Result<Created, Failure> {
        let caller = Self::master_caller(cred)?;
        let body = create_body(req)?;
        let answer = self
            .call(&caller, &endpoints::CREATE_SUB_KEY, "", Some(&body))
            .await?;
        let field = |name: &str| {
            answer.result[name]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let (Some(api_key), Some(secret)) = (field("apiKey"), field("secret")) else {
            // Accepted, yet without the key: it may exist, found again by
            // its note.
            return Err(Failure::new(
                ConnectorError::OutcomeUnknown(
                    "create-sub-api accepted but its reply holds no apiKey and secret".into(),
                ),
                answer.reply.meta,
            ));
        };
        Ok(Created {
            key: NewKey {
                api_key,
                api_secret: Secret::from(secret.as_str()),
                passphrase: None,
                account: req.account.clone(),
                // The reply carries no time; the listing shows `createdAt`.
                created_at_ms: None,
            },
            reply: answer.reply,
        })
    }

    pub(crate) async fn test_new_key(&self, key: &NewKey) -> Result<Reply, Failure> {
        let caller = Caller::new_key(key);
        let answer = self.call(&caller, &endpoints::QUERY_KEY, "", None).await?;
        Ok(answer.reply)
    }
}

/// A listed key's shape: its permissions as `Group.Name`, sorted; `ips`
/// without the unbound `*`; `createdAt` (`2023-08-25T06:42:39Z`).
pub fn shape_of(listed: &Value) -> KeyShape {
    let mut permissions: Vec<String> = listed["permissions"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(group, names)| {
            names
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(move |n| format!("{group}.{n}"))
        })
        .collect();
    permissions.sort();
    let ips = listed["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|ip| *ip != "*" && !ip.is_empty())
        .map(str::to_string)
        .collect();
    KeyShape {
        permissions,
        ips,
        read_only: listed["readOnly"].as_bool().unwrap_or(false),
        created_at_ms: listed["createdAt"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis()),
        label: listed["note"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map(str::to_string),
    }
}

/// `create-sub-api`'s body: the sub UID as an integer, the permissions
/// regrouped, the label as `note`, the IPs comma-separated (omitted:
/// unbound).
pub fn create_body(req: &CreateKey) -> Result<String, Failure> {
    let sub_uid: u64 = req.account.parse().map_err(|_| {
        Failure::local(ConnectorError::Permanent {
            code: "bad_account".into(),
            message: format!("a Bybit sub UID is a number, not `{}`", req.account),
        })
    })?;
    let mut groups = Map::new();
    for permission in &req.shape.permissions {
        let Some((group, name)) = permission.split_once('.') else {
            return Err(Failure::local(ConnectorError::Permanent {
                code: "bad_permission".into(),
                message: format!("`{permission}` is not a Bybit `Group.Name` permission"),
            }));
        };
        if NOT_CREATABLE_GROUPS.contains(&group) {
            continue;
        }
        if let Value::Array(names) = groups
            .entry(group.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            names.push(json!(name));
        }
    }
    let mut body = json!({
        "subuid": sub_uid,
        "note": req.label,
        "readOnly": if req.shape.read_only { 1 } else { 0 },
        "permissions": groups,
    });
    if !req.shape.ips.is_empty() {
        body["ips"] = json!(req.shape.ips.join(","));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The listing entry of list-sub-apikeys.mdx's response example.
    fn documented_listing_entry() -> Value {
        json!({
            "id": "24828209",
            "ips": ["*"],
            "apiKey": "XXXXXX",
            "note": "UTA",
            "status": 3,
            "expiredAt": "2023-12-01T02:36:06Z",
            "createdAt": "2023-08-25T06:42:39Z",
            "type": 1,
            "permissions": {
                "ContractTrade": ["Order", "Position"],
                "Spot": ["SpotTrade"],
                "Wallet": ["AccountTransfer", "SubMemberTransferList"],
                "Options": ["OptionsTrade"],
                "Derivatives": ["DerivativesTrade"],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": ["ExchangeHistory"],
                "NFT": [],
                "Affiliate": [],
                "Earn": []
            },
            "secret": "******",
            "readOnly": false,
            "deadlineDay": 21,
            "flag": "hmac"
        })
    }

    #[test]
    fn the_documented_listing_entry_reads_as_its_shape() {
        let shape = shape_of(&documented_listing_entry());
        assert_eq!(
            shape.permissions,
            [
                "ContractTrade.Order",
                "ContractTrade.Position",
                "Derivatives.DerivativesTrade",
                "Exchange.ExchangeHistory",
                "Options.OptionsTrade",
                "Spot.SpotTrade",
                "Wallet.AccountTransfer",
                "Wallet.SubMemberTransferList",
            ]
        );
        assert!(shape.ips.is_empty(), "`*` is unbound: {:?}", shape.ips);
        assert!(!shape.read_only);
        assert_eq!(shape.label.as_deref(), Some("UTA"));
        // 2023-08-25T06:42:39Z
        assert_eq!(shape.created_at_ms, Some(1_692_945_759_000));
    }

    #[test]
    fn a_described_shape_is_created_back_by_group_as_documented() {
        let mut shape = shape_of(&documented_listing_entry());
        shape.ips = vec!["192.168.0.1".into(), "192.168.0.2".into()];
        let body = create_body(&CreateKey {
            account: "53888000".into(),
            shape,
            label: "testxxx".into(),
            passphrase: None,
        })
        .expect("a sub UID and Group.Name permissions");
        let body: Value = serde_json::from_str(&body).unwrap();
        // The request example's fields and types (create-subuid-apikey.mdx):
        // an integer sub UID, readOnly 0/1, permissions by group, and
        // `ips` as one comma-separated string.
        assert_eq!(body["subuid"], json!(53888000));
        assert_eq!(body["note"], json!("testxxx"));
        assert_eq!(body["readOnly"], json!(0));
        assert_eq!(body["ips"], json!("192.168.0.1,192.168.0.2"));
        assert_eq!(
            body["permissions"],
            json!({
                "ContractTrade": ["Order", "Position"],
                "Exchange": ["ExchangeHistory"],
                "Options": ["OptionsTrade"],
                "Spot": ["SpotTrade"],
                "Wallet": ["AccountTransfer", "SubMemberTransferList"],
            }),
            "Derivatives is deprecated in create: the exchange adds it"
        );
    }

    #[test]
    fn an_unbound_key_is_created_without_ips_and_a_bad_uid_is_refused_locally() {
        let req = |account: &str| CreateKey {
            account: account.into(),
            shape: KeyShape {
                permissions: vec!["Spot.SpotTrade".into()],
                read_only: true,
                ..KeyShape::default()
            },
            label: "bot-17".into(),
            passphrase: None,
        };
        let body: Value = serde_json::from_str(&create_body(&req("100400345")).unwrap()).unwrap();
        assert!(body.get("ips").is_none(), "{body}");
        assert_eq!(body["readOnly"], json!(1));
        let refused = create_body(&req("sub-one")).unwrap_err();
        assert!(refused.to_string().contains("sub UID"), "{refused}");
    }
}
