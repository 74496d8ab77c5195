//! Discovery: the main account lists its sub accounts
//! (`private/get_subaccounts`: the main account first, then each sub
//! account), then each account's keys (`private/list_api_keys` with a
//! token exchanged for that account). See `endpoints.rs` for the sources.
//! The main account is listed too: its own keys are as exposed as its sub
//! accounts'. The credential's own key is left out: `panic` decides about
//! it alone (`--include-self`).

use crate::endpoints::{GET_SUBACCOUNTS, LIST_KEYS};
use crate::{Caller, DeribitConnector, Session};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::sign::Params;
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl DeribitConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        let unsupported = |why: &str| Failure::local(ConnectorError::Unsupported(why.into()));
        if cred.role != CredentialRole::Master {
            return Err(unsupported(
                "Deribit's sub accounts are listed by the main account",
            ));
        }
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => {
                let main = Session::Signed(Caller::credential(cred));
                let answer = self.call(&main, &GET_SUBACCOUNTS, &Params::new()).await?;
                Ok(Page {
                    keys: Vec::new(),
                    accounts: account_ids(&answer.result),
                    next: None,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, Some(account)) => {
                let session = self.session_in(cred, Some(account)).await?;
                let answer = self.call(&session, &LIST_KEYS, &Params::new()).await?;
                Ok(Page {
                    keys: found_keys(&answer.result, account)
                        .into_iter()
                        .filter(|k| k.api_key != cred.api_key)
                        .collect(),
                    accounts: Vec::new(),
                    next: None,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, None) => Err(unsupported("a key listing names its account")),
        }
    }
}

/// `[{id, username, type, …}]`: every account's numeric id.
fn account_ids(result: &Value) -> Vec<String> {
    result
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["id"].as_i64().map(|id| id.to_string()))
        .collect()
}

/// `[{id, client_id, name, …}]`: a key is named by its client id.
fn found_keys(result: &Value, account: &str) -> Vec<FoundKey> {
    result
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(FoundKey::reader(account, "client_id", "name"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accounts_and_keys_are_read_from_the_documented_results() {
        let accounts = json!([
            {"id": 2, "username": "main", "type": "main"},
            {"id": 7, "username": "sub_7", "type": "subaccount"},
            {"username": "no id"}
        ]);
        assert_eq!(account_ids(&accounts), vec!["2", "7"]);
        let keys = found_keys(
            &json!([{"id": 1, "client_id": "TiA4AyLPq3", "name": "bot"}, {"id": 2, "client_id": "aD-KFx-H", "name": ""}]),
            "7",
        );
        assert_eq!(keys[0].api_key, "TiA4AyLPq3");
        assert_eq!(keys[0].label.as_deref(), Some("bot"));
        assert_eq!(keys[1].label, None);
        assert!(keys.iter().all(|k| k.account == "7"));
    }
}
