//! Gate (API v4), as gateio/gateapi-python and the project's notes
//! (`exchanges/gate.md`) document it:
//! - auth (`api_client.py`, `gen_sign`): headers `KEY`, `Timestamp` (Unix
//!   seconds), `SIGN` = hex HMAC-SHA512 of
//!   `METHOD\n/api/v4/path\nrawQuery\nhex(SHA512(body))\nTimestamp`, over
//!   the path, query and body exactly as sent; a `Timestamp` more than 60 s
//!   from the server's clock is `REQUEST_EXPIRED`. Auth failures are HTTP
//!   401 with a `{"label", "message"}` body.
//! - sub-account keys (`docs/SubAccountApi.md`): only the main account
//!   lists, reads, updates (PUT) and deletes (DELETE, 204) its own sub
//!   accounts' keys, by the sub account's user id and the key. The update
//!   replaces the key's `perms` and `ip_whitelist` whole: a list the body
//!   omits is cleared ("list will be removed if no value is passed").
//! - the main account's permission: which key permission Gate checks for
//!   sub-account management is not documented; here the main key must hold
//!   `account`, and writes need it not read-only (`FORBIDDEN`, `READ_ONLY`).
//! - limits (`exchanges/gate.md`, Gate's 2024-01 rate-limit announcement):
//!   each sub-account endpoint 80 per 10 s per UID, other private endpoints
//!   200 per 10 s per UID, public endpoints 200 per 10 s per IP; beyond,
//!   HTTP 429 `TOO_MANY_REQUESTS` with `X-Gate-RateLimit-*` headers. No IP
//!   ban is documented.
//! - undocumented, chosen here: a key the main account names that is not
//!   (or no longer) in the sub account is 404 `NOT_FOUND`; a sub account
//!   that is not the caller's is 404 `SUB_ACCOUNT_NOT_FOUND`.
//!
//! A sub account is numbered (`SimKey::uid`); its keys' permissions are
//! held by name, one `read_only` flag for the whole key.

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
use keyrevoke_core::sign::{hmac_sha512_hex, sha512_hex};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const ID: ExchangeId = ExchangeId::new("gate");

/// Public endpoints: 200 per 10 s per IP, each on its own (one is served).
pub const IP_LIMIT: (u32, Duration) = (200, Duration::from_secs(10));
const SUB_ACCOUNT_PER_WINDOW: u32 = 80;
const PRIVATE_PER_WINDOW: u32 = 200;
const WINDOW: Duration = Duration::from_secs(10);
/// The largest gap between `Timestamp` and the server's clock.
const MAX_CLOCK_GAP_S: i64 = 60;
const PREFIX: &str = "/api/v4";

/// Key permission names (SubAccountKeyPerms.md).
pub const PERMISSIONS: [&str; 9] = [
    "wallet", "spot", "futures", "delivery", "earn", "options", "account", "unified", "loan",
];
/// The permission that moves funds.
pub const WALLET: &str = "wallet";
/// The permission the main key manages sub accounts with (see above).
pub const ACCOUNT: &str = "account";
/// At most 20 IPs per key (`exchanges/gate.md`).
const MAX_IPS: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ServerTime,
    AccountDetail,
    ListSubAccounts,
    ListSubKeys,
    GetSubKey,
    UpdateSubKey,
    DeleteSubKey,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        let rest = path.strip_prefix(PREFIX)?;
        Some(match (method.as_str(), rest) {
            ("GET", "/spot/time") => Endpoint::ServerTime,
            ("GET", "/account/detail") => Endpoint::AccountDetail,
            ("GET", "/sub_accounts") => Endpoint::ListSubAccounts,
            _ => match (method.as_str(), sub_key_path(path)?) {
                ("GET", (_, None)) => Endpoint::ListSubKeys,
                ("GET", (_, Some(_))) => Endpoint::GetSubKey,
                ("PUT", (_, Some(_))) => Endpoint::UpdateSubKey,
                ("DELETE", (_, Some(_))) => Endpoint::DeleteSubKey,
                _ => return None,
            },
        })
    }
}

/// `/api/v4/sub_accounts/{user_id}/keys[/{key}]`: the user id and the key.
fn sub_key_path(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix(PREFIX)?.strip_prefix("/sub_accounts/")?;
    let (user_id, rest) = rest.split_once('/')?;
    let key = match rest.strip_prefix("keys")? {
        "" => None,
        tail => Some(
            tail.strip_prefix('/')
                .filter(|k| !k.is_empty() && !k.contains('/'))?,
        ),
    };
    (!user_id.is_empty()).then_some((user_id, key))
}

struct Gate {
    sim: Arc<ExchangeSim>,
    /// Each sub-account endpoint's own window, per UID.
    sub_account: FixedWindows,
    /// Each other private endpoint's own window, per UID.
    private: FixedWindows,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Gate {
        sub_account: FixedWindows::new(
            SUB_ACCOUNT_PER_WINDOW,
            WINDOW,
            sim.meter("uid_sub_account"),
        ),
        private: FixedWindows::new(PRIVATE_PER_WINDOW, WINDOW, sim.meter("uid_private")),
        sim,
    })
}

struct Reply {
    status: StatusCode,
    body: Option<Value>,
    headers: Vec<(&'static str, String)>,
}

fn ok(body: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        body: Some(body),
        headers: Vec::new(),
    }
}

fn no_content() -> Reply {
    Reply {
        status: StatusCode::NO_CONTENT,
        body: None,
        headers: Vec::new(),
    }
}

fn refuse(status: StatusCode, label: &str, message: &str) -> Reply {
    Reply {
        status,
        body: Some(json!({ "label": label, "message": message })),
        headers: Vec::new(),
    }
}

fn too_many(limit: u32, reset_at_ms: i64) -> Reply {
    Reply {
        headers: vec![
            ("X-Gate-RateLimit-Requests-Remain", "0".into()),
            ("X-Gate-RateLimit-Limit", limit.to_string()),
            ("X-Gate-RateLimit-Reset-Timestamp", reset_at_ms.to_string()),
        ],
        ..refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_REQUESTS",
            "Request Rate limit Exceeded",
        )
    }
}

fn bad_param(message: &str) -> Reply {
    refuse(StatusCode::BAD_REQUEST, "INVALID_PARAM_VALUE", message)
}

fn respond(reply: Reply) -> Response {
    let mut builder = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    let body = match reply.body {
        Some(b) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    builder.body(body).expect("valid response")
}

impl Dialect for Gate {
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
        if endpoint != Endpoint::DeleteSubKey {
            return None;
        }
        sub_key_path(request.uri.path()).and_then(|(_, key)| key.map(str::to_string))
    }

    /// Gate documents no ban: every excess is a 429.
    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        let reset = self.sim.now_ms() + self.sim.ip_ban.as_millis() as i64;
        OverIpLimit::RateLimited(respond(too_many(IP_LIMIT.0, reset)))
    }

    fn injected_rate_limit(&self) -> Response {
        respond(too_many(SUB_ACCOUNT_PER_WINDOW, self.sim.now_ms() + 1000))
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            ok(json!({ "server_time": now }))
        } else {
            match self.authenticate(request, now) {
                Err(refusal) => refusal,
                Ok(caller) => match self.limit(endpoint, &caller, now) {
                    Some(refusal) => refusal,
                    None => self
                        .act(endpoint, &caller, request)
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

impl Gate {
    /// Check an APIv4 signature as `gen_sign` computes it.
    fn authenticate(&self, request: &Request, now: i64) -> Result<SimKey, Reply> {
        let sim = &self.sim;
        let unauthorized =
            |label: &str, message: &str| refuse(StatusCode::UNAUTHORIZED, label, message);
        let (Some(api_key), Some(timestamp), Some(signature)) = (
            request.header("KEY").filter(|k| !k.is_empty()),
            request.header("Timestamp"),
            request.header("SIGN"),
        ) else {
            Stats::bump(&sim.stats.missing_auth);
            return Err(unauthorized(
                "MISSING_REQUIRED_HEADER",
                "Missing required header: KEY, Timestamp or SIGN",
            ));
        };
        let Some(caller) = sim.live_key(api_key) else {
            return Err(unauthorized("INVALID_KEY", "Invalid key provided"));
        };
        let Ok(ts) = timestamp.trim().parse::<i64>() else {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(unauthorized("REQUEST_EXPIRED", "Timestamp is not a number"));
        };
        if (now.div_euclid(1000) - ts).abs() > MAX_CLOCK_GAP_S {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(unauthorized(
                "REQUEST_EXPIRED",
                "Request timestamp far from the server time",
            ));
        }
        let body = String::from_utf8_lossy(&request.body);
        let prehash = format!(
            "{}\n{}\n{}\n{}\n{ts}",
            request.method.as_str(),
            request.uri.path(),
            request.query(),
            sha512_hex(&body),
        );
        if signature != hmac_sha512_hex(&caller.secret, &prehash) {
            Stats::bump(&sim.stats.bad_signature);
            return Err(unauthorized("INVALID_SIGNATURE", "Signature mismatch"));
        }
        if !caller.allows_loopback() {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "IP_FORBIDDEN",
                "Request IP not in whitelist",
            ));
        }
        Ok(caller)
    }

    /// Count the call against its endpoint's window for the caller's UID.
    fn limit(&self, endpoint: Endpoint, caller: &SimKey, now: i64) -> Option<Reply> {
        if !self.sim.limits {
            return None;
        }
        let windows = match endpoint {
            Endpoint::ServerTime | Endpoint::AccountDetail => &self.private,
            _ => &self.sub_account,
        };
        let verdict = windows.hit(&format!("{endpoint:?}:{}", caller.uid), now, 1);
        if verdict.allowed {
            return None;
        }
        Stats::bump(&self.sim.stats.rate_limited);
        Some(too_many(windows.capacity, verdict.reset_at_ms))
    }

    fn act(&self, endpoint: Endpoint, caller: &SimKey, request: &Request) -> Result<Reply, Reply> {
        if endpoint == Endpoint::AccountDetail {
            Stats::bump(&self.sim.stats.probes);
            return Ok(ok(account_detail(caller)));
        }
        if endpoint == Endpoint::ListSubAccounts {
            return self.list_sub_accounts(caller);
        }
        let (user_id, key) = sub_key_path(request.uri.path()).expect("routed by its path");
        self.own_sub_account(
            caller,
            user_id,
            endpoint != Endpoint::ListSubKeys && endpoint != Endpoint::GetSubKey,
        )?;
        match (endpoint, key) {
            (Endpoint::ListSubKeys, _) => {
                Stats::bump(&self.sim.stats.lists);
                let keys = self
                    .sim
                    .keys
                    .filter(|k| k.is_alive() && k.uid == user_id && k.parent_uid.is_some());
                Ok(ok(Value::Array(keys.iter().map(sub_account_key).collect())))
            }
            (Endpoint::GetSubKey, Some(key)) => {
                Stats::bump(&self.sim.stats.probes);
                Ok(ok(sub_account_key(&self.sub_key(user_id, key)?)))
            }
            (Endpoint::UpdateSubKey, Some(key)) => self.update(user_id, key, request),
            (Endpoint::DeleteSubKey, Some(key)) => {
                self.sub_key(user_id, key)?;
                self.sim.delete_key(key);
                Ok(no_content())
            }
            _ => unreachable!("routed with its key"),
        }
    }

    /// Every sub account of the caller's, in one reply.
    fn list_sub_accounts(&self, caller: &SimKey) -> Result<Reply, Reply> {
        self.may_manage(caller, false)?;
        Stats::bump(&self.sim.stats.lists);
        let mut uids: Vec<String> = self
            .sim
            .keys
            .filter(|k| k.parent_uid.as_deref() == Some(&caller.uid))
            .into_iter()
            .map(|k| k.uid)
            .collect();
        uids.sort();
        uids.dedup();
        let accounts: Vec<Value> = uids
            .iter()
            .map(|uid| {
                json!({
                    "remark": "",
                    "login_name": format!("sub{uid}"),
                    "user_id": uid.parse::<i64>().unwrap_or_default(),
                    "state": 1,
                    "type": 0,
                    "create_time": 1_597_026_383i64,
                })
            })
            .collect();
        Ok(ok(Value::Array(accounts)))
    }

    /// The caller is a main account holding the permission (not read-only
    /// for `writes`).
    fn may_manage(&self, caller: &SimKey, writes: bool) -> Result<(), Reply> {
        if !caller.is_master() || !caller.permissions.iter().any(|p| p == ACCOUNT) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "API key has no permission to manage sub accounts",
            ));
        }
        if writes && caller.read_only {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "READ_ONLY",
                "API key is read-only",
            ));
        }
        Ok(())
    }

    /// The caller may manage sub accounts, and this one is its own.
    fn own_sub_account(&self, caller: &SimKey, user_id: &str, writes: bool) -> Result<(), Reply> {
        self.may_manage(caller, writes)?;
        let own = |k: &SimKey| k.uid == user_id && k.parent_uid.as_deref() == Some(&caller.uid);
        if self.sim.keys.any(own) {
            Ok(())
        } else {
            Err(refuse(
                StatusCode::NOT_FOUND,
                "SUB_ACCOUNT_NOT_FOUND",
                "Sub account not found",
            ))
        }
    }

    fn sub_key(&self, user_id: &str, key: &str) -> Result<SimKey, Reply> {
        self.sim
            .keys
            .get(key)
            .filter(|k| k.is_alive() && k.uid == user_id)
            .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "NOT_FOUND", "API key not found"))
    }

    /// The update replaces both lists whole: an omitted one is cleared.
    fn update(&self, user_id: &str, key: &str, request: &Request) -> Result<Reply, Reply> {
        self.sub_key(user_id, key)?;
        let body = common::json_object(&request.body)
            .ok_or_else(|| bad_param("the body is not a JSON object"))?;
        let mut names = Vec::new();
        let mut all_read_only = true;
        for p in body["perms"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let name = p["name"]
                .as_str()
                .filter(|n| PERMISSIONS.contains(n))
                .ok_or_else(|| bad_param("perms: unknown permission name"))?;
            names.push(name.to_string());
            all_read_only &= p["read_only"].as_bool() == Some(true);
        }
        let ips: Vec<String> = match &body["ip_whitelist"] {
            Value::Null => Vec::new(),
            Value::Array(list) => list
                .iter()
                .map(|ip| ip.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| bad_param("ip_whitelist: not a list of strings"))?,
            _ => return Err(bad_param("ip_whitelist: not a list")),
        };
        if ips.len() > MAX_IPS || common::first_bad_ip(&ips).is_some() {
            return Err(bad_param("ip_whitelist: at most 20 IP addresses"));
        }
        let name = body["name"].as_str().map(str::to_string);
        self.sim.keys.update(key, |k| {
            k.permissions = names;
            k.read_only = all_read_only;
            k.ips = if ips.is_empty() {
                vec!["*".into()]
            } else {
                ips
            };
            k.label = name;
        });
        Stats::bump(&self.sim.stats.disables);
        Ok(no_content())
    }
}

/// A `SubAccountKey` as the listing and the key read show it.
fn sub_account_key(k: &SimKey) -> Value {
    json!({
        "user_id": k.uid,
        "mode": 1,
        "name": k.label.clone().unwrap_or_default(),
        "perms": k.permissions.iter().map(|p| json!({ "name": p, "read_only": k.read_only })).collect::<Vec<_>>(),
        "ip_whitelist": k.bound_ips(),
        "key": k.api_key,
        "state": 1,
        "created_at": (k.created_at_ms / 1000).to_string(),
        "updated_at": (k.created_at_ms / 1000).to_string(),
    })
}

/// `AccountDetail`, as the SDK's model names its fields.
fn account_detail(k: &SimKey) -> Value {
    json!({
        "user_id": k.uid.parse::<i64>().unwrap_or_default(),
        "ip_whitelist": k.bound_ips(),
        "currency_pairs": [],
        "key": { "mode": 1 },
        "tier": 0,
    })
}

pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable | KeyKind::Master => &[ACCOUNT, "spot", WALLET],
        KeyKind::Sub | KeyKind::TradeOnly => &["spot"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_key_paths_are_read_with_their_ids() {
        assert_eq!(
            sub_key_path("/api/v4/sub_accounts/510001/keys/abc"),
            Some(("510001", Some("abc")))
        );
        assert_eq!(
            sub_key_path("/api/v4/sub_accounts/510001/keys"),
            Some(("510001", None))
        );
        assert_eq!(sub_key_path("/api/v4/sub_accounts/510001/keys/a/b"), None);
        assert_eq!(sub_key_path("/api/v4/sub_accounts//keys"), None);
        assert_eq!(
            Endpoint::parse(&Method::POST, "/api/v4/sub_accounts/1/keys/k"),
            None
        );
    }
}
