//! Discovery: a master credential lists its sub accounts, then each sub
//! account's keys, one page per call (see `endpoints.rs` for the sources).
//! Binance numbers pages: the cursor is the next page's number.

use crate::BinanceConnector;
use crate::endpoints::{self, QUERY_SUB_KEYS, SUB_ACCOUNT_LIST};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl BinanceConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        if cred.role == CredentialRole::Broker {
            return Err(Failure::local(ConnectorError::Unsupported(
                "listing a broker's sub accounts is not supported yet: list its keys in an inventory and run `revoke`".into(),
            )));
        }
        let page_number: u64 = match &request.cursor {
            None => 1,
            Some(c) => c.parse().map_err(|_| {
                Failure::local(ConnectorError::Unsupported(format!(
                    "`{c}` is not a Binance page number"
                )))
            })?,
        };
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => self.sub_accounts_page(cred, page_number).await,
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
            .filter_map(|r| {
                Some(FoundKey {
                    api_key: r["apikey"].as_str()?.to_string(),
                    account: email.to_string(),
                    label: r["apiName"]
                        .as_str()
                        .filter(|n| !n.is_empty())
                        .map(str::to_string),
                })
            })
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

/// The array under the first of `names` present (the SDK's models name the
/// key listing's array `rows`, a later one `list`).
fn rows<'a>(body: &'a Value, names: &[&str]) -> &'a [Value] {
    names
        .iter()
        .find_map(|n| body.get(*n).and_then(Value::as_array))
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
