//! Discovery: the main account lists its sub accounts (`GET
//! /api/v4/sub_accounts`, all in one reply), then each one's keys (`GET
//! /api/v4/sub_accounts/{user_id}/keys`, all in one reply). See
//! `endpoints.rs` for the sources.

use crate::endpoints::{self, LIST_SUB_ACCOUNTS, LIST_SUB_KEYS};
use crate::{Caller, GateConnector};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl GateConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        let unsupported = |why: &str| Failure::local(ConnectorError::Unsupported(why.into()));
        if cred.role != CredentialRole::Master {
            return Err(unsupported(
                "Gate's sub accounts are listed by the main account",
            ));
        }
        let main = Caller::credential(cred);
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => {
                let answer = self
                    .call(&main, &LIST_SUB_ACCOUNTS, LIST_SUB_ACCOUNTS.path, None)
                    .await?;
                Ok(Page {
                    keys: Vec::new(),
                    accounts: user_ids(&answer.body),
                    next: None,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, Some(user_id)) => {
                let path = endpoints::path(&LIST_SUB_KEYS, user_id, "");
                let answer = self.call(&main, &LIST_SUB_KEYS, &path, None).await?;
                Ok(Page {
                    keys: found_keys(&answer.body, user_id),
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

/// `[{user_id, login_name, …}]`: the sub accounts' user ids (a number in
/// the SDK's model; read from a string too).
fn user_ids(body: &Value) -> Vec<String> {
    body.as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| match &a["user_id"] {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// `[SubAccountKey]`: `name` is the key's name.
fn found_keys(body: &Value, user_id: &str) -> Vec<FoundKey> {
    body.as_array()
        .into_iter()
        .flatten()
        .filter_map(FoundKey::reader(user_id, "key", "name"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sub_accounts_and_keys_are_read_from_the_sdk_models() {
        let accounts = json!([{"user_id": 610001, "login_name": "a"}, {"user_id": "610002"}, {"remark": "no id"}]);
        assert_eq!(user_ids(&accounts), vec!["610001", "610002"]);
        let keys = found_keys(
            &json!([{"key": "k1", "name": "bot"}, {"key": "k2", "name": ""}]),
            "610001",
        );
        assert_eq!(keys[0].label.as_deref(), Some("bot"));
        assert_eq!(keys[1].label, None);
        assert_eq!(keys[0].account, "610001");
    }
}
