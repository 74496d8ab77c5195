//! OKX's sub-account lists, as the docs describe them:
//! - `GET /api/v5/users/subaccount/list` (#sub-account-rest-api-get-sub-account-list):
//!   master only; `after` / `before` are sub-account creation times (Unix
//!   ms; "earlier than" / "newer than"), `limit` at most 100 (default 100);
//!   newest first; each entry `subAcct`, `uid`, `label`, `ts`, `enable`,
//!   `type`;
//! - `GET /api/v5/broker/nd/subaccount-info` (python-okx `okx/NDBroker.py`):
//!   an ND broker's sub-accounts, `page` (from 1) and `limit` (at most 100),
//!   answered as `[{"page","totalPage","details":[…]}]`.
//!
//! Both: 2 requests per 2 seconds per User ID (the stricter of the docs'
//! copies). A sub-account exists while any key, live or deleted, names it;
//! its creation time is derived from its UID so that UIDs handed out later
//! are newer, as on the exchange.

use super::okx::{Family, is_broker};
use crate::ExchangeSim;
use crate::keys::SimKey;
use crate::stats::Stats;
use serde_json::{Value, json};

pub const LIST_PER_2S: u32 = 2;
const MAX_LIMIT: usize = 100;

/// One sub-account as the lists show it.
struct SubAccount {
    name: String,
    uid: String,
    ts: i64,
}

/// A creation time per sub UID: later UIDs are newer.
fn created_at(uid: &str) -> i64 {
    let n = uid.parse::<i64>().unwrap_or_else(|_| {
        uid.bytes()
            .fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b)))
            .rem_euclid(1 << 30)
    });
    1_600_000_000_000 + n * 1000
}

/// The caller's sub-accounts, newest first.
fn sub_accounts(sim: &ExchangeSim, caller: &SimKey) -> Vec<SubAccount> {
    let mut subs: Vec<SubAccount> = sim
        .keys
        .filter(|k| k.parent_uid.as_deref() == Some(caller.uid.as_str()) && k.sub_name.is_some())
        .into_iter()
        .map(|k| SubAccount {
            name: k.sub_name.clone().expect("filtered"),
            ts: created_at(&k.uid),
            uid: k.uid,
        })
        .collect();
    subs.sort_by(|a, b| b.ts.cmp(&a.ts).then_with(|| a.name.cmp(&b.name)));
    subs.dedup_by(|a, b| a.name == b.name);
    subs
}

fn view(s: &SubAccount) -> Value {
    json!({
        "type": "1",
        "enable": true,
        "subAcct": s.name,
        "uid": s.uid,
        "label": "",
        "mobile": "",
        "gAuth": false,
        "canTransOut": true,
        "ts": s.ts.to_string(),
    })
}

type Refusal = (&'static str, String);

fn number<T: std::str::FromStr>(
    pairs: &[(String, String)],
    name: &str,
) -> Result<Option<T>, Refusal> {
    match super::common::form_value(pairs, name) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ("51000", format!("Parameter {name} error"))),
    }
}

/// The page `query` asks for, or OKX's refusal.
pub(super) fn list_sub_accounts(
    sim: &ExchangeSim,
    family: Family,
    caller: &SimKey,
    query: &str,
) -> Result<Value, Refusal> {
    if !caller.is_master() {
        return Err((
            "59500",
            "Only the API key of the main account has permission.".into(),
        ));
    }
    match family {
        Family::Broker if !is_broker(caller) => {
            return Err((
                "59608",
                "Only Broker accounts have permission to access this API.".into(),
            ));
        }
        Family::Users if is_broker(caller) => {
            return Err((
                "59619",
                "This endpoint does not support ND sub accounts. Please use the dedicated endpoint supported for ND brokers.".into(),
            ));
        }
        _ => {}
    }
    let pairs = super::common::form_pairs(query);
    let limit = number::<usize>(&pairs, "limit")?.unwrap_or(MAX_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(("51000", "Parameter limit error".into()));
    }
    Stats::bump(&sim.stats.lists);
    let subs = sub_accounts(sim, caller);
    match family {
        Family::Users => {
            let after = number::<i64>(&pairs, "after")?;
            let before = number::<i64>(&pairs, "before")?;
            let page: Vec<Value> = subs
                .iter()
                .filter(|s| after.is_none_or(|a| s.ts < a) && before.is_none_or(|b| s.ts > b))
                .take(limit)
                .map(view)
                .collect();
            Ok(Value::Array(page))
        }
        Family::Broker => {
            let page = number::<usize>(&pairs, "page")?.unwrap_or(1).max(1);
            let total = subs.len().div_ceil(limit).max(1);
            let details: Vec<Value> = subs
                .iter()
                .skip((page - 1) * limit)
                .take(limit)
                .map(view)
                .collect();
            Ok(json!([{
                "page": page.to_string(),
                "totalPage": total.to_string(),
                "details": details,
            }]))
        }
    }
}
