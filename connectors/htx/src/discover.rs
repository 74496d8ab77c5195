//! Discovery: the parent user lists its sub users (`GET
//! /v2/sub-user/user-list`, continued from `nextId` as `fromId`), then
//! each one's keys (`GET /v2/user/api-key?uid=`, every key of the UID
//! when no `accessKey` is given). See `endpoints.rs` for the sources.

use crate::endpoints::{LIST_SUB_USERS, QUERY_KEYS};
use crate::{Caller, HtxConnector};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl HtxConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        let unsupported = |why: &str| Failure::local(ConnectorError::Unsupported(why.into()));
        if cred.role != CredentialRole::Master {
            return Err(unsupported("HTX's sub users are listed by the parent user"));
        }
        let parent = Caller::credential(cred);
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => {
                let params: Vec<(&str, String)> = request
                    .cursor
                    .iter()
                    .map(|from| ("fromId", from.clone()))
                    .collect();
                let answer = self.call(&parent, &LIST_SUB_USERS, &params, None).await?;
                Ok(Page {
                    keys: Vec::new(),
                    accounts: uids(&answer.body),
                    next: next_id(&answer.next_id),
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, Some(uid)) => {
                let params = [("uid", uid.to_string())];
                let answer = self.call(&parent, &QUERY_KEYS, &params, None).await?;
                Ok(Page {
                    keys: found_keys(&answer.body, uid),
                    accounts: Vec::new(),
                    next: None,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, None) => {
                Err(unsupported("a key listing names its sub user"))
            }
        }
    }
}

/// `nextId`, "only returned when there is a next page": a number.
fn next_id(next: &Value) -> Option<String> {
    match next {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// `[{uid, userState}]`: the sub users' UIDs, locked ones included (their
/// keys stay valid once unlocked).
fn uids(data: &Value) -> Vec<String> {
    data.as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| match &u["uid"] {
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// `[{accessKey, note, permission, …}]`: `note` is the key's name.
fn found_keys(data: &Value, uid: &str) -> Vec<FoundKey> {
    data.as_array()
        .into_iter()
        .flatten()
        .filter_map(FoundKey::reader(uid, "accessKey", "note"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sub_users_their_next_page_and_keys_are_read_from_the_docs_replies() {
        let users = json!([{"uid": 63628520, "userState": "normal"}, {"uid": "132208121", "userState": "lock"}, {"userState": "normal"}]);
        assert_eq!(uids(&users), vec!["63628520", "132208121"]);
        assert_eq!(next_id(&json!(132208122)), Some("132208122".into()));
        assert_eq!(next_id(&Value::Null), None);
        let keys = found_keys(
            &json!([{"accessKey": "k1", "note": "bot"}, {"accessKey": "k2", "note": ""}]),
            "63628520",
        );
        assert_eq!(keys[0].label.as_deref(), Some("bot"));
        assert_eq!(keys[1].label, None);
        assert_eq!(keys[0].account, "63628520");
    }
}
