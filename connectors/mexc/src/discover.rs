//! Discovery: the master lists its sub accounts (`GET
//! /api/v3/sub-account/list`, by page: `page` from 1, 200 a page, no total,
//! so a full page is followed by the next), then each one's keys (`GET
//! /api/v3/sub-account/apiKey?subAccount=`, all in one reply). See
//! `endpoints.rs` for the sources.

use crate::endpoints::{self, LIST_SUB_ACCOUNTS, LIST_SUB_KEYS, SUB_ACCOUNTS_PER_PAGE};
use crate::{Caller, MexcConnector};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl MexcConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        let unsupported = |why: &str| Failure::local(ConnectorError::Unsupported(why.into()));
        if cred.role != CredentialRole::Master {
            return Err(unsupported(
                "MEXC's sub accounts are listed by the master account",
            ));
        }
        let master = Caller::credential(cred);
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => {
                let page = match request.cursor.as_deref() {
                    None => 1,
                    Some(c) => c
                        .parse::<u32>()
                        .map_err(|_| unsupported("a sub-account page is a number"))?,
                };
                let answer = self
                    .call(
                        &master,
                        &LIST_SUB_ACCOUNTS,
                        &endpoints::list_sub_accounts_params(page),
                    )
                    .await?;
                let accounts = sub_account_names(&answer.body);
                let full = answer.body["subAccounts"]
                    .as_array()
                    .is_some_and(|a| a.len() >= SUB_ACCOUNTS_PER_PAGE as usize);
                Ok(Page {
                    keys: Vec::new(),
                    accounts,
                    next: full.then(|| (page + 1).to_string()),
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, Some(name)) => {
                let answer = self
                    .call(
                        &master,
                        &LIST_SUB_KEYS,
                        &endpoints::list_sub_keys_params(name),
                    )
                    .await?;
                Ok(Page {
                    keys: found_keys(&answer.body, name),
                    accounts: Vec::new(),
                    next: None,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, None) => {
                Err(unsupported("a key listing names its sub account"))
            }
        }
    }
}

/// `{"subAccounts": [{"subAccount", …}]}`: the names the delete call takes.
fn sub_account_names(body: &Value) -> Vec<String> {
    body["subAccounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["subAccount"].as_str().filter(|n| !n.is_empty()))
        .map(str::to_string)
        .collect()
}

/// `{"subAccount": [{"note", "apiKey", …}]}`: `note` is the key's name.
fn found_keys(body: &Value, sub_account: &str) -> Vec<FoundKey> {
    body["subAccount"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(FoundKey::reader(sub_account, "apiKey", "note"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The docs' example replies.
    #[test]
    fn sub_accounts_and_keys_are_read_from_the_documented_replies() {
        let accounts = json!({"subAccounts": [
            {"subAccount": "mexc666", "isFreeze": false, "createTime": 1544433328000i64, "uid": "49910511"},
            {"subAccount": "mexc888", "isFreeze": false, "createTime": 1544433328000i64, "uid": "91921059"},
            {"uid": "no name"}
        ]});
        assert_eq!(sub_account_names(&accounts), vec!["mexc666", "mexc888"]);
        let keys = found_keys(
            &json!({"subAccount": [
                {"note": "v5", "apiKey": "arg13sdfgs", "permissions": "SPOT_ACCOUNT_READ,SPOT_ACCOUNT_WRITE", "ip": "17.25.142.20", "creatTime": 1597026383085i64},
                {"note": "", "apiKey": "k2"}
            ]}),
            "mexc666",
        );
        assert_eq!(keys[0].api_key, "arg13sdfgs");
        assert_eq!(keys[0].label.as_deref(), Some("v5"));
        assert_eq!(keys[1].label, None);
        assert!(keys.iter().all(|k| k.account == "mexc666"));
    }
}
