//! Bybit v5, as bybit-exchange/docs documents it:
//! - auth (`docs/v5/guide.mdx`): `X-BAPI-API-KEY`, `X-BAPI-TIMESTAMP`,
//!   `X-BAPI-SIGN`, optional `X-BAPI-RECV-WINDOW` (default 5000); prehash
//!   `timestamp + api_key + recv_window + (query string | raw body)`,
//!   HMAC-SHA256 lowercase hex; accepted when
//!   `server_time - recv_window <= timestamp < server_time + 1000`;
//! - limits (`docs/v5/rate-limit/rate-limit.mdx`): 600 requests per 5 s per
//!   IP (HTTP 403 and a ban beyond); per UID and endpoint, in a rolling
//!   second, 5 for the key write endpoints, 10 for query-api,
//!   query-sub-members and sub-apikeys (retCode 10006, with `X-Bapi-Limit`, `X-Bapi-Limit-Status`,
//!   `X-Bapi-Limit-Reset-Timestamp`);
//! - endpoints and permissions (`docs/v5/user/*.mdx`);
//! - codes (`docs/v5/error.mdx`).
//!
//! Where the docs are silent the simulator has to choose, and says so:
//! a sub key calling `delete-api`/`update-api` (documented as master-only)
//! gets the generic 10005, and a master naming a key that is not (or no
//! longer) one of its sub keys gets the generic parameter error 10001. The
//! connector treats both as refusals and lets a probe decide.

use super::common::{self, Answer, Dialect, OverIpLimit, Request, Unrouted};
use crate::ExchangeSim;
use crate::faults;
use crate::keys::{NewKeyShape, SimKey};
use crate::limits::RollingWindows;
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use keyrevoke_core::sign::hmac_sha256_hex;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The exchange this dialect speaks, by its ccxt id.
pub const ID: keyrevoke_core::ExchangeId = keyrevoke_core::ExchangeId::new("bybit");

pub const IP_LIMIT: (u32, Duration) = (600, Duration::from_secs(5));
const UID_WRITE_PER_SEC: u32 = 5;
const UID_READ_PER_SEC: u32 = 10;
/// `create-sub-api`: 1 request per second per UID (rate-limit.mdx).
const UID_CREATE_PER_SEC: u32 = 1;
const DEFAULT_RECV_WINDOW: i64 = 5000;

/// Permissions that let a master key delete itself or manage sub keys.
const MASTER_MANAGE: &[&str] = &["AccountTransfer", "SubMemberTransfer", "Withdraw"];
/// Permissions that let a sub key delete or modify itself.
const SUB_MANAGE: &[&str] = &["AccountTransfer", "SubMemberTransferList"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    ServerTime,
    QueryKey,
    ListSubMembers,
    ListSubKeys,
    DeleteMasterKey,
    DeleteSubKey,
    UpdateMasterKey,
    UpdateSubKey,
    CreateSubKey,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        use Endpoint::*;
        Some(match (method.as_str(), path) {
            ("GET", "/v5/market/time") => ServerTime,
            ("GET", "/v5/user/query-api") => QueryKey,
            ("GET", "/v5/user/query-sub-members") => ListSubMembers,
            ("GET", "/v5/user/sub-apikeys") => ListSubKeys,
            ("POST", "/v5/user/delete-api") => DeleteMasterKey,
            ("POST", "/v5/user/delete-sub-api") => DeleteSubKey,
            ("POST", "/v5/user/update-api") => UpdateMasterKey,
            ("POST", "/v5/user/update-sub-api") => UpdateSubKey,
            ("POST", "/v5/user/create-sub-api") => CreateSubKey,
            _ => return None,
        })
    }

    fn is_write(self) -> bool {
        !matches!(
            self,
            Endpoint::ServerTime
                | Endpoint::QueryKey
                | Endpoint::ListSubMembers
                | Endpoint::ListSubKeys
        )
    }
}

struct Bybit {
    sim: Arc<ExchangeSim>,
    uid_write: RollingWindows,
    uid_read: RollingWindows,
    uid_create: RollingWindows,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Bybit {
        uid_write: RollingWindows::new(
            UID_WRITE_PER_SEC,
            Duration::from_secs(1),
            sim.meter("uid_key_write"),
        ),
        uid_read: RollingWindows::new(
            UID_READ_PER_SEC,
            Duration::from_secs(1),
            sim.meter("uid_key_read"),
        ),
        uid_create: RollingWindows::new(
            UID_CREATE_PER_SEC,
            Duration::from_secs(1),
            sim.meter("uid_key_create"),
        ),
        sim,
    })
}

/// A reply in Bybit's envelope, with optional UID-limit headers.
struct Reply {
    code: i64,
    msg: String,
    result: Value,
    limit: Option<(u32, u32, i64)>,
}

fn refuse(code: i64, msg: &str) -> Reply {
    Reply {
        code,
        msg: msg.to_string(),
        result: json!({}),
        limit: None,
    }
}

fn ok(result: Value) -> Reply {
    Reply {
        code: 0,
        msg: "OK".into(),
        result,
        limit: None,
    }
}

impl Dialect for Bybit {
    type Endpoint = Endpoint;

    fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    fn route(&self, method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
        Endpoint::parse(method, path).ok_or(Unrouted::NotFound)
    }

    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        OverIpLimit::Banned(faults::plain(StatusCode::FORBIDDEN, "access too frequent"))
    }

    /// A key deleting itself is the one its `X-BAPI-API-KEY` names; a
    /// master names its sub key by `apikey` in the body.
    fn delete_target(&self, endpoint: Endpoint, request: &Request) -> Option<String> {
        let caller = || request.header("X-BAPI-API-KEY").map(str::to_string);
        match endpoint {
            Endpoint::DeleteMasterKey => caller(),
            Endpoint::DeleteSubKey => common::json_object(&request.body)
                .and_then(|b| b.get("apikey").and_then(|k| k.as_str()).map(str::to_string))
                .or_else(caller),
            _ => None,
        }
    }

    fn injected_rate_limit(&self) -> Response {
        let reset = self.sim.now_ms() + 1000;
        envelope(
            self.sim.now_ms(),
            Reply {
                limit: Some((UID_WRITE_PER_SEC, 0, reset)),
                ..refuse(10006, "Too many visits!")
            },
        )
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            ok(
                json!({ "timeSecond": (now / 1000).to_string(), "timeNano": (now as i128 * 1_000_000).to_string() }),
            )
        } else {
            match authenticate(self, request, now) {
                Auth::Http(response) => return Answer::TurnedAway(response),
                Auth::Refused(refusal) => refusal,
                Auth::Caller(caller) => match self.uid_limit(endpoint, &caller, now) {
                    Err(refusal) => return Answer::Limited(envelope(now, refusal)),
                    Ok(limit) => {
                        let mut r = self.act(endpoint, &caller, request);
                        r.limit = Some(limit);
                        r
                    }
                },
            }
        };
        Answer::replied(reply.code == 0, envelope(now, reply))
    }
}

fn envelope(now: i64, reply: Reply) -> Response {
    let body = json!({
        "retCode": reply.code,
        "retMsg": reply.msg,
        "result": reply.result,
        "retExtInfo": {},
        "time": now,
    });
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some((limit, remaining, reset)) = reply.limit {
        builder = builder
            .header("X-Bapi-Limit", limit.to_string())
            .header("X-Bapi-Limit-Status", remaining.to_string())
            .header("X-Bapi-Limit-Reset-Timestamp", reset.to_string());
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

/// What the auth check decided.
enum Auth {
    /// The signature holds: the calling key.
    Caller(SimKey),
    /// Refused in Bybit's envelope.
    Refused(Reply),
    /// Refused at the HTTP level.
    Http(Response),
}

/// Check the auth headers as the v5 guide documents them.
fn authenticate(b: &Bybit, request: &Request, now: i64) -> Auth {
    let sim = &b.sim;
    let h = |name: &str| request.header(name).map(str::to_string);
    let (Some(api_key), Some(timestamp), Some(sign)) =
        (h("X-BAPI-API-KEY"), h("X-BAPI-TIMESTAMP"), h("X-BAPI-SIGN"))
    else {
        Stats::bump(&sim.stats.missing_auth);
        return Auth::Http(faults::plain(StatusCode::UNAUTHORIZED, "401 Unauthorized"));
    };
    let recv_window_text = h("X-BAPI-RECV-WINDOW");
    let recv_window = match &recv_window_text {
        None => DEFAULT_RECV_WINDOW,
        Some(t) => match t.parse::<i64>() {
            Ok(v) if v > 0 => v,
            _ => return Auth::Refused(refuse(10001, "invalid recv_window")),
        },
    };
    let Some(caller) = sim.live_key(&api_key) else {
        return Auth::Refused(refuse(10003, "API key is invalid."));
    };
    let Ok(ts) = timestamp.parse::<i64>() else {
        Stats::bump(&sim.stats.stale_timestamp);
        return Auth::Refused(refuse(
            10002,
            "invalid request, please check your timestamp",
        ));
    };
    if !(now - recv_window <= ts && ts < now + 1000) {
        Stats::bump(&sim.stats.stale_timestamp);
        return Auth::Refused(refuse(
            10002,
            &format!(
                "invalid request, please check your server timestamp or recv_window param. req_timestamp[{ts}],server_timestamp[{now}],recv_window[{recv_window}]"
            ),
        ));
    }
    let payload = if request.method == Method::GET {
        request.query().to_string()
    } else {
        String::from_utf8_lossy(&request.body).into_owned()
    };
    // The prehash uses the receive window exactly as the header carried it.
    let recv_in_prehash = recv_window_text.unwrap_or_default();
    let expected = hmac_sha256_hex(
        &caller.secret,
        &format!("{ts}{api_key}{recv_in_prehash}{payload}"),
    );
    if sign != expected {
        Stats::bump(&sim.stats.bad_signature);
        // Bybit quotes the string it expected signed, the full API key in it.
        return Auth::Refused(refuse(
            10004,
            &format!("error sign! origin_string[{ts}{api_key}{recv_in_prehash}{payload}]"),
        ));
    }
    if !caller.allows_loopback() {
        return Auth::Refused(refuse(
            10010,
            "Unmatched IP, please check your API key's bound IP addresses.",
        ));
    }
    Auth::Caller(caller)
}

impl Bybit {
    fn uid_limit(
        &self,
        endpoint: Endpoint,
        caller: &SimKey,
        now: i64,
    ) -> Result<(u32, u32, i64), Reply> {
        let window = match endpoint {
            Endpoint::CreateSubKey => &self.uid_create,
            e if e.is_write() => &self.uid_write,
            _ => &self.uid_read,
        };
        if !self.sim.limits {
            // Nothing is counted, so nothing is used: headers claiming an
            // exhausted window would make a client wait for nothing.
            return Ok((window.capacity, window.capacity, now));
        }
        // Limits are per UID and per endpoint (the rate-limit table lists
        // each endpoint's own figure).
        let verdict = window.hit(&format!("{}:{:?}", caller.uid, endpoint), now, 1);
        let limit = (window.capacity, verdict.remaining, verdict.reset_at_ms);
        if !verdict.allowed {
            Stats::bump(&self.sim.stats.rate_limited);
            return Err(Reply {
                limit: Some(limit),
                ..refuse(10006, "Too many visits!")
            });
        }
        Ok(limit)
    }

    fn act(&self, endpoint: Endpoint, caller: &SimKey, request: &Request) -> Reply {
        let sim = &self.sim;
        let params: Value = if endpoint.is_write() {
            match common::json_object(&request.body) {
                Some(v) => v,
                None => return refuse(10001, "body not json"),
            }
        } else {
            json!({})
        };
        let may_manage = |k: &SimKey| {
            !k.read_only
                && k.has_any(if k.is_master() {
                    MASTER_MANAGE
                } else {
                    SUB_MANAGE
                })
        };
        match endpoint {
            Endpoint::ServerTime => ok(json!({})),
            Endpoint::QueryKey => {
                Stats::bump(&sim.stats.probes);
                ok(key_info(caller))
            }
            // "Use master user's api key only", holding Account Transfer,
            // Subaccount Transfer or Withdrawal (subuid-list.mdx).
            Endpoint::ListSubMembers if !caller.is_master() || !caller.has_any(MASTER_MANAGE) => {
                refuse(
                    10005,
                    "Permission denied, please check your API key permissions.",
                )
            }
            Endpoint::ListSubMembers => self.list_sub_members(caller),
            Endpoint::ListSubKeys => self.list_sub_keys(caller, request.query()),
            // "Use master user's api key only", holding Account Transfer,
            // Subaccount Transfer or Withdrawal (create-subuid-apikey.mdx).
            Endpoint::CreateSubKey if !caller.is_master() || !may_manage(caller) => refuse(
                10005,
                "Permission denied, please check your API key permissions.",
            ),
            Endpoint::CreateSubKey => self.create_sub_key(caller, &params),
            Endpoint::DeleteMasterKey | Endpoint::UpdateMasterKey => {
                if !caller.is_master() || !may_manage(caller) {
                    return refuse(
                        10005,
                        "Permission denied, please check your API key permissions.",
                    );
                }
                if endpoint == Endpoint::DeleteMasterKey {
                    sim.delete_key(&caller.api_key);
                    return ok(json!({}));
                }
                if params.get("ips").is_some() {
                    return refuse(141019, "IP whitelist change must be done in the web UI");
                }
                let read_only = params["readOnly"].as_i64() == Some(1);
                sim.keys
                    .update(&caller.api_key, |k| k.read_only = read_only);
                Stats::bump(&sim.stats.disables);
                ok(key_info(
                    &sim.keys.get(&caller.api_key).expect("caller exists"),
                ))
            }
            Endpoint::DeleteSubKey | Endpoint::UpdateSubKey => {
                let target = match params.get("apikey") {
                    // A sub key acting on itself: `apikey` must not be passed.
                    None if !caller.is_master() => caller.clone(),
                    None => {
                        return refuse(
                            10001,
                            "apikey is required when a master key calls this endpoint",
                        );
                    }
                    Some(_) if !caller.is_master() => {
                        return refuse(
                            10001,
                            "apikey cannot be passed when a sub key calls this endpoint",
                        );
                    }
                    Some(v) => match v.as_str().and_then(|k| sim.keys.get(k)) {
                        Some(t)
                            if t.is_alive()
                                && t.parent_uid.as_deref() == Some(caller.uid.as_str()) =>
                        {
                            t
                        }
                        _ => {
                            return refuse(
                                10001,
                                "params error: apikey not found under this account",
                            );
                        }
                    },
                };
                if !may_manage(caller) {
                    return refuse(
                        10005,
                        "Permission denied, please check your API key permissions.",
                    );
                }
                if endpoint == Endpoint::DeleteSubKey {
                    sim.delete_key(&target.api_key);
                    return ok(json!({}));
                }
                let read_only = params["readOnly"].as_i64().map(|v| v == 1);
                let ips = params["ips"]
                    .as_str()
                    .map(|s| s.split(',').map(|ip| ip.trim().to_string()).collect());
                sim.keys.update(&target.api_key, |k| {
                    if let Some(r) = read_only {
                        k.read_only = r;
                    }
                    if let Some(ips) = ips {
                        k.ips = ips;
                    }
                });
                Stats::bump(&sim.stats.disables);
                ok(key_info(
                    &sim.keys.get(&target.api_key).expect("target exists"),
                ))
            }
        }
    }

    /// Every sub UID of the caller's account, deleted keys or not: a sub
    /// account outlives its keys (`subuid-list.mdx`).
    fn list_sub_members(&self, caller: &SimKey) -> Reply {
        let mut uids: Vec<String> = self
            .sim
            .keys
            .filter(|k| k.parent_uid.as_deref() == Some(caller.uid.as_str()))
            .into_iter()
            .map(|k| k.uid)
            .collect();
        uids.sort();
        uids.dedup();
        Stats::bump(&self.sim.stats.lists);
        let members: Vec<Value> = uids
            .iter()
            .map(|uid| {
                json!({
                    "uid": uid,
                    "username": format!("sub{uid}"),
                    "memberType": 1,
                    "status": 1,
                    "accountMode": 5,
                    "remark": "",
                })
            })
            .collect();
        ok(json!({ "subMembers": members }))
    }

    /// A new key of one of the caller's sub UIDs. The docs do not say what
    /// a sub UID that is not the caller's gets: the generic parameter
    /// error 10001, as for a foreign `apikey`. The reply is the
    /// documented one: the new key's secret shown once.
    fn create_sub_key(&self, caller: &SimKey, params: &Value) -> Reply {
        let request = match create_request(params) {
            Ok(r) => r,
            Err(refusal) => return refusal,
        };
        let is_own_sub = self.sim.keys.any(|k| {
            k.uid == request.sub_uid && k.parent_uid.as_deref() == Some(caller.uid.as_str())
        });
        if !is_own_sub {
            return refuse(
                10001,
                "params error: subuid is not a sub member of this account",
            );
        }
        let key = self.sim.create_sub_key(
            caller,
            &request.sub_uid,
            None,
            NewKeyShape {
                label: request.note,
                permissions: request.permissions,
                read_only: request.read_only,
                ips: request.ips,
                passphrase: None,
                api_key_len: 18,
                secret_len: 36,
            },
        );
        // The permission groups a sub key may hold, as the example reply
        // shows them (Derivatives is set by the account's mode).
        let mut permissions = grouped_permissions(&key.permissions);
        if let Some(groups) = permissions.as_object_mut() {
            groups.retain(|g, _| {
                [
                    "ContractTrade",
                    "Spot",
                    "Wallet",
                    "Options",
                    "CopyTrading",
                    "BlockTrade",
                    "Exchange",
                    "NFT",
                ]
                .contains(&g.as_str())
            });
        }
        ok(json!({
            "id": "1",
            "note": key.label.clone().unwrap_or_default(),
            "apiKey": key.api_key,
            "readOnly": if key.read_only { 1 } else { 0 },
            "secret": key.secret,
            "permissions": permissions,
        }))
    }

    fn list_sub_keys(&self, caller: &SimKey, query: &str) -> Reply {
        if !caller.is_master() {
            return refuse(
                10005,
                "Permission denied: only a master account can list sub account keys.",
            );
        }
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        let Some(sub_uid) = param("subMemberId") else {
            return refuse(10001, "subMemberId is required");
        };
        let limit = param("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(20)
            .clamp(1, 20);
        let start = param("cursor")
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(0);
        let keys = self.sim.keys.filter(|k| {
            k.is_alive() && k.uid == sub_uid && k.parent_uid.as_deref() == Some(caller.uid.as_str())
        });
        Stats::bump(&self.sim.stats.probes);
        Stats::bump(&self.sim.stats.lists);
        let page: Vec<Value> = keys
            .iter()
            .skip(start)
            .take(limit)
            .map(|k| {
                json!({
                    "id": "1",
                    "apiKey": k.api_key,
                    "note": k.label.clone().unwrap_or_default(),
                    "status": 1,
                    "createdAt": created_at(k),
                    "ips": k.ips,
                    "permissions": grouped_permissions(&k.permissions),
                    "readOnly": k.read_only,
                    "secret": "******",
                    "type": 1,
                    "flag": "hmac",
                })
            })
            .collect();
        let next = if start + limit < keys.len() {
            (start + limit).to_string()
        } else {
            String::new()
        };
        ok(json!({ "result": page, "nextPageCursor": next }))
    }
}

/// `createdAt` as the listing shows it, `2023-08-25T06:42:39Z`
/// (list-sub-apikeys.mdx): whole seconds.
fn created_at(k: &SimKey) -> String {
    let iso = common::iso8601(k.created_at_ms);
    format!("{}Z", &iso[..19])
}

/// The body of `create-sub-api` as create-subuid-apikey.mdx documents it:
/// `subuid` (integer) and `readOnly` (0 or 1) required, `permissions` an
/// object of groups of which at least one must be passed, `note` and `ips`
/// (a comma-separated string, `*` or absent: unbound) optional.
struct CreateRequest {
    sub_uid: String,
    read_only: bool,
    permissions: Vec<String>,
    note: String,
    ips: Vec<String>,
}

fn create_request(params: &Value) -> Result<CreateRequest, Reply> {
    let sub_uid = match &params["subuid"] {
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return Err(refuse(10001, "subuid is required and must be an integer")),
    };
    let read_only = match params["readOnly"].as_i64() {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(refuse(10001, "readOnly is required: 0 or 1")),
    };
    let Some(groups) = params["permissions"].as_object() else {
        return Err(refuse(10001, "permissions is required"));
    };
    let mut permissions = Vec::new();
    for (group, names) in groups {
        let Some(names) = names.as_array() else {
            return Err(refuse(
                10001,
                &format!("permissions.{group} must be an array"),
            ));
        };
        for name in names {
            match name.as_str() {
                Some(n) if group_of(n) == group => permissions.push(n.to_string()),
                _ => {
                    return Err(refuse(
                        10001,
                        &format!("permissions.{group}: unknown permission {name}"),
                    ));
                }
            }
        }
    }
    if groups.is_empty() {
        return Err(refuse(10001, "permissions: one type must be passed"));
    }
    let ips = match params.get("ips") {
        None => Vec::new(),
        Some(Value::String(s)) => s
            .split(',')
            .map(|ip| ip.trim().to_string())
            .filter(|ip| !ip.is_empty() && ip != "*")
            .collect(),
        Some(_) => return Err(refuse(10001, "ips must be a string")),
    };
    if let Some(bad) = common::first_bad_ip(&ips) {
        return Err(refuse(10001, &format!("ips: {bad} is not an IP address")));
    }
    Ok(CreateRequest {
        sub_uid,
        read_only,
        permissions,
        note: params["note"].as_str().unwrap_or_default().to_string(),
        ips,
    })
}

/// `query-api`'s `result` for a key.
fn key_info(k: &SimKey) -> Value {
    json!({
        "id": "1",
        "note": k.label.clone().unwrap_or_default(),
        "apiKey": k.api_key,
        "readOnly": if k.read_only { 1 } else { 0 },
        "secret": "",
        "permissions": grouped_permissions(&k.permissions),
        "ips": k.ips,
        "type": 1,
        "userID": k.uid.parse::<u64>().unwrap_or(0),
        "isMaster": k.is_master(),
        "parentUid": k.parent_uid.clone().unwrap_or_else(|| "0".into()),
    })
}

/// Bybit reports permissions by group (`apikey-info.mdx`).
fn grouped_permissions(names: &[String]) -> Value {
    let mut groups = serde_json::Map::new();
    for g in [
        "ContractTrade",
        "Spot",
        "Wallet",
        "Options",
        "Derivatives",
        "Exchange",
        "Earn",
        "NFT",
        "BlockTrade",
        "CopyTrading",
    ] {
        groups.insert(g.to_string(), json!([]));
    }
    for p in names {
        if let Some(Value::Array(list)) = groups.get_mut(group_of(p)) {
            list.push(json!(p));
        }
    }
    Value::Object(groups)
}

/// The group a permission is reported and created in (apikey-info.mdx,
/// create-subuid-apikey.mdx).
fn group_of(permission: &str) -> &'static str {
    match permission {
        "AccountTransfer" | "SubMemberTransfer" | "SubMemberTransferList" | "Withdraw" => "Wallet",
        "SpotTrade" => "Spot",
        "Order" | "Position" => "ContractTrade",
        "OptionsTrade" => "Options",
        "DerivativesTrade" => "Derivatives",
        "ExchangeHistory" => "Exchange",
        "CopyTrading" => "CopyTrading",
        "Earn" => "Earn",
        _ => "Other",
    }
}

/// Permission sets of synthetic keys, in `query-api`'s names.
pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable => &["AccountTransfer", "SpotTrade", "Order", "Position"],
        KeyKind::Master => &["AccountTransfer", "SubMemberTransfer", "SpotTrade"],
        KeyKind::Sub => &["SpotTrade", "Order", "Position"],
        KeyKind::TradeOnly => &["SpotTrade", "Order", "Position"],
    }
}
