//! Discovery: a master credential lists its sub accounts, then each sub
//! account's keys, one page per call (see `endpoints.rs` for the sources);
//! a broker credential lists its broker sub accounts (by `subaccountId`,
//! which its delete names) and their keys with the broker's endpoints.
//! Binance numbers pages: the cursor is the next page's number.

use crate::BinanceConnector;
use crate::endpoints::{
    self, BROKER_QUERY_SUB_KEYS, BROKER_SUB_ACCOUNT_LIST, QUERY_SUB_KEYS, SUB_ACCOUNT_LIST,
};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl BinanceConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        let page_number: u64 = match &request.cursor {
            None => 1,
            Some(c) => c.parse().map_err(|_| {
                Failure::local(ConnectorError::Unsupported(format!(
                    "`{c}` is not a Binance page number"
                )))
            })?,
        };
        let broker = cred.role == CredentialRole::Broker;
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) if broker => {
                self.broker_sub_accounts_page(cred, page_number).await
            }
            (ListKind::SubAccounts, _) => self.sub_accounts_page(cred, page_number).await,
            (ListKind::SubAccountKeys, Some(id)) if broker => {
                self.broker_sub_keys_page(cred, id, page_number).await
            }
            (ListKind::SubAccountKeys, Some(email)) => {
                self.sub_keys_page(cred, email, page_number).await
            }
            (ListKind::SubAccountKeys, None) => Err(Failure::local(ConnectorError::Unsupported(
                "a key listing names its sub account".into(),
            ))),
        }
    }

    /// `{"subAccounts": [{"email", …}]}`; no total is given, so a page
    /// shorter than asked is the last.
    async fn sub_accounts_page(&self, cred: &Credential, page: u64) -> Result<Page, Failure> {
        let answer = self
            .call_as(
                cred,
                &SUB_ACCOUNT_LIST,
                &endpoints::sub_account_list_params(page),
            )
            .await?;
        let listed = rows(&answer.body, &["subAccounts"]);
        let accounts: Vec<String> = listed
            .iter()
            .filter_map(|a| a["email"].as_str().map(str::to_string))
            .collect();
        let full = listed.len() as u64 >= u64::from(endpoints::SUB_ACCOUNT_PAGE_SIZE);
        Ok(Page {
            keys: Vec::new(),
            accounts,
            next: full.then(|| (page + 1).to_string()),
            reply: answer.reply,
        })
    }

    /// `{"total", "rows": [{"apikey", "apiName", …}]}`.
    async fn sub_keys_page(
        &self,
        cred: &Credential,
        email: &str,
        page: u64,
    ) -> Result<Page, Failure> {
        let answer = self
            .call_as(
                cred,
                &QUERY_SUB_KEYS,
                &endpoints::list_sub_keys_params(email, page),
            )
            .await?;
        let listed = rows(&answer.body, &["rows", "list"]);
        let keys: Vec<FoundKey> = listed
            .iter()
            .filter_map(FoundKey::reader(email, "apikey", "apiName"))
            .collect();
        let size = u64::from(endpoints::LIST_PAGE_SIZE);
        let more = match answer.body["total"].as_u64() {
            Some(total) => page * size < total,
            None => listed.len() as u64 >= size,
        };
        Ok(Page {
            keys,
            accounts: Vec::new(),
            next: (more && !listed.is_empty()).then(|| (page + 1).to_string()),
            reply: answer.reply,
        })
    }
}

impl BinanceConnector {
    /// `[{"subaccountId", "email", …}]`; a page shorter than asked is the
    /// last (no total is given).
    async fn broker_sub_accounts_page(
        &self,
        cred: &Credential,
        page: u64,
    ) -> Result<Page, Failure> {
        let answer = self
            .call_as(
                cred,
                &BROKER_SUB_ACCOUNT_LIST,
                &endpoints::broker_sub_account_list_params(page),
            )
            .await?;
        let listed = answer.body.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let accounts: Vec<String> = listed
            .iter()
            .filter_map(|a| id(&a["subaccountId"]))
            .collect();
        Ok(Page {
            keys: Vec::new(),
            accounts,
            next: full_page(listed.len(), page),
            reply: answer.reply,
        })
    }

    /// `[{"subaccountId", "apikey", …}]`: no name for the key.
    async fn broker_sub_keys_page(
        &self,
        cred: &Credential,
        sub_account_id: &str,
        page: u64,
    ) -> Result<Page, Failure> {
        let answer = self
            .call_as(
                cred,
                &BROKER_QUERY_SUB_KEYS,
                &endpoints::broker_sub_keys_params(sub_account_id, page),
            )
            .await?;
        let listed = answer.body.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let keys = listed
            .iter()
            .filter_map(|k| {
                Some(FoundKey {
                    api_key: k["apikey"].as_str()?.to_string(),
                    account: sub_account_id.to_string(),
                    label: None,
                })
            })
            .collect();
        Ok(Page {
            keys,
            accounts: Vec::new(),
            next: full_page(listed.len(), page),
            reply: answer.reply,
        })
    }
}

/// The next page's number after a full broker page.
fn full_page(listed: usize, page: u64) -> Option<String> {
    (listed as u64 >= u64::from(endpoints::BROKER_PAGE_SIZE)).then(|| (page + 1).to_string())
}

/// A `subaccountId`, a string in the docs' examples (a number tolerated).
fn id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The array under the first of `names` present (the SDK's models name the
/// key listing's array `rows`, a later one `list`).
fn rows<'a>(body: &'a Value, names: &[&str]) -> &'a [Value] {
    names
        .iter()
        .find_map(|n| body.get(*n).and_then(Value::as_array))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
