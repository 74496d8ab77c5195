//! Discovery: the main account lists its virtual sub accounts (`GET
//! /api/v2/user/virtual-subaccount-list`, 100 a page, continued with
//! `idLessThan` = the page's `endId`), then each one's keys (`GET
//! /api/v2/user/virtual-subaccount-apikey-list`, all in one reply). See
//! `endpoints.rs` for the sources.

use crate::endpoints::{self, LIST_VIRTUAL_SUB_ACCOUNTS, LIST_VIRTUAL_SUB_KEYS};
use crate::{BitgetConnector, Signing, unsupported};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{Credential, CredentialRole, Failure};
use serde_json::Value;

impl BitgetConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        if cred.role != CredentialRole::Master {
            return Err(unsupported(
                "Bitget's virtual sub accounts are listed by the main account",
            ));
        }
        let Some(main) = Signing::credential(cred) else {
            return Err(unsupported(format!(
                "credential `{}` has no passphrase, which Bitget requires on every private call",
                cred.name
            )));
        };
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => {
                let query = endpoints::sub_accounts_query(request.cursor.as_deref());
                let answer = self
                    .call(&main, &LIST_VIRTUAL_SUB_ACCOUNTS, &query, None)
                    .await?;
                let listed = answer.data["subAccountList"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                Ok(Page {
                    keys: Vec::new(),
                    accounts: sub_uids(listed),
                    next: next_cursor(&answer.data, listed.len()),
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, Some(uid)) => {
                let query = endpoints::sub_keys_query(uid);
                let answer = self
                    .call(&main, &LIST_VIRTUAL_SUB_KEYS, &query, None)
                    .await?;
                Ok(Page {
                    keys: found_keys(&answer.data, uid),
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

/// The sub accounts' UIDs, those deleted (`status` `del`) left out: they
/// hold no key.
fn sub_uids(listed: &[Value]) -> Vec<String> {
    listed
        .iter()
        .filter(|a| a["status"].as_str() != Some("del"))
        .filter_map(|a| a["subAccountUid"].as_str().filter(|u| !u.is_empty()))
        .map(str::to_string)
        .collect()
}

/// A full page may have a next one, from its `endId` (a number in the
/// docs' example; read from a string too); a shorter page is the last.
fn next_cursor(data: &Value, listed: usize) -> Option<String> {
    if listed < endpoints::SUB_ACCOUNTS_PER_PAGE {
        return None;
    }
    match &data["endId"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// `[{subAccountApiKey, label, …}]`: `label` is the key's note.
fn found_keys(data: &Value, uid: &str) -> Vec<FoundKey> {
    data.as_array()
        .into_iter()
        .flatten()
        .filter_map(FoundKey::reader(uid, "subAccountApiKey", "label"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sub_accounts_and_keys_are_read_from_the_documented_replies() {
        let listed = json!([
            {"subAccountUid": "610001", "status": "normal"},
            {"subAccountUid": "610002", "status": "freeze"},
            {"subAccountUid": "610003", "status": "del"},
            {"label": "no uid"}
        ]);
        assert_eq!(
            sub_uids(listed.as_array().unwrap()),
            vec!["610001", "610002"],
            "a frozen sub account's keys are still listed"
        );
        let keys = found_keys(
            &json!([{"subAccountApiKey": "k1", "label": "bot"}, {"subAccountApiKey": "k2", "label": ""}]),
            "610001",
        );
        assert_eq!(keys[0].label.as_deref(), Some("bot"));
        assert_eq!(keys[1].label, None);
        assert_eq!(keys[0].account, "610001");
    }

    #[test]
    fn only_a_full_page_continues_from_its_end_id() {
        let data = json!({"endId": 51});
        assert_eq!(
            next_cursor(&data, endpoints::SUB_ACCOUNTS_PER_PAGE),
            Some("51".into())
        );
        assert_eq!(next_cursor(&data, 3), None);
        assert_eq!(
            next_cursor(&json!({"endId": "7"}), endpoints::SUB_ACCOUNTS_PER_PAGE),
            Some("7".into())
        );
    }
}
