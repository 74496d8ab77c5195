//! Discovery: a master key lists its sub UIDs (`query-sub-members`, all of
//! them in one reply, up to 10,000; beyond, the paged `submembers`), then
//! each sub UID's keys (`sub-apikeys`, cursor paged), one page per call
//! (see `endpoints.rs` for the sources).

use crate::{BybitConnector, Caller, endpoints};
use keyrevoke_core::discovery::{FoundKey, ListKind, Page, PageRequest};
use keyrevoke_core::{ConnectorError, Credential, CredentialRole, Failure};
use serde_json::Value;

impl BybitConnector {
    pub(crate) async fn discover_page(
        &self,
        cred: &Credential,
        request: &PageRequest,
    ) -> Result<Page, Failure> {
        if cred.role == CredentialRole::Broker {
            return Err(Failure::local(ConnectorError::Unsupported(
                "Bybit keys are listed by master keys, not broker credentials".into(),
            )));
        }
        let caller = Caller::credential(cred);
        match (request.kind, request.account.as_deref()) {
            (ListKind::SubAccounts, _) => match request.cursor.as_deref() {
                None => self.all_sub_members(&caller).await,
                Some(c) => {
                    let Some(next_cursor) = c.strip_prefix(PAGED) else {
                        return Err(Failure::local(ConnectorError::Unsupported(format!(
                            "`{c}` is not a Bybit sub UID cursor"
                        ))));
                    };
                    self.sub_members_page(&caller, next_cursor).await
                }
            },
            (ListKind::SubAccountKeys, Some(uid)) => {
                let query = endpoints::list_sub_keys_query(uid, request.cursor.as_deref());
                let answer = self
                    .call(&caller, &endpoints::LIST_SUB_KEYS, &query, None)
                    .await?;
                let listed = array(&answer.result, "result");
                let keys = listed
                    .iter()
                    .filter_map(FoundKey::reader(uid, "apiKey", "note"))
                    .collect();
                // An empty cursor, or an empty page, ends the listing; a
                // cursor equal to the one asked for would loop forever.
                let next = answer.result["nextPageCursor"]
                    .as_str()
                    .filter(|c| !c.is_empty() && !listed.is_empty())
                    .filter(|c| Some(*c) != request.cursor.as_deref())
                    .map(str::to_string);
                Ok(Page {
                    keys,
                    accounts: Vec::new(),
                    next,
                    reply: answer.reply,
                })
            }
            (ListKind::SubAccountKeys, None) => Err(Failure::local(ConnectorError::Unsupported(
                "a key listing names its sub UID".into(),
            ))),
        }
    }
}

/// The cursor of the paged sub UID list: `paged:` then `nextCursor` (empty
/// for its first page).
const PAGED: &str = "paged:";

impl BybitConnector {
    /// `query-sub-members`: every sub UID in one reply, unless the master
    /// has the 10,000 it returns at most: then none of them, and the paged
    /// list from its start, so that no sub UID is listed twice or lost.
    async fn all_sub_members(&self, caller: &Caller<'_>) -> Result<Page, Failure> {
        let answer = self
            .call(caller, &endpoints::LIST_SUB_MEMBERS, "", None)
            .await?;
        let accounts = uids(&answer.result);
        if accounts.len() >= endpoints::SUB_MEMBERS_CAP {
            return Ok(Page {
                keys: Vec::new(),
                accounts: Vec::new(),
                next: Some(PAGED.to_string()),
                reply: answer.reply,
            });
        }
        Ok(Page {
            keys: Vec::new(),
            accounts,
            next: None,
            reply: answer.reply,
        })
    }

    /// One page of `submembers`; `nextCursor` "0" (or none) ends it.
    async fn sub_members_page(
        &self,
        caller: &Caller<'_>,
        next_cursor: &str,
    ) -> Result<Page, Failure> {
        let query = endpoints::sub_members_page_query(Some(next_cursor));
        let answer = self
            .call(caller, &endpoints::LIST_SUB_MEMBERS_PAGED, &query, None)
            .await?;
        let next = answer.result["nextCursor"]
            .as_str()
            .filter(|c| !c.is_empty() && *c != "0" && *c != next_cursor)
            .map(|c| format!("{PAGED}{c}"));
        Ok(Page {
            keys: Vec::new(),
            accounts: uids(&answer.result),
            next,
            reply: answer.reply,
        })
    }
}

fn uids(result: &Value) -> Vec<String> {
    array(result, "subMembers")
        .iter()
        .filter_map(|m| m["uid"].as_str().map(str::to_string))
        .collect()
}

fn array<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
