//! Bitget, as bitget.com/api-doc and the official SDK
//! (BitgetLimited/v3-bitget-api-sdk) document it:
//! - auth (common/signature; the SDK's `utils.py`): headers `ACCESS-KEY`,
//!   `ACCESS-SIGN` = Base64 HMAC-SHA256 of `timestamp + METHOD +
//!   requestPath + ("?" + queryString) + body`, over the path, query and
//!   body exactly as sent; `ACCESS-TIMESTAMP` (Unix ms);
//!   `ACCESS-PASSPHRASE`, the key's passphrase as set at its creation. A
//!   POST with a body is `Content-Type: application/json`.
//! - codes (the REST error-code page; ccxt's bitget table): 40001, 40002,
//!   40003, 40011 a header missing; 40005 invalid ACCESS_TIMESTAMP; 40006
//!   invalid ACCESS_KEY; 40007 invalid Content_Type; 40008 request timestamp
//!   expired; 40009 sign signature error; 40012 apikey/passphrase
//!   incorrect; 40014 incorrect permissions; 40018 invalid IP; 40019 a
//!   parameter cannot be empty; 40037 apikey does not exist. Over a limit:
//!   HTTP 429 "Too Many Requests".
//! - key management (common/vsubaccount; uta/account/sub-account;
//!   uta/broker): only the main account deletes its unified-account sub
//!   keys (`POST /api/v3/user/delete-sub-api` `{"apiKey"}`, with "Unified
//!   account management" read-write: the permission [`UTA_MGT`]); an ND
//!   broker's main account its sub accounts' keys (`POST
//!   /api/v3/broker/delete-sub-apikey` `{"subUid", "apiKey"}`); the main
//!   account, with a key bound to an IP address, lists its virtual sub
//!   accounts and each one's keys, and modifies a sub key: `label` and the
//!   sub key's `passphrase` required, an omitted `ipList` empties the
//!   whitelist, an omitted `permList` keeps the permissions, an empty one
//!   removes them all.
//! - limits (each endpoint's page): per UID per second, each endpoint on
//!   its own: v3 delete 10, broker delete 20, modify 5, key list 5,
//!   sub-account list 1 (the lower of its two pages), account information
//!   1; the public time 20 per IP. No ban is documented: every excess is
//!   a 429.
//! - undocumented, chosen here: every refusal is HTTP 400 with its code
//!   (the 429 excepted); the timestamp window is 30 s either way; a key the
//!   main account (or broker) names that is not its sub key's is 40037; a
//!   sub account that is not the caller's is 40017 "Parameter verification
//!   failed"; a main key that is not IP-bound is refused 40018 by the v2
//!   sub-account calls; a key that is not a main account's is 40014. A
//!   classic account's sub key (marked [`CLASSIC`]) is refused by the v3
//!   delete with 40017.
//!
//! A sub account is numbered (`SimKey::uid`); its keys' permissions are
//! held by their `permList` names; the modify's reply never echoes a
//! secret (the docs show `secretKey`).

use super::common::{self, Answer, Dialect, OverIpLimit, Request, Unrouted};
use crate::ExchangeSim;
use crate::keys::SimKey;
use crate::limits::FixedWindows;
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use keyrevoke_core::ExchangeId;
use keyrevoke_core::sign::hmac_sha256_base64;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const ID: ExchangeId = ExchangeId::new("bitget");

/// The public time: 20 per second per IP (the only public call served;
/// its route in [`CALLS`] says the same).
pub const IP_LIMIT: (u32, Duration) = (20, Duration::from_secs(1));
const SECOND: Duration = Duration::from_secs(1);
/// The largest gap between `ACCESS-TIMESTAMP` and the server's clock.
const MAX_CLOCK_GAP_MS: i64 = 30_000;

/// Simulator permission: "Unified account management" (read-write), which
/// the v3 sub-key calls require of the main key.
pub const UTA_MGT: &str = "uta_mgt";
/// Simulator-only marker (not a Bitget permission, never shown): the key is
/// an ND broker's main key.
pub const ND_BROKER: &str = "nd_broker";
/// Simulator-only marker (never shown): the sub key's account is a classic
/// account, whose keys the v3 delete refuses ("only supports deleting API
/// Keys of sub-accounts under a unified account"); the v2 modify still
/// reaches them.
pub const CLASSIC: &str = "classic_account";
/// The markers above: held with a key's permissions, shown nowhere.
const MARKERS: [&str; 2] = [ND_BROKER, CLASSIC];
/// The `permList` names a sub key may hold (the modify's page, both
/// versions).
pub const PERM_LIST: [&str; 10] = [
    "read",
    "spot_trade",
    "margin_trade",
    "contract_trade",
    "contract_order",
    "contract_position",
    "copytrading_trade",
    "transfer",
    "wallet_transfer",
    "wallet_withdraw",
];
/// A `permList` name and the account-information `authorities` code it
/// reads as (read-write codes; `read` as spot read-only).
const AUTHORITIES: [(&str, &str); 10] = [
    ("read", "stor"),
    ("spot_trade", "stow"),
    ("margin_trade", "smow"),
    ("contract_trade", "coow"),
    ("contract_order", "coow"),
    ("contract_position", "cpow"),
    ("copytrading_trade", "ttow"),
    ("transfer", "wtow"),
    ("wallet_transfer", "wtow"),
    ("wallet_withdraw", "wwow"),
];
const MAX_IPS: usize = 30;
const MAX_LABEL: usize = 20;
const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ServerTime,
    AccountInfo,
    DeleteSubKey,
    BrokerDeleteSubKey,
    ModifySubKey,
    ListSubKeys,
    ListSubAccounts,
}

/// One routed call: its method and path, its documented calls per second
/// (per UID; the public time's per IP), and the tier its usage is metered
/// under.
struct Call {
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    per_second: u32,
    tier: &'static str,
}

const CALLS: [Call; 7] = [
    Call {
        method: "GET",
        path: "/api/v2/public/time",
        endpoint: Endpoint::ServerTime,
        per_second: 20,
        tier: "ip_public_time",
    },
    Call {
        method: "GET",
        path: "/api/v2/spot/account/info",
        endpoint: Endpoint::AccountInfo,
        per_second: 1,
        tier: "uid_account_info",
    },
    Call {
        method: "POST",
        path: "/api/v3/user/delete-sub-api",
        endpoint: Endpoint::DeleteSubKey,
        per_second: 10,
        tier: "uid_sub_key_delete",
    },
    Call {
        method: "POST",
        path: "/api/v3/broker/delete-sub-apikey",
        endpoint: Endpoint::BrokerDeleteSubKey,
        per_second: 20,
        tier: "uid_broker_sub_key_delete",
    },
    Call {
        method: "POST",
        path: "/api/v2/user/modify-virtual-subaccount-apikey",
        endpoint: Endpoint::ModifySubKey,
        per_second: 5,
        tier: "uid_virtual_sub_key_modify",
    },
    Call {
        method: "GET",
        path: "/api/v2/user/virtual-subaccount-apikey-list",
        endpoint: Endpoint::ListSubKeys,
        per_second: 5,
        tier: "uid_virtual_sub_key_list",
    },
    Call {
        method: "GET",
        path: "/api/v2/user/virtual-subaccount-list",
        endpoint: Endpoint::ListSubAccounts,
        per_second: 1,
        tier: "uid_virtual_sub_account_list",
    },
];

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        CALLS
            .iter()
            .find(|r| r.method == method.as_str() && r.path == path)
            .map(|r| r.endpoint)
    }
}

struct Bitget {
    sim: Arc<ExchangeSim>,
    /// Each private endpoint's own window per UID, of its own capacity.
    per_endpoint: Vec<(Endpoint, FixedWindows)>,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    let per_endpoint = CALLS
        .iter()
        .filter(|r| r.endpoint != Endpoint::ServerTime)
        .map(|r| {
            let windows = FixedWindows::new(r.per_second, SECOND, sim.meter(r.tier));
            (r.endpoint, windows)
        })
        .collect();
    common::router(Bitget { sim, per_endpoint })
}

struct Reply {
    status: StatusCode,
    body: Value,
}

fn ok(now: i64, data: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        body: json!({ "code": "00000", "msg": "success", "requestTime": now, "data": data }),
    }
}

fn refuse(code: &str, msg: &str) -> Reply {
    Reply {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "code": code, "msg": msg, "requestTime": keyrevoke_core::http::unix_ms(), "data": null }),
    }
}

fn too_many() -> Reply {
    Reply {
        status: StatusCode::TOO_MANY_REQUESTS,
        body: json!({ "code": "429", "msg": "Too Many Requests", "requestTime": keyrevoke_core::http::unix_ms(), "data": null }),
    }
}

fn empty(name: &str) -> Reply {
    refuse("40019", &format!("Parameter {name} cannot be empty"))
}

fn not_own_sub_account() -> Reply {
    refuse("40017", "Parameter verification failed")
}

fn no_such_key() -> Reply {
    refuse("40037", "Apikey does not exist")
}

fn no_permission() -> Reply {
    refuse("40014", "Incorrect permissions")
}

fn respond(reply: Reply) -> Response {
    Response::builder()
        .status(reply.status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(reply.body.to_string()))
        .expect("valid response")
}

impl Dialect for Bitget {
    type Endpoint = Endpoint;

    fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    fn route(&self, method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
        Endpoint::parse(method, path).ok_or(Unrouted::NotFound)
    }

    fn ip_limited(&self, endpoint: Endpoint) -> bool {
        endpoint == Endpoint::ServerTime
    }

    fn delete_target(&self, endpoint: Endpoint, request: &Request) -> Option<String> {
        match endpoint {
            Endpoint::DeleteSubKey | Endpoint::BrokerDeleteSubKey => {
                common::json_object(&request.body)
                    .and_then(|b| b["apiKey"].as_str().map(str::to_string))
            }
            _ => None,
        }
    }

    /// Bitget documents no ban: every excess is a 429.
    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        OverIpLimit::RateLimited(respond(too_many()))
    }

    fn injected_rate_limit(&self) -> Response {
        respond(too_many())
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            ok(now, json!({ "serverTime": now.to_string() }))
        } else {
            match self.authenticate(request, now) {
                Err(refusal) => refusal,
                Ok(caller) => match self.limit(endpoint, &caller, now) {
                    Some(refusal) => refusal,
                    None => self
                        .act(endpoint, &caller, request, now)
                        .unwrap_or_else(|refusal| refusal),
                },
            }
        };
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            return Answer::Limited(respond(reply));
        }
        Answer::replied(reply.status.is_success(), respond(reply))
    }
}

impl Bitget {
    /// Check a private request as the signature page describes it.
    fn authenticate(&self, request: &Request, now: i64) -> Result<SimKey, Reply> {
        let sim = &self.sim;
        let header = |name: &str| request.header(name).filter(|v| !v.is_empty());
        let missing = |code: &str, name: &str| {
            Stats::bump(&sim.stats.missing_auth);
            refuse(
                code,
                &format!("The request header \"{name}\" cannot be empty"),
            )
        };
        let api_key = header("ACCESS-KEY").ok_or_else(|| missing("40001", "ACCESS_KEY"))?;
        let signature = header("ACCESS-SIGN").ok_or_else(|| missing("40002", "ACCESS_SIGN"))?;
        let timestamp =
            header("ACCESS-TIMESTAMP").ok_or_else(|| missing("40003", "ACCESS_TIMESTAMP"))?;
        let passphrase =
            header("ACCESS-PASSPHRASE").ok_or_else(|| missing("40011", "ACCESS_PASSPHRASE"))?;
        let Ok(ts) = timestamp.trim().parse::<i64>() else {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(refuse("40005", "Invalid ACCESS_TIMESTAMP"));
        };
        if (now - ts).abs() > MAX_CLOCK_GAP_MS {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(refuse("40008", "Request timestamp expired"));
        }
        if request.method == Method::POST
            && !request
                .header("Content-Type")
                .is_some_and(|t| t.starts_with("application/json"))
        {
            return Err(refuse(
                "40007",
                "Invalid Content_Type, please use \"application/json\" format",
            ));
        }
        let Some(caller) = sim.live_key(api_key) else {
            return Err(refuse("40006", "Invalid ACCESS_KEY"));
        };
        // A wrong passphrase is counted with bad signatures: both are wrong
        // credentials for a key that exists.
        if caller.passphrase.as_deref() != Some(passphrase) {
            Stats::bump(&sim.stats.bad_signature);
            return Err(refuse("40012", "apikey/password is incorrect"));
        }
        let query = match request.query() {
            "" => String::new(),
            q => format!("?{q}"),
        };
        let prehash = format!(
            "{timestamp}{}{}{query}{}",
            request.method.as_str(),
            request.uri.path(),
            String::from_utf8_lossy(&request.body)
        );
        if signature != hmac_sha256_base64(&caller.secret, &prehash) {
            Stats::bump(&sim.stats.bad_signature);
            return Err(refuse("40009", "sign signature error"));
        }
        if !caller.allows_loopback() {
            return Err(refuse("40018", "Invalid IP"));
        }
        Ok(caller)
    }

    /// Count the call against its endpoint's window for the caller's UID.
    fn limit(&self, endpoint: Endpoint, caller: &SimKey, now: i64) -> Option<Reply> {
        if !self.sim.limits {
            return None;
        }
        let (_, windows) = self.per_endpoint.iter().find(|(e, _)| *e == endpoint)?;
        let verdict = windows.hit(&format!("{endpoint:?}:{}", caller.uid), now, 1);
        if verdict.allowed {
            return None;
        }
        Stats::bump(&self.sim.stats.rate_limited);
        Some(too_many())
    }

    fn act(
        &self,
        endpoint: Endpoint,
        caller: &SimKey,
        request: &Request,
        now: i64,
    ) -> Result<Reply, Reply> {
        match endpoint {
            Endpoint::ServerTime => unreachable!("answered before authentication"),
            Endpoint::AccountInfo => {
                Stats::bump(&self.sim.stats.probes);
                Ok(ok(now, account_info(caller)))
            }
            Endpoint::DeleteSubKey => {
                if !caller.is_master() || caller.read_only || !caller.has_any(&[UTA_MGT]) {
                    return Err(no_permission());
                }
                let body = body_of(request)?;
                let api_key = present(&body, "apiKey")?;
                if self.own_sub_key(caller, None, api_key)?.has_any(&[CLASSIC]) {
                    return Err(refuse(
                        "40017",
                        "Only sub-accounts under a unified account are supported",
                    ));
                }
                self.sim.delete_key(api_key);
                Ok(ok(now, json!({})))
            }
            Endpoint::BrokerDeleteSubKey => {
                if !caller.is_master() || !caller.has_any(&[ND_BROKER]) {
                    return Err(no_permission());
                }
                let body = body_of(request)?;
                let sub_uid = present(&body, "subUid")?;
                let api_key = present(&body, "apiKey")?;
                self.own_sub_key(caller, Some(sub_uid), api_key)?;
                self.sim.delete_key(api_key);
                Ok(ok(now, Value::Null))
            }
            Endpoint::ModifySubKey => self.modify(caller, request, now),
            Endpoint::ListSubKeys => {
                self.may_manage_virtual(caller, false)?;
                let params = common::FormParams::read(request.query(), "");
                let uid = params
                    .present("subAccountUid")
                    .ok_or_else(|| empty("subAccountUid"))?;
                self.own_sub_account(caller, uid)?;
                Stats::bump(&self.sim.stats.lists);
                let keys = self.sim.keys.filter(|k| {
                    k.is_alive() && k.uid == uid && k.parent_uid.as_deref() == Some(&caller.uid)
                });
                Ok(ok(now, Value::Array(keys.iter().map(listed_key).collect())))
            }
            Endpoint::ListSubAccounts => self.list_sub_accounts(caller, request, now),
        }
    }

    /// The v2 sub-account calls: a main key, bound to an IP address, not
    /// read-only for `writes`.
    fn may_manage_virtual(&self, caller: &SimKey, writes: bool) -> Result<(), Reply> {
        if !caller.is_master() || (writes && caller.read_only) {
            return Err(no_permission());
        }
        if caller.bound_ips().is_empty() {
            return Err(refuse(
                "40018",
                "The API Key needs to be bound to an IP address",
            ));
        }
        Ok(())
    }

    fn own_sub_account(&self, caller: &SimKey, uid: &str) -> Result<(), Reply> {
        let own = |k: &SimKey| k.uid == uid && k.parent_uid.as_deref() == Some(&caller.uid);
        if self.sim.keys.any(own) {
            Ok(())
        } else {
            Err(not_own_sub_account())
        }
    }

    /// A live key of one of the caller's sub accounts (of `uid` if given).
    fn own_sub_key(
        &self,
        caller: &SimKey,
        uid: Option<&str>,
        api_key: &str,
    ) -> Result<SimKey, Reply> {
        self.sim
            .keys
            .get(api_key)
            .filter(|k| {
                k.is_alive()
                    && k.parent_uid.as_deref() == Some(&caller.uid)
                    && uid.is_none_or(|u| u == k.uid)
            })
            .ok_or_else(no_such_key)
    }

    /// The modify: every documented rule of its fields, then the key
    /// rewritten: an omitted `ipList` empties the whitelist, an omitted
    /// `permList` keeps the permissions, an empty one removes them.
    fn modify(&self, caller: &SimKey, request: &Request, now: i64) -> Result<Reply, Reply> {
        self.may_manage_virtual(caller, true)?;
        let body = body_of(request)?;
        let uid = present(&body, "subAccountUid")?;
        let api_key = present(&body, "subAccountApiKey")?;
        let passphrase = present(&body, "passphrase")?;
        let label = present(&body, "label")?;
        if label.chars().count() > MAX_LABEL {
            return Err(refuse("40017", "label: at most 20 characters"));
        }
        self.own_sub_account(caller, uid)?;
        let key = self.own_sub_key(caller, Some(uid), api_key)?;
        if key.passphrase.as_deref() != Some(passphrase) {
            return Err(refuse("40012", "apikey/password is incorrect"));
        }
        let ips = match &body["ipList"] {
            Value::Null => Vec::new(),
            v => strings(v)
                .filter(|ips| {
                    ips.len() <= MAX_IPS
                        && ips
                            .iter()
                            .all(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok())
                })
                .ok_or_else(|| refuse("40017", "ipList: up to 30 IPv4 addresses"))?,
        };
        let permissions = match &body["permList"] {
            Value::Null => None,
            v => Some(
                strings(v)
                    .filter(|p| p.iter().all(|name| PERM_LIST.contains(&name.as_str())))
                    .ok_or_else(|| refuse("40017", "permList: unknown permission"))?,
            ),
        };
        let updated = self
            .sim
            .keys
            .update(api_key, |k| {
                if let Some(mut p) = permissions {
                    k.read_only = p.iter().all(|name| name == "read");
                    p.extend(
                        k.permissions
                            .iter()
                            .filter(|m| MARKERS.contains(&m.as_str()))
                            .cloned(),
                    );
                    k.permissions = p;
                }
                k.ips = if ips.is_empty() {
                    vec!["*".into()]
                } else {
                    ips
                };
                k.label = Some(label.to_string());
                k.clone()
            })
            .expect("held: checked above");
        Stats::bump(&self.sim.stats.disables);
        let mut data = listed_key(&updated);
        data["secretKey"] = json!("");
        Ok(ok(now, data))
    }

    /// The caller's sub accounts, highest UID first, `limit` a page
    /// (default 100, at most 500), below `idLessThan` when continued;
    /// `endId` is the page's last UID.
    fn list_sub_accounts(
        &self,
        caller: &SimKey,
        request: &Request,
        now: i64,
    ) -> Result<Reply, Reply> {
        self.may_manage_virtual(caller, false)?;
        let params = common::FormParams::read(request.query(), "");
        let limit = match params.present("limit") {
            None => DEFAULT_PAGE,
            Some(l) => l
                .parse::<usize>()
                .ok()
                .filter(|l| (1..=MAX_PAGE).contains(l))
                .ok_or_else(|| refuse("40017", "limit: 1 to 500"))?,
        };
        let below = match params.present("idLessThan") {
            None => None,
            Some(id) => Some(
                id.parse::<u64>()
                    .map_err(|_| refuse("40017", "idLessThan: not an id"))?,
            ),
        };
        Stats::bump(&self.sim.stats.lists);
        let mut uids: Vec<u64> = self
            .sim
            .keys
            .filter(|k| k.parent_uid.as_deref() == Some(&caller.uid))
            .iter()
            .filter_map(|k| k.uid.parse::<u64>().ok())
            .filter(|uid| below.is_none_or(|b| *uid < b))
            .collect();
        uids.sort_unstable_by(|a, b| b.cmp(a));
        uids.dedup();
        uids.truncate(limit);
        let list: Vec<Value> = uids
            .iter()
            .map(|uid| {
                json!({
                    "subAccountUid": uid.to_string(),
                    "subAccountName": format!("sub{uid}@virtual-bitget.com"),
                    "status": "normal",
                    "permList": ["read", "spot_trade", "contract_trade"],
                    "label": format!("sub{uid}"),
                    "cTime": "1653287983475",
                    "uTime": "1682660169573",
                })
            })
            .collect();
        let end_id = uids.last().map_or(Value::Null, |u| json!(u));
        Ok(ok(now, json!({ "endId": end_id, "subAccountList": list })))
    }
}

fn body_of(request: &Request) -> Result<Value, Reply> {
    common::json_object(&request.body)
        .ok_or_else(|| refuse("40017", "the body is not a JSON object"))
}

fn present<'a>(body: &'a Value, name: &str) -> Result<&'a str, Reply> {
    body[name]
        .as_str()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| empty(name))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// A sub key as the key listing shows it.
fn listed_key(k: &SimKey) -> Value {
    json!({
        "subAccountUid": k.uid,
        "label": k.label.clone().unwrap_or_default(),
        "subAccountApiKey": k.api_key,
        "permList": k.permissions.iter().filter(|p| !MARKERS.contains(&p.as_str())).collect::<Vec<_>>(),
        "ipList": k.bound_ips(),
    })
}

/// "Get Account Information", its `authorities` read from the key's
/// permissions.
fn account_info(k: &SimKey) -> Value {
    let mut authorities: Vec<&str> = k
        .permissions
        .iter()
        .filter_map(|p| AUTHORITIES.iter().find(|(n, _)| n == p).map(|(_, a)| *a))
        .collect();
    authorities.sort_unstable();
    authorities.dedup();
    json!({
        "userId": k.uid,
        "inviterId": "0",
        "ips": k.bound_ips().join(","),
        "authorities": authorities,
        "parentId": k.parent_uid.as_deref().and_then(|p| p.parse::<i64>().ok()).unwrap_or(0),
        "traderType": "not_trader",
        "channelCode": "",
        "channel": "",
        "regisTime": k.created_at_ms.to_string(),
    })
}

pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable | KeyKind::Master => {
            &[UTA_MGT, "read", "spot_trade", "transfer", "wallet_withdraw"]
        }
        KeyKind::Sub | KeyKind::TradeOnly => &["read", "spot_trade"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_routed_by_its_method_and_path() {
        for r in CALLS {
            assert_eq!(
                Endpoint::parse(&r.method.parse().unwrap(), r.path),
                Some(r.endpoint)
            );
        }
        assert_eq!(
            Endpoint::parse(&Method::GET, "/api/v3/user/delete-sub-api"),
            None
        );
    }

    #[test]
    fn authorities_are_read_from_the_perm_list() {
        let mut k = crate::testkit::key("k", "1", &["read", "transfer", "wallet_withdraw"]);
        k.ips = vec!["203.0.113.7".into()];
        let info = account_info(&k);
        assert_eq!(info["authorities"], json!(["stor", "wtow", "wwow"]));
        assert_eq!(info["ips"], "203.0.113.7");
        for (name, _) in AUTHORITIES {
            assert!(PERM_LIST.contains(&name), "{name}");
        }
    }
}
