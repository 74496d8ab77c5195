//! OKX v5, as OKX's docs (https://www.okx.com/docs-v5/en/) describe it:
//! - auth (#overview-rest-authentication): `OK-ACCESS-KEY`,
//!   `OK-ACCESS-SIGN`, `OK-ACCESS-TIMESTAMP` (ISO 8601 UTC with
//!   milliseconds), `OK-ACCESS-PASSPHRASE` (plaintext); prehash
//!   `timestamp + METHOD + requestPath(+?query) + body`, Base64
//!   HMAC-SHA256; a timestamp more than 30 s from the server's clock is
//!   refused with 50102;
//! - codes and their HTTP statuses (#error-code-rest-api-public,
//!   #error-code-rest-api-account): 50102/50105/50110/50111/50113 with 401,
//!   50035 with 403, 50119, 59506, 59510 … with 200;
//! - limits (#overview-rate-limits and each endpoint): private calls per
//!   User ID — delete-apikey and modify-apikey 1 per second, the sub-key
//!   query 20 per 2 s, account/config 5 per 2 s — refused with 50011 in an
//!   HTTP 200 body; public/time 10 per 2 s per IP, refused with HTTP 429
//!   and 50011 "Too Many Requests";
//! - sub-account key management (#sub-account-rest-api-*): master keys
//!   only, bound to IP addresses (50035) and holding Trade (50120) for the
//!   writes; sub-accounts named by `subAcct` (`SimKey::sub_name`);
//! - creating a sub-account's key (#sub-account-rest-api-create-an-api-key-for-a-sub-account):
//!   `POST /api/v5/users/subaccount/apikey` with `subAcct`, `label`,
//!   `passphrase` required, `perm` (`read_only`, `trade`) and `ip` (up to
//!   20, comma-separated) optional; the reply's `data[0]` holds `subAcct`,
//!   `label`, `apiKey`, `secretKey`, `passphrase`, `perm`, `ip`, `ts`; 1
//!   request per second per User ID. The passphrase's documented rules (8
//!   to 32 characters with a lowercase and an uppercase letter, a digit and
//!   a special character) are checked; a refusal is the general parameter
//!   error 51000, the docs naming no code of its own that could be
//!   confirmed;
//! - the ND broker's equivalents under /api/v5/broker/nd/subaccount/
//!   (docs-v5/broker_en; python-okx `okx/NDBroker.py`), given the same
//!   limits as the sub-account endpoints (the broker docs' own could not be
//!   confirmed). A broker's master key is marked by the simulator-only
//!   permission [`ND_BROKER`]; its sub-accounts are ND sub-accounts, which
//!   the ordinary sub-account endpoints refuse (59619).
//!
//! Where the docs leave a choice open, the simulator picks one and says so:
//! a key that never existed gets 50111 (401), a deleted one 50119 (200);
//! auth is checked in the order headers, timestamp, key, passphrase,
//! signature, IP; querying a key that a sub-account does not hold gets 59506.

use super::common::{self, Answer, Dialect, OverIpLimit, Request, Unrouted};
use crate::ExchangeSim;
use crate::keys::NewKeyShape;
use crate::keys::SimKey;
use crate::limits::{FixedWindows, RollingWindows};
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use keyrevoke_core::sign::hmac_sha256_base64;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The exchange this dialect speaks, by its ccxt id.
pub const ID: keyrevoke_core::ExchangeId = keyrevoke_core::ExchangeId::new("okx");

/// public/time: 10 requests per 2 seconds per IP. OKX documents no IP-wide
/// limit for private calls (they are limited per User ID).
pub const IP_LIMIT: (u32, Duration) = (10, Duration::from_secs(2));
const TIMESTAMP_TOLERANCE_MS: i64 = 30_000;
const DELETE_PER_SEC: u32 = 1;
const MODIFY_PER_SEC: u32 = 1;
const QUERY_PER_2S: u32 = 20;
const CREATE_PER_SEC: u32 = 1;
const CONFIG_PER_2S: u32 = 5;
const RATE_LIMIT_MSG: &str =
    "Rate limit reached. Please refer to API documentation and throttle requests accordingly.";

/// Simulator-only marker (not an OKX permission, never shown in `perm`):
/// the key belongs to an ND broker's master account.
pub const ND_BROKER: &str = "nd_broker";
/// The `perm` values OKX knows.
const PERMS: &[&str] = &["read_only", "trade", "withdraw"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// /api/v5/users/subaccount/…: a master and its sub-accounts.
    Users,
    /// /api/v5/broker/nd/subaccount/…: an ND broker and its sub-accounts.
    Broker,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyOp {
    Query,
    Modify,
    Delete,
    Create,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    ServerTime,
    AccountConfig,
    SubKey(Family, KeyOp),
}

const ENDPOINTS: &[(&str, &str, Endpoint)] = &[
    ("GET", "/api/v5/public/time", Endpoint::ServerTime),
    ("GET", "/api/v5/account/config", Endpoint::AccountConfig),
    (
        "GET",
        "/api/v5/users/subaccount/apikey",
        Endpoint::SubKey(Family::Users, KeyOp::Query),
    ),
    (
        "POST",
        "/api/v5/users/subaccount/apikey",
        Endpoint::SubKey(Family::Users, KeyOp::Create),
    ),
    (
        "POST",
        "/api/v5/users/subaccount/modify-apikey",
        Endpoint::SubKey(Family::Users, KeyOp::Modify),
    ),
    (
        "POST",
        "/api/v5/users/subaccount/delete-apikey",
        Endpoint::SubKey(Family::Users, KeyOp::Delete),
    ),
    (
        "GET",
        "/api/v5/broker/nd/subaccount/apikey",
        Endpoint::SubKey(Family::Broker, KeyOp::Query),
    ),
    (
        "POST",
        "/api/v5/broker/nd/subaccount/modify-apikey",
        Endpoint::SubKey(Family::Broker, KeyOp::Modify),
    ),
    (
        "POST",
        "/api/v5/broker/nd/subaccount/delete-apikey",
        Endpoint::SubKey(Family::Broker, KeyOp::Delete),
    ),
];

/// The endpoint, or whether the path exists under another method.
fn route(method: &Method, path: &str) -> Result<Endpoint, bool> {
    match ENDPOINTS
        .iter()
        .find(|(m, p, _)| *p == path && *m == method.as_str())
    {
        Some((_, _, e)) => Ok(*e),
        None => Err(ENDPOINTS.iter().any(|(_, p, _)| *p == path)),
    }
}

struct Okx {
    sim: Arc<ExchangeSim>,
    delete: FixedWindows,
    modify: FixedWindows,
    query: FixedWindows,
    config: FixedWindows,
    /// Creates: a rolling window, so that no two creates ever pass within
    /// a second (the docs do not say whether OKX's windows are fixed).
    create: RollingWindows,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Okx {
        delete: FixedWindows::new(
            DELETE_PER_SEC,
            Duration::from_secs(1),
            sim.meter("uid_delete_key"),
        ),
        modify: FixedWindows::new(
            MODIFY_PER_SEC,
            Duration::from_secs(1),
            sim.meter("uid_modify_key"),
        ),
        query: FixedWindows::new(
            QUERY_PER_2S,
            Duration::from_secs(2),
            sim.meter("uid_query_key"),
        ),
        config: FixedWindows::new(
            CONFIG_PER_2S,
            Duration::from_secs(2),
            sim.meter("uid_account_config"),
        ),
        create: RollingWindows::new(
            CREATE_PER_SEC,
            Duration::from_secs(1),
            sim.meter("uid_create_key"),
        ),
        sim,
    })
}

/// A reply in OKX's envelope, with its HTTP status.
struct Reply {
    status: StatusCode,
    code: &'static str,
    msg: String,
    data: Value,
}

fn refuse(status: StatusCode, code: &'static str, msg: &str) -> Reply {
    Reply {
        status,
        code,
        msg: msg.to_string(),
        data: json!([]),
    }
}

fn ok(data: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        code: "0",
        msg: String::new(),
        data,
    }
}

fn envelope(reply: Reply) -> Response {
    let body = json!({ "code": reply.code, "msg": reply.msg, "data": reply.data });
    Response::builder()
        .status(reply.status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

impl Dialect for Okx {
    type Endpoint = Endpoint;

    fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    fn route(&self, method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
        route(method, path).map_err(|path_exists| {
            if path_exists {
                Unrouted::Refused(envelope(refuse(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "50115",
                    "Invalid request method.",
                )))
            } else {
                Unrouted::NotFound
            }
        })
    }

    fn ip_limited(&self, endpoint: Endpoint) -> bool {
        endpoint == Endpoint::ServerTime
    }

    /// Both families' `delete-apikey` name the key by `apiKey` in the body.
    fn delete_target(&self, endpoint: Endpoint, request: &Request) -> Option<String> {
        match endpoint {
            Endpoint::SubKey(_, KeyOp::Delete) => common::json_object(&request.body)
                .and_then(|b| b.get("apiKey").and_then(|k| k.as_str()).map(str::to_string)),
            _ => None,
        }
    }

    /// Over the per-IP limit OKX answers 429 (it documents no ban); the
    /// simulator's shared window also holds an excess against the IP for
    /// `SimConfig::ip_ban`, answered the same way.
    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        OverIpLimit::RateLimited(envelope(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "50011",
            "Too Many Requests",
        )))
    }

    fn injected_rate_limit(&self) -> Response {
        envelope(refuse(StatusCode::OK, "50011", RATE_LIMIT_MSG))
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            ok(json!([{ "ts": now.to_string() }]))
        } else {
            match authenticate(&self.sim, request, now) {
                Err(refusal) => refusal,
                Ok(caller) => match self.uid_limit(endpoint, &caller, now) {
                    Err(refusal) => return Answer::Limited(envelope(refusal)),
                    Ok(()) => self.act(endpoint, &caller, request),
                },
            }
        };
        Answer::replied(reply.code == "0", envelope(reply))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2020-12-08T09:08:57.715Z` -> Unix ms; anything else is not the
/// documented format.
pub fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let shape = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let n = |from: usize, to: usize| s[from..to].parse::<i64>().expect("digits");
    let (y, mo, d, h, mi, sec, ms) = (
        n(0, 4),
        n(5, 7),
        n(8, 10),
        n(11, 13),
        n(14, 16),
        n(17, 19),
        n(20, 23),
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

/// Check the auth headers as #overview-rest-authentication documents them.
fn authenticate(sim: &ExchangeSim, request: &Request, now: i64) -> Result<SimKey, Reply> {
    let h = |name: &str| {
        request
            .header(name)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let unauthorized = StatusCode::UNAUTHORIZED;
    let missing = |code: &'static str, name: &str| {
        Stats::bump(&sim.stats.missing_auth);
        refuse(
            unauthorized,
            code,
            &format!("Request header \"{name}\" cannot be empty."),
        )
    };
    let api_key = h("OK-ACCESS-KEY").ok_or_else(|| missing("50103", "OK-ACCESS-KEY"))?;
    let sign = h("OK-ACCESS-SIGN").ok_or_else(|| missing("50106", "OK-ACCESS-SIGN"))?;
    let timestamp =
        h("OK-ACCESS-TIMESTAMP").ok_or_else(|| missing("50107", "OK-ACCESS-TIMESTAMP"))?;
    let passphrase =
        h("OK-ACCESS-PASSPHRASE").ok_or_else(|| missing("50104", "OK-ACCESS-PASSPHRASE"))?;
    let Some(ts) = parse_iso_ms(&timestamp) else {
        Stats::bump(&sim.stats.stale_timestamp);
        return Err(refuse(unauthorized, "50112", "Invalid OK-ACCESS-TIMESTAMP"));
    };
    if (now - ts).abs() > TIMESTAMP_TOLERANCE_MS {
        Stats::bump(&sim.stats.stale_timestamp);
        return Err(refuse(unauthorized, "50102", "Timestamp request expired"));
    }
    let caller = match sim.keys.get(&api_key) {
        Some(k) if k.is_alive() => k,
        Some(_) => {
            Stats::bump(&sim.stats.unknown_key);
            return Err(refuse(StatusCode::OK, "50119", "API key doesn't exist"));
        }
        None => {
            Stats::bump(&sim.stats.unknown_key);
            return Err(refuse(unauthorized, "50111", "Invalid OK-ACCESS-KEY"));
        }
    };
    // A wrong passphrase is counted with bad signatures: both are wrong
    // credentials for a key that exists.
    if caller.passphrase.as_deref() != Some(passphrase.as_str()) {
        Stats::bump(&sim.stats.bad_signature);
        return Err(refuse(
            unauthorized,
            "50105",
            "Request header \"OK-ACCESS-PASSPHRASE\" incorrect.",
        ));
    }
    // The request path as sent, with its query: GET parameters are part of
    // requestPath, not of the body.
    let uri = &request.uri;
    let request_path = uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or(uri.path());
    let prehash = format!(
        "{timestamp}{}{request_path}{}",
        request.method.as_str(),
        String::from_utf8_lossy(&request.body)
    );
    if sign != hmac_sha256_base64(&caller.secret, &prehash) {
        Stats::bump(&sim.stats.bad_signature);
        return Err(refuse(unauthorized, "50113", "Invalid Sign"));
    }
    if !caller.allows_loopback() {
        return Err(refuse(
            unauthorized,
            "50110",
            "Your IP 127.0.0.1 is not included in your API key's IP whitelist.",
        ));
    }
    Ok(caller)
}

/// `perm` as OKX shows it: `read_only,trade`.
fn perm_of(k: &SimKey) -> String {
    if k.read_only {
        return "read_only".into();
    }
    let perms: Vec<&str> = k
        .permissions
        .iter()
        .map(String::as_str)
        .filter(|p| PERMS.contains(p))
        .collect();
    perms.join(",")
}

/// `ip` as OKX shows it: comma-separated, "" when unbound.
fn ip_of(k: &SimKey) -> String {
    let ips: Vec<&str> = k
        .ips
        .iter()
        .map(String::as_str)
        .filter(|ip| *ip != "*")
        .collect();
    ips.join(",")
}

fn ip_bound(k: &SimKey) -> bool {
    !ip_of(k).is_empty()
}

fn is_broker(k: &SimKey) -> bool {
    k.permissions.iter().any(|p| p == ND_BROKER)
}

/// A query-string parameter, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    common::form_value(&common::form_pairs(query), name).map(str::to_string)
}

impl Okx {
    fn uid_limit(&self, endpoint: Endpoint, caller: &SimKey, now: i64) -> Result<(), Reply> {
        if !self.sim.limits {
            return Ok(());
        }
        let (window, family) = match endpoint {
            Endpoint::ServerTime => return Ok(()),
            Endpoint::SubKey(_, KeyOp::Create) => {
                if self.create.hit(&caller.uid, now, 1).allowed {
                    return Ok(());
                }
                Stats::bump(&self.sim.stats.rate_limited);
                return Err(refuse(StatusCode::OK, "50011", RATE_LIMIT_MSG));
            }
            Endpoint::AccountConfig => (&self.config, "account"),
            Endpoint::SubKey(f, op) => (
                match op {
                    KeyOp::Query => &self.query,
                    KeyOp::Modify => &self.modify,
                    KeyOp::Delete => &self.delete,
                    KeyOp::Create => unreachable!("creates are counted above"),
                },
                if f == Family::Users {
                    "users"
                } else {
                    "broker"
                },
            ),
        };
        if window
            .hit(&format!("{}:{family}", caller.uid), now, 1)
            .allowed
        {
            return Ok(());
        }
        Stats::bump(&self.sim.stats.rate_limited);
        Err(refuse(StatusCode::OK, "50011", RATE_LIMIT_MSG))
    }

    fn act(&self, endpoint: Endpoint, caller: &SimKey, request: &Request) -> Reply {
        match endpoint {
            Endpoint::ServerTime => ok(json!([])),
            Endpoint::AccountConfig => {
                Stats::bump(&self.sim.stats.probes);
                ok(json!([{
                    "uid": caller.uid,
                    "mainUid": caller.parent_uid.clone().unwrap_or_else(|| caller.uid.clone()),
                    "acctLv": "2",
                    "label": "",
                    "ip": ip_of(caller),
                    "perm": perm_of(caller),
                    "type": if caller.is_master() { "0" } else { "1" },
                }]))
            }
            Endpoint::SubKey(family, op) => self.manage(family, op, caller, request),
        }
    }

    /// A new key of `sub_acct`, in the sub-account of `sibling` (one of its
    /// keys, live or not), as the create call's body asks.
    fn create(&self, caller: &SimKey, sub_acct: &str, sibling: &SimKey, params: &Value) -> Reply {
        let field = |name: &str| match params.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(refuse(
                StatusCode::BAD_REQUEST,
                "51000",
                &format!("Parameter {name} error"),
            )),
        };
        let (label, passphrase, perm, ip) = match (
            field("label"),
            field("passphrase"),
            field("perm"),
            field("ip"),
        ) {
            (Ok(l), Ok(p), Ok(perm), Ok(ip)) => (l, p, perm, ip),
            (Err(r), ..) | (_, Err(r), ..) | (.., Err(r), _) | (.., Err(r)) => return r,
        };
        let Some(label) = label.filter(|l| !l.is_empty()) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "50014",
                "Parameter label can not be empty.",
            );
        };
        let Some(passphrase) = passphrase.filter(|p| !p.is_empty()) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "50014",
                "Parameter passphrase can not be empty.",
            );
        };
        if !passphrase_is_valid(&passphrase) {
            return refuse(
                StatusCode::BAD_REQUEST,
                "51000",
                "Parameter passphrase error",
            );
        }
        let perms = list_of(perm.as_deref().unwrap_or("read_only"));
        if perms.iter().any(|p| p != "read_only" && p != "trade") {
            return refuse(StatusCode::BAD_REQUEST, "51000", "Parameter perm error");
        }
        let ips = list_of(ip.as_deref().unwrap_or(""));
        if ips.len() > 20 {
            return refuse(
                StatusCode::OK,
                "59503",
                "Each API key can bind up to 20 IP addresses",
            );
        }
        if common::first_bad_ip(&ips).is_some() {
            return refuse(StatusCode::BAD_REQUEST, "51000", "Parameter ip error");
        }
        let read_only = !perms.iter().any(|p| p == "trade");
        let key = self.sim.create_sub_key(
            caller,
            &sibling.uid,
            Some(sub_acct),
            NewKeyShape {
                label,
                permissions: perms,
                read_only,
                ips,
                passphrase: Some(passphrase),
                api_key_len: 36,
                secret_len: 32,
            },
        );
        let mut view = key_view(&key);
        view["subAcct"] = json!(sub_acct);
        view["secretKey"] = json!(key.secret);
        view["passphrase"] = json!(key.passphrase);
        ok(json!([view]))
    }

    fn manage(&self, family: Family, op: KeyOp, caller: &SimKey, request: &Request) -> Reply {
        let sim = &self.sim;
        if !caller.is_master() {
            return refuse(
                StatusCode::OK,
                "59500",
                "Only the API key of the main account has permission.",
            );
        }
        if family == Family::Broker && !is_broker(caller) {
            return refuse(
                StatusCode::OK,
                "59608",
                "Only Broker accounts have permission to access this API.",
            );
        }
        if op != KeyOp::Query {
            if !ip_bound(caller) {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "50035",
                    "This endpoint requires that APIKey must be bound to IP",
                );
            }
            if caller.read_only || !caller.permissions.iter().any(|p| p == "trade") {
                return refuse(
                    StatusCode::OK,
                    "50120",
                    "This API key doesn't have permission to use this function",
                );
            }
        }
        let params: Value = if op == KeyOp::Query {
            let query = request.query();
            json!({ "subAcct": query_param(query, "subAcct"), "apiKey": query_param(query, "apiKey") })
        } else {
            match common::json_object(&request.body) {
                Some(v) => v,
                None => return refuse(StatusCode::BAD_REQUEST, "50002", "JSON syntax error"),
            }
        };
        let text = |name: &str| {
            params[name]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let Some(sub_acct) = text("subAcct") else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "50014",
                "Parameter subAcct can not be empty.",
            );
        };
        let api_key = text("apiKey").filter(|_| op != KeyOp::Create);
        if matches!(op, KeyOp::Modify | KeyOp::Delete) && api_key.is_none() {
            return refuse(
                StatusCode::BAD_REQUEST,
                "50014",
                "Parameter apiKey can not be empty.",
            );
        }
        let in_sub = |k: &SimKey| {
            k.parent_uid.as_deref() == Some(caller.uid.as_str())
                && k.sub_name.as_deref() == Some(sub_acct.as_str())
        };
        let live: Vec<SimKey> = match api_key.as_deref() {
            // The named key alone: no scan of every key of the exchange on
            // each call.
            Some(a) => sim
                .keys
                .get(a)
                .filter(|k| in_sub(k) && k.is_alive())
                .into_iter()
                .collect(),
            None => sim.keys.filter(|k| in_sub(k) && k.is_alive()),
        };
        // A sub-account exists while any key, live or deleted, names it.
        if live.is_empty() && !sim.keys.any(in_sub) {
            return refuse(StatusCode::OK, "59510", "Sub-account does not exist");
        }
        if family == Family::Users && is_broker(caller) {
            return refuse(
                StatusCode::OK,
                "59619",
                "This endpoint does not support ND sub accounts. Please use the dedicated endpoint supported for ND brokers.",
            );
        }
        let no_such_key = || refuse(StatusCode::OK, "59506", "API key doesn't exist.");
        match op {
            KeyOp::Create => {
                // The sub-account's UID, from any of its keys, live or
                // deleted: a sub-account outlives its keys.
                let sibling = live
                    .first()
                    .cloned()
                    .or_else(|| sim.keys.filter(in_sub).into_iter().next())
                    .expect("the sub-account exists (checked above)");
                self.create(caller, &sub_acct, &sibling, &params)
            }
            KeyOp::Query => {
                Stats::bump(&sim.stats.probes);
                if api_key.is_some() && live.is_empty() {
                    return no_such_key();
                }
                ok(Value::Array(live.iter().map(key_view).collect()))
            }
            KeyOp::Delete => {
                let Some(target) = live.first() else {
                    return no_such_key();
                };
                sim.delete_key(&target.api_key);
                ok(json!([{ "subAcct": sub_acct }]))
            }
            KeyOp::Modify => {
                let Some(target) = live.first() else {
                    return no_such_key();
                };
                let allowed: &[&str] = match family {
                    // #sub-account-rest-api-reset-the-api-key-of-a-sub-account: read_only, trade.
                    Family::Users => &["read_only", "trade"],
                    // python-okx NDBroker: read_only, trade, withdraw.
                    Family::Broker => PERMS,
                };
                let perms: Option<Vec<String>> = match params.get("perm") {
                    None => None,
                    Some(Value::String(p)) => {
                        let list: Vec<String> =
                            p.split(',').map(|s| s.trim().to_string()).collect();
                        if list.iter().any(|p| !allowed.contains(&p.as_str())) {
                            return refuse(
                                StatusCode::BAD_REQUEST,
                                "51000",
                                "Parameter perm error",
                            );
                        }
                        Some(list)
                    }
                    Some(_) => {
                        return refuse(StatusCode::BAD_REQUEST, "51000", "Parameter perm error");
                    }
                };
                let ips: Option<Vec<String>> = match params.get("ip") {
                    None => None,
                    // "" unbinds every address.
                    Some(Value::String(s)) if s.is_empty() => Some(Vec::new()),
                    Some(Value::String(s)) => {
                        let list: Vec<String> =
                            s.split(',').map(|ip| ip.trim().to_string()).collect();
                        if list.len() > 20 {
                            return refuse(
                                StatusCode::OK,
                                "59503",
                                "Each API key can bind up to 20 IP addresses",
                            );
                        }
                        Some(list)
                    }
                    Some(_) => {
                        return refuse(StatusCode::BAD_REQUEST, "51000", "Parameter ip error");
                    }
                };
                sim.keys.update(&target.api_key, |k| {
                    if let Some(p) = perms {
                        k.read_only = !p.iter().any(|p| p == "trade" || p == "withdraw");
                        k.permissions = p;
                    }
                    if let Some(ips) = ips {
                        k.ips = ips;
                    }
                });
                Stats::bump(&sim.stats.disables);
                let updated = sim.keys.get(&target.api_key).expect("target exists");
                let mut view = key_view(&updated);
                view["subAcct"] = json!(sub_acct);
                ok(json!([view]))
            }
        }
    }
}

/// A key as the sub-key query shows it.
fn key_view(k: &SimKey) -> Value {
    json!({
        "label": k.label.clone().unwrap_or_default(),
        "apiKey": k.api_key,
        "perm": perm_of(k),
        "ip": ip_of(k),
        "ts": k.created_at_ms.to_string(),
    })
}

/// The documented passphrase rules of a created key: 8 to 32 characters,
/// with a lowercase and an uppercase letter, a digit and a special
/// character.
fn passphrase_is_valid(p: &str) -> bool {
    (8..=32).contains(&p.chars().count())
        && p.chars().any(|c| c.is_ascii_lowercase())
        && p.chars().any(|c| c.is_ascii_uppercase())
        && p.chars().any(|c| c.is_ascii_digit())
        && p.chars().any(|c| !c.is_ascii_alphanumeric())
}

/// A comma-separated list, trimmed, without empty items.
fn list_of(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Permission sets of synthetic keys, in account/config's `perm` names.
/// No OKX key can delete itself, whatever it holds.
pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable => &["read_only", "trade", "withdraw"],
        // Managing sub-account keys needs Trade.
        KeyKind::Master => &["read_only", "trade"],
        KeyKind::Sub => &["read_only", "trade"],
        KeyKind::TradeOnly => &["read_only", "trade"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_timestamp_format_parses_and_others_do_not() {
        assert_eq!(
            parse_iso_ms("2020-12-08T09:08:57.715Z"),
            Some(1_607_418_537_715)
        );
        assert_eq!(
            parse_iso_ms("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_iso_ms("1700000000123"),
            None,
            "Unix ms is not ISO 8601"
        );
        assert_eq!(
            parse_iso_ms("2023-11-14T22:13:20Z"),
            None,
            "milliseconds are required"
        );
        assert_eq!(parse_iso_ms("2023-11-14T22:13:20.123+00:00"), None);
    }

    #[test]
    fn query_parameters_are_percent_decoded() {
        assert_eq!(
            query_param("subAcct=sub+1&apiKey=a%26b", "apiKey").as_deref(),
            Some("a&b")
        );
        assert_eq!(
            query_param("subAcct=sub+1&apiKey=a%26b", "subAcct").as_deref(),
            Some("sub 1")
        );
        assert_eq!(query_param("subAcct=x", "apiKey"), None);
    }
}
