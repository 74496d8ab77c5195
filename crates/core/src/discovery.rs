//! Discovery: the keys a managing credential can see, listed one page at a
//! time. A connector answers one page per call; the executor paces, retries
//! and audits the calls, and the caller journals each page before asking
//! for the next, so a crash never lists again what was already recorded.

use crate::connector::Reply;
use serde::{Deserialize, Serialize};

/// The two kinds of listing, for rate-limit charges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// The credential's sub accounts.
    SubAccounts,
    /// The keys of one sub account.
    SubAccountKeys,
}

impl ListKind {
    pub const ALL: [ListKind; 2] = [ListKind::SubAccounts, ListKind::SubAccountKeys];
}

/// One page of one listing.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageRequest {
    pub kind: ListKind,
    /// For [`ListKind::SubAccountKeys`]: the sub account, named as the
    /// exchange's delete call names it (Bybit's UID, Binance's email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Where the listing continues (the exchange's cursor or page number);
    /// none for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page of the credential's sub accounts: where discovery starts.
    pub fn start() -> PageRequest {
        PageRequest {
            kind: ListKind::SubAccounts,
            account: None,
            cursor: None,
        }
    }

    /// The first page of one sub account's keys.
    pub fn keys_of(account: &str) -> PageRequest {
        PageRequest {
            kind: ListKind::SubAccountKeys,
            account: Some(account.to_string()),
            cursor: None,
        }
    }

    /// The same listing, from `cursor`.
    pub fn continued(&self, cursor: String) -> PageRequest {
        PageRequest {
            cursor: Some(cursor),
            ..self.clone()
        }
    }

    /// For people and the audit: `sub accounts` or `keys of sub account X`,
    /// with the page's cursor.
    pub fn describe(&self) -> String {
        let what = match (&self.kind, &self.account) {
            (ListKind::SubAccountKeys, Some(a)) => format!("keys of sub account {a}"),
            (ListKind::SubAccountKeys, None) => "keys".to_string(),
            (ListKind::SubAccounts, _) => "sub accounts".to_string(),
        };
        match &self.cursor {
            Some(c) => format!("{what} from cursor {c}"),
            None => what,
        }
    }
}

/// A key found under a credential. No secret: the credential acts on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundKey {
    pub api_key: String,
    /// The sub account holding it, as the delete call names it.
    pub account: String,
    /// The exchange's own name for the key (Bybit `note`, Binance `apiName`).
    pub label: Option<String>,
}

impl FoundKey {
    /// Reads one row of a sub account's key listing: the key from
    /// `key_field`, its name from `label_field` (an empty name is none). A
    /// row naming no key is skipped (`filter_map`).
    pub fn reader<'a>(
        account: &'a str,
        key_field: &'a str,
        label_field: &'a str,
    ) -> impl Fn(&serde_json::Value) -> Option<FoundKey> + 'a {
        move |row| {
            Some(FoundKey {
                api_key: row[key_field].as_str()?.to_string(),
                account: account.to_string(),
                label: row[label_field]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
            })
        }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub keys: Vec<FoundKey>,
    /// Sub accounts found on this page: each one's keys are listed next.
    pub accounts: Vec<String>,
    /// The cursor of the listing's next page; none when it is complete.
    pub next: Option<String>,
    pub reply: Reply,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listing_row_is_read_by_its_key_and_label_fields() {
        let read = FoundKey::reader("sub-1", "apiKey", "note");
        let row = serde_json::json!({"apiKey": "K1", "note": "bot"});
        assert_eq!(
            read(&row),
            Some(FoundKey {
                api_key: "K1".into(),
                account: "sub-1".into(),
                label: Some("bot".into()),
            })
        );
        let unnamed = read(&serde_json::json!({"apiKey": "K2", "note": ""})).unwrap();
        assert_eq!(unnamed.label, None, "an empty name is none");
        assert_eq!(read(&serde_json::json!({"note": "no key"})), None);
    }

    use super::*;

    #[test]
    fn a_page_request_round_trips_through_json_without_empty_fields() {
        let start = PageRequest::start();
        assert_eq!(
            serde_json::to_string(&start).unwrap(),
            r#"{"kind":"sub_accounts"}"#
        );
        let next = PageRequest::keys_of("1001").continued("20".into());
        let text = serde_json::to_string(&next).unwrap();
        assert_eq!(serde_json::from_str::<PageRequest>(&text).unwrap(), next);
        assert_eq!(next.describe(), "keys of sub account 1001 from cursor 20");
    }
}
