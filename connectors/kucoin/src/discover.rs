//! Discovery: a master lists its sub accounts (`GET /api/v2/sub/user`,
//! numbered pages), then each sub account's keys (`GET /api/v1/sub/api-key`
//! with `subName` alone: all of them in one reply). One page per call (see
//! `endpoints.rs` for the sources).
//!
//! The listing shows no passphrase, and KuCoin deletes or modifies a sub
//! key only with it: a discovered key is escalated unless `--inventory`
//! supplies its passphrase (see [`KucoinConnector::escalation_reason`]).

use crate::endpoints::{self, LIST_SUB_ACCOUNTS, LIST_SUB_KEYS};
use crate::{Caller, KucoinConnector};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::error::SignedBy;
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl KucoinConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        let unsupported = |why: String| Failure::local(ConnectorError::Unsupported(why));
        if cred.role != CredentialRole::Master {
            return Err(unsupported(
                "KuCoin's ND-broker listing needs partner credentials keyrevoke cannot carry: list with the master key".into(),
            ));
        }
        let Some(passphrase) = cred.passphrase.as_ref() else {
            return Err(unsupported(format!(
                "credential `{}` has no passphrase; KuCoin signs every private call with it",
                cred.name
            )));
        };
        let master = Caller {
            api_key: &cred.api_key,
            secret: &cred.api_secret,
            passphrase,
            signed_by: SignedBy::ManagingCredential,
        };
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => {
                let page = request.cursor.as_deref().unwrap_or("1");
                let params = endpoints::list_sub_accounts_params(page);
                let params: Vec<(&str, &str)> =
                    params.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let answer = self
                    .call(&master, &LIST_SUB_ACCOUNTS, &params, None)
                    .await?;
                let (accounts, next) = sub_accounts_page(&answer.data);
                Ok(Page {
                    keys: Vec::new(),
                    accounts,
                    next,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, Some(sub_name)) => {
                let answer = self
                    .call(&master, &LIST_SUB_KEYS, &[("subName", sub_name)], None)
                    .await?;
                Ok(Page {
                    keys: found_keys(&answer.data, sub_name),
                    accounts: Vec::new(),
                    next: None,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, None) => {
                Err(unsupported("a key listing names its sub account".into()))
            }
        }
    }
}

/// `{currentPage, totalPage, items: [{subName, …}]}`: the sub accounts,
/// and the next page's number while there is one.
fn sub_accounts_page(data: &Value) -> (Vec<String>, Option<String>) {
    let accounts = data["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["subName"].as_str().map(str::to_string))
        .collect();
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let next = match (number(&data["currentPage"]), number(&data["totalPage"])) {
        (Some(page), Some(total)) if page < total => Some((page + 1).to_string()),
        _ => None,
    };
    (accounts, next)
}

/// `[{subName, remark, apiKey, …}]`: `remark` is the key's name.
fn found_keys(data: &Value, sub_name: &str) -> Vec<FoundKey> {
    data.as_array()
        .into_iter()
        .flatten()
        .filter_map(FoundKey::reader(sub_name, "apiKey", "remark"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_continue_until_the_total_and_keys_carry_their_remark() {
        let page = json!({"currentPage": 1, "pageSize": 100, "totalNum": 101, "totalPage": 2,
            "items": [{"subName": "kc1", "uid": 1}]});
        assert_eq!(
            sub_accounts_page(&page),
            (vec!["kc1".to_string()], Some("2".to_string()))
        );
        let last = json!({"currentPage": 2, "totalPage": 2, "items": []});
        assert_eq!(sub_accounts_page(&last).1, None);
        let keys = found_keys(&json!([{"apiKey": "a", "remark": "bot"}]), "kc1");
        assert_eq!(keys[0].label.as_deref(), Some("bot"));
        assert_eq!(keys[0].account, "kc1");
    }
}
