//! Discovery: a master lists its sub-accounts (`users/subaccount/list`,
//! newest first, continued `after` the last creation time shown), then each
//! sub-account's keys (the sub-key query without `apiKey`, one reply for
//! all of them); an ND broker lists its sub-accounts by page number
//! (`broker/nd/subaccount-info`) and their keys with its own sub-key query.
//! One page per call (see `endpoints.rs` for the sources).

use crate::endpoints::{self, Manager};
use crate::{OkxConnector, manager_of};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{ConnectorError, Credential, Failure, Secret};
use serde_json::Value;

impl OkxConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        let Some(passphrase) = cred.passphrase.as_ref().filter(|p| !p.is_empty()) else {
            return Err(Failure::local(ConnectorError::Unsupported(format!(
                "credential `{}` has no passphrase, which OKX requires on every private call",
                cred.name
            ))));
        };
        let manager = manager_of(cred.role);
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => {
                let query = endpoints::sub_account_list_query(manager, request.cursor.as_deref());
                let answer = self
                    .call_as(cred, passphrase, manager.list_endpoint(), &query)
                    .await?;
                let (accounts, next) = match manager {
                    Manager::Master => master_page(&answer.data, request.cursor.as_deref()),
                    Manager::Broker => broker_page(&answer.data),
                };
                Ok(Page {
                    keys: Vec::new(),
                    accounts,
                    next,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, Some(sub_acct)) => {
                let query = endpoints::sub_keys_query(sub_acct);
                let answer = self
                    .call_as(cred, passphrase, manager.query_endpoint(), &query)
                    .await?;
                Ok(Page {
                    keys: found_keys(&answer.data, sub_acct),
                    accounts: Vec::new(),
                    next: None,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, None) => Err(Failure::local(ConnectorError::Unsupported(
                "a key listing names its sub-account".into(),
            ))),
        }
    }

    async fn call_as(
        &self,
        cred: &Credential,
        passphrase: &Secret,
        endpoint: &keyrevoke_core::endpoint::Endpoint,
        query: &str,
    ) -> Result<crate::errors::Answer, Failure> {
        let signer = crate::sign::Signer {
            api_key: &cred.api_key,
            secret: &cred.api_secret,
            passphrase,
        };
        self.call(
            signer,
            keyrevoke_core::error::SignedBy::ManagingCredential,
            endpoint,
            query,
            None,
        )
        .await
    }
}

fn rows(data: &Value) -> &[Value] {
    data.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// A master's page: its sub-accounts, and the creation time to continue
/// `after` while the page was full. No two sub-accounts of one master share
/// a creation millisecond (create-subaccount is limited to 1 request per
/// second per User ID), so "earlier than the last one shown" skips none.
fn master_page(data: &Value, asked_after: Option<&str>) -> (Vec<String>, Option<String>) {
    let listed = rows(data);
    let accounts = listed
        .iter()
        .filter_map(|a| a["subAcct"].as_str().map(str::to_string))
        .collect();
    let full = listed.len() >= endpoints::SUB_ACCOUNT_PAGE_SIZE as usize;
    let next = listed
        .last()
        .and_then(|a| text(&a["ts"]))
        .filter(|_| full)
        // The same cursor again would list the same page forever.
        .filter(|ts| Some(ts.as_str()) != asked_after);
    (accounts, next)
}

/// A broker's page: `data[0]` with `page`, `totalPage` and `details`.
fn broker_page(data: &Value) -> (Vec<String>, Option<String>) {
    let info = &data[0];
    let accounts = rows(&info["details"])
        .iter()
        .filter_map(|a| a["subAcct"].as_str().map(str::to_string))
        .collect();
    let number = |v: &Value| text(v).and_then(|t| t.parse::<u64>().ok());
    let next = match (number(&info["page"]), number(&info["totalPage"])) {
        (Some(page), Some(total)) if page < total => Some((page + 1).to_string()),
        _ => None,
    };
    (accounts, next)
}

/// The sub-key query's keys: `apiKey`, and `label` as the key's name.
fn found_keys(data: &Value, sub_acct: &str) -> Vec<FoundKey> {
    rows(data)
        .iter()
        .filter_map(FoundKey::reader(sub_acct, "apiKey", "label"))
        .collect()
}

/// OKX sends numbers as strings; accept either.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_master_page_continues_after_its_oldest_sub_account() {
        let full: Vec<Value> = (0..100)
            .map(|i| json!({"subAcct": format!("sub{i}"), "ts": (2000 - i).to_string()}))
            .collect();
        let (accounts, next) = master_page(&Value::Array(full.clone()), None);
        assert_eq!(accounts.len(), 100);
        assert_eq!(next.as_deref(), Some("1901"));
        // A short page is the last; a cursor that does not move ends too.
        let (_, next) = master_page(&Value::Array(full[..99].to_vec()), None);
        assert_eq!(next, None);
        let (_, next) = master_page(&Value::Array(full), Some("1901"));
        assert_eq!(next, None);
    }

    #[test]
    fn a_broker_page_continues_until_the_last_page() {
        let page = |p: &str, total: Value| json!([{"page": p, "totalPage": total, "details": [{"subAcct": "nd1"}]}]);
        assert_eq!(
            broker_page(&page("1", json!("3"))),
            (vec!["nd1".to_string()], Some("2".to_string()))
        );
        assert_eq!(broker_page(&page("3", json!(3))).1, None);
    }

    #[test]
    fn listed_keys_carry_their_sub_account_and_label() {
        let keys = found_keys(
            &json!([{"apiKey": "k1", "label": "bot"}, {"apiKey": "k2", "label": ""}]),
            "sub1",
        );
        assert_eq!(keys[0].label.as_deref(), Some("bot"));
        assert_eq!(keys[1].label, None);
        assert!(keys.iter().all(|k| k.account == "sub1"));
    }
}
