//! KuCoin, as its docs describe it:
//! - auth (https://www.kucoin.com/docs-new/authentication): headers
//!   `KC-API-KEY`, `KC-API-SIGN`, `KC-API-TIMESTAMP` (ms),
//!   `KC-API-PASSPHRASE`, `KC-API-KEY-VERSION`; `KC-API-SIGN` =
//!   base64(HMAC-SHA256(secret, timestamp + METHOD + path(?query) + body))
//!   with the query as it reads before URL-encoding; `KC-API-PASSPHRASE` =
//!   base64(HMAC-SHA256(secret, passphrase)) for key versions 2 and 3
//!   (https://www.kucoin.com/docs/basic-info/connection-method/authentication/signing-a-message);
//!   the timestamp must differ from server time by less than 5 s
//!   (https://www.kucoin.com/docs/basic-info/connection-method/types/timestamps);
//! - codes (https://www.kucoin.com/docs-new/error-code/websocket "GATEWAY
//!   ERROR CODE", https://www.kucoin.com/zh-hant/docs/basic-info/errors-code/spot-errors-code):
//!   400001 missing header, 400002 timestamp, 400003 no such key, 400004
//!   passphrase, 400005 signature, 400006 IP not whitelisted, 400007 access
//!   denied, 400009 key version, 400100 parameter error, 415000 content
//!   type; gateway refusals come with an HTTP error status (400 for 400002,
//!   401 for the credential codes, 403 for 400006: see connectors/kucoin
//!   errors.rs), business refusals inside HTTP 200;
//! - limits (https://www.kucoin.com/docs-new/rate-limit): per-UID
//!   Management pool 2000 per 30 s (VIP0), per-IP Public pool 2000 per 30 s,
//!   each window starting at the first request; HTTP 429 with 429000 beyond;
//!   every reply carries `gw-ratelimit-limit`, `-remaining`, `-reset` (ms);
//!   the front limit per IP, 500 per 10 s, error code 1015, 30 s block
//!   (https://www.kucoin.com/docs/basic-info/request-rate-limit/rest-api);
//! - endpoints (docs-new api-3470130, -3470136, -3470137, -3470139,
//!   -3470156): weights 20, 20, 30, 30, 3;
//! - creating a sub key (Create Sub-Account API,
//!   https://www.kucoin.com/docs/rest/account/sub-account-api/create-sub-account-api):
//!   `POST /api/v1/sub/api-key`, a master key with "General", Management
//!   weight 20; JSON body `subName`, `passphrase` (7 to 32 characters, no
//!   spaces), `remark` (1 to 24 characters) required, `permission`
//!   (General, Spot, Futures, Margin, InnerTransfer; default General),
//!   `ipWhitelist` (up to 20), `expire` optional; the reply's `data` holds
//!   `subName`, `remark`, `apiKey`, `apiSecret`, `passphrase`,
//!   `permission`, `ipWhitelist`, `createdAt`. The docs give no codes for
//!   its refusals: the simulator answers the generic parameter error
//!   400100.
//!
//! Sub accounts are named: a sub key's `sub_name` is its `subName`.

use super::common::{self, Answer, Dialect, OverIpLimit, Request, Unrouted, form_value};
use crate::ExchangeSim;
use crate::keys::{NewKeyShape, SimKey};
use crate::stats::Stats;
use crate::usage::TierMeter;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use keyrevoke_core::sign::hmac_sha256_base64;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The exchange this dialect speaks, by its ccxt id.
pub const ID: keyrevoke_core::ExchangeId = keyrevoke_core::ExchangeId::new("kucoin");

/// The front (Cloudflare) limit per IP: 500 requests per 10 s.
pub const IP_LIMIT: (u32, Duration) = (500, Duration::from_secs(10));
const MANAGEMENT_POOL: u32 = 2000;
const PUBLIC_POOL: u32 = 2000;
const POOL_PERIOD_MS: i64 = 30_000;
/// "less than 5 seconds" from server time.
const TIMESTAMP_TOLERANCE_MS: i64 = 5000;
const SUCCESS: &str = "200000";
/// The permissions `sub/api-key/update` may set (docs-new api-3470139).
const SETTABLE_PERMISSIONS: &[&str] = &["General", "Spot", "Futures", "Margin", "InnerTransfer"];
/// At most 20 IPs per key.
const MAX_WHITELIST: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    ServerTime,
    QueryKey,
    ListSubKeys,
    DeleteSubKey,
    UpdateSubKey,
    CreateSubKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pool {
    Management,
    Public,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        use Endpoint::*;
        Some(match (method.as_str(), path) {
            ("GET", "/api/v1/timestamp") => ServerTime,
            ("GET", "/api/v1/user/api-key") => QueryKey,
            ("GET", "/api/v1/sub/api-key") => ListSubKeys,
            ("DELETE", "/api/v1/sub/api-key") => DeleteSubKey,
            ("POST", "/api/v1/sub/api-key/update") => UpdateSubKey,
            ("POST", "/api/v1/sub/api-key") => CreateSubKey,
            _ => return None,
        })
    }

    fn pool(self) -> Pool {
        match self {
            Endpoint::ServerTime => Pool::Public,
            _ => Pool::Management,
        }
    }

    fn weight(self) -> u32 {
        match self {
            Endpoint::ServerTime => 3,
            Endpoint::QueryKey | Endpoint::ListSubKeys | Endpoint::CreateSubKey => 20,
            Endpoint::DeleteSubKey | Endpoint::UpdateSubKey => 30,
        }
    }
}

/// KuCoin's resource pools: a quota per key (UID or IP) over 30 s windows,
/// each starting "from the arrival time of the user's first request" (so
/// not aligned to the clock, unlike `crate::limits::FixedWindows`).
struct Pools {
    capacity: u32,
    meter: TierMeter,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

/// `gw-ratelimit-limit`, `-remaining`, `-reset` (ms to go).
#[derive(Clone, Copy, Debug)]
struct PoolUsage {
    limit: u32,
    remaining: u32,
    reset_ms: i64,
}

impl Pools {
    fn new(capacity: u32, meter: TierMeter) -> Self {
        Pools {
            capacity,
            meter: meter.of_limit(capacity, Duration::from_millis(POOL_PERIOD_MS as u64)),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Spend `weight`; Err when the quota cannot cover it.
    fn spend(&self, key: &str, now: i64, weight: u32) -> Result<PoolUsage, PoolUsage> {
        let mut windows = self.windows.lock().unwrap();
        let w = windows.entry(key.to_string()).or_insert((now, 0));
        if now >= w.0 + POOL_PERIOD_MS {
            *w = (now, 0);
        }
        let usage = |used: u32| PoolUsage {
            limit: self.capacity,
            remaining: self.capacity.saturating_sub(used),
            reset_ms: w.0 + POOL_PERIOD_MS - now,
        };
        if w.1 + weight > self.capacity {
            return Err(usage(w.1));
        }
        w.1 += weight;
        self.meter.accepted(key, weight, now);
        Ok(usage(w.1))
    }
}

struct Kucoin {
    sim: Arc<ExchangeSim>,
    management: Pools,
    public: Pools,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Kucoin {
        management: Pools::new(MANAGEMENT_POOL, sim.meter("management_uid")),
        public: Pools::new(PUBLIC_POOL, sim.meter("public_ip")),
        sim,
    })
}

/// A reply in KuCoin's envelope.
struct Reply {
    status: StatusCode,
    code: &'static str,
    msg: String,
    data: Value,
    usage: Option<PoolUsage>,
}

fn ok(data: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        code: SUCCESS,
        msg: String::new(),
        data,
        usage: None,
    }
}

fn refuse(status: StatusCode, code: &'static str, msg: &str) -> Reply {
    Reply {
        status,
        code,
        msg: msg.to_string(),
        data: Value::Null,
        usage: None,
    }
}

/// A business refusal: HTTP 200 with the code in the body.
fn parameter_error(msg: &str) -> Reply {
    refuse(StatusCode::OK, "400100", msg)
}

fn too_many_requests(usage: PoolUsage) -> Reply {
    Reply {
        usage: Some(usage),
        ..refuse(StatusCode::TOO_MANY_REQUESTS, "429000", "Too Many Requests")
    }
}

impl Dialect for Kucoin {
    type Endpoint = Endpoint;

    fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    fn route(&self, method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
        Endpoint::parse(method, path).ok_or(Unrouted::NotFound)
    }

    fn not_found(&self) -> Response {
        envelope(refuse(StatusCode::NOT_FOUND, "404000", "Url Not Found"))
    }

    /// The deletion names the sub key by `apiKey` in the query.
    fn delete_target(&self, endpoint: Endpoint, request: &Request) -> Option<String> {
        if endpoint != Endpoint::DeleteSubKey {
            return None;
        }
        common::form_value(&common::form_pairs(request.query()), "apiKey").map(str::to_string)
    }

    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        OverIpLimit::Banned(front_limit(self.sim.ip_ban))
    }

    fn injected_rate_limit(&self) -> Response {
        envelope(too_many_requests(PoolUsage {
            limit: MANAGEMENT_POOL,
            remaining: 0,
            reset_ms: POOL_PERIOD_MS,
        }))
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            // The Public pool is counted per IP; everything here is loopback.
            match self.spend(endpoint, "127.0.0.1", now) {
                Err(refusal) => refusal,
                Ok(usage) => Reply {
                    usage: Some(usage),
                    ..ok(json!(now))
                },
            }
        } else {
            match authenticate(&self.sim, request, now) {
                Err(refusal) => refusal,
                Ok(caller) => match self.spend(endpoint, &caller.uid, now) {
                    Err(refusal) => return Answer::Limited(envelope(refusal)),
                    Ok(usage) => Reply {
                        usage: Some(usage),
                        ..self.act(endpoint, &caller, request)
                    },
                },
            }
        };
        Answer::replied(reply.code == SUCCESS, envelope(reply))
    }
}

fn envelope(reply: Reply) -> Response {
    let body = if reply.code == SUCCESS {
        json!({ "code": reply.code, "data": reply.data })
    } else {
        json!({ "code": reply.code, "msg": reply.msg })
    };
    let mut builder = Response::builder()
        .status(reply.status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(u) = reply.usage {
        builder = builder
            .header("gw-ratelimit-limit", u.limit.to_string())
            .header("gw-ratelimit-remaining", u.remaining.to_string())
            .header("gw-ratelimit-reset", u.reset_ms.to_string());
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

/// The front limit's refusal: Cloudflare's "error code: 1015" page, HTTP
/// 429, with the block in `Retry-After` (seconds).
fn front_limit(block: Duration) -> Response {
    Response::builder()
        .status(StatusCode::TOO_MANY_REQUESTS)
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::RETRY_AFTER, block.as_secs().max(1).to_string())
        .body(Body::from("error code: 1015"))
        .expect("static response")
}

/// Check the auth headers as the docs describe them; the calling key.
fn authenticate(sim: &ExchangeSim, request: &Request, now: i64) -> Result<SimKey, Reply> {
    let h = |name: &str| request.header(name).map(str::to_string);
    let unauthorized = StatusCode::UNAUTHORIZED;
    let (Some(api_key), Some(sign), Some(timestamp), Some(passphrase)) = (
        h("KC-API-KEY"),
        h("KC-API-SIGN"),
        h("KC-API-TIMESTAMP"),
        h("KC-API-PASSPHRASE"),
    ) else {
        Stats::bump(&sim.stats.missing_auth);
        return Err(refuse(
            unauthorized,
            "400001",
            "Any of KC-API-KEY, KC-API-SIGN, KC-API-TIMESTAMP, KC-API-PASSPHRASE is missing in your request header.",
        ));
    };
    // Versions 2 and 3 both carry the passphrase as an HMAC; the simulator's
    // keys are of the current kind (the docs' key creation answers
    // `apiVersion: 3`).
    if !matches!(h("KC-API-KEY-VERSION").as_deref(), Some("2" | "3")) {
        return Err(refuse(
            unauthorized,
            "400009",
            "Invalid KC-API-KEY-VERSION.",
        ));
    }
    let ts = match timestamp.parse::<i64>() {
        Ok(ts) if (now - ts).abs() < TIMESTAMP_TOLERANCE_MS => ts,
        _ => {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "400002",
                "Invalid KC-API-TIMESTAMP",
            ));
        }
    };
    let Some(caller) = sim.live_key(&api_key) else {
        return Err(refuse(unauthorized, "400003", "KC-API-KEY not exists"));
    };
    let expected_passphrase = caller
        .passphrase
        .as_deref()
        .map(|p| hmac_sha256_base64(&caller.secret, p));
    if expected_passphrase.as_deref() != Some(passphrase.as_str()) {
        return Err(refuse(unauthorized, "400004", "Invalid KC-API-PASSPHRASE"));
    }
    // The docs sign the query as it read before URL-encoding.
    let query = request.query();
    let path = request.uri.path();
    let endpoint = if query.is_empty() {
        path.to_string()
    } else {
        let raw: Vec<String> = common::form_pairs(query)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{path}?{}", raw.join("&"))
    };
    let prehash = format!(
        "{ts}{}{endpoint}{}",
        request.method.as_str(),
        String::from_utf8_lossy(&request.body)
    );
    if sign != hmac_sha256_base64(&caller.secret, &prehash) {
        Stats::bump(&sim.stats.bad_signature);
        return Err(refuse(unauthorized, "400005", "Invalid KC-API-SIGN"));
    }
    if !caller.allows_loopback() {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "400006",
            "Invalid request ip, the current clientIp is:127.0.0.1",
        ));
    }
    Ok(caller)
}

impl Kucoin {
    fn spend(&self, endpoint: Endpoint, who: &str, now: i64) -> Result<PoolUsage, Reply> {
        let pools = match endpoint.pool() {
            Pool::Management => &self.management,
            Pool::Public => &self.public,
        };
        if !self.sim.limits {
            // Nothing is counted, so nothing is used: a header claiming a
            // spent quota would make a client wait for nothing.
            return Ok(PoolUsage {
                limit: pools.capacity,
                remaining: pools.capacity,
                reset_ms: POOL_PERIOD_MS,
            });
        }
        match pools.spend(who, now, endpoint.weight()) {
            Ok(usage) => Ok(usage),
            Err(usage) => {
                Stats::bump(&self.sim.stats.rate_limited);
                Err(too_many_requests(usage))
            }
        }
    }

    fn act(&self, endpoint: Endpoint, caller: &SimKey, request: &Request) -> Reply {
        let sim = &self.sim;
        let pairs = common::form_pairs(request.query());
        // Managing sub keys needs a master key with "General".
        let managing = matches!(
            endpoint,
            Endpoint::ListSubKeys
                | Endpoint::DeleteSubKey
                | Endpoint::UpdateSubKey
                | Endpoint::CreateSubKey
        );
        if managing && (!caller.is_master() || !caller.has_any(&["General"])) {
            return refuse(
                StatusCode::FORBIDDEN,
                "400007",
                "Access denied, require more permission.",
            );
        }
        match endpoint {
            Endpoint::ServerTime => ok(json!(sim.now_ms())),
            Endpoint::QueryKey => {
                Stats::bump(&sim.stats.probes);
                ok(key_info(caller))
            }
            Endpoint::ListSubKeys => {
                let Some(sub_name) = form_value(&pairs, "subName") else {
                    return parameter_error("subName is required");
                };
                let filter = form_value(&pairs, "apiKey");
                let keys = sim.keys.filter(|k| {
                    k.is_alive()
                        && k.parent_uid.as_deref() == Some(caller.uid.as_str())
                        && k.sub_name.as_deref() == Some(sub_name)
                        && filter.is_none_or(|f| f == k.api_key)
                });
                Stats::bump(&sim.stats.probes);
                ok(Value::Array(keys.iter().map(key_info).collect()))
            }
            Endpoint::DeleteSubKey => {
                let (Some(api_key), Some(sub_name), Some(passphrase)) = (
                    form_value(&pairs, "apiKey"),
                    form_value(&pairs, "subName"),
                    form_value(&pairs, "passphrase"),
                ) else {
                    return parameter_error("apiKey, subName and passphrase are required");
                };
                let target = match self.sub_key_of(caller, api_key, sub_name, passphrase) {
                    Ok(t) => t,
                    Err(refusal) => return refusal,
                };
                sim.delete_key(&target.api_key);
                ok(json!({ "subName": sub_name, "apiKey": api_key }))
            }
            Endpoint::CreateSubKey => match json_params(request) {
                Ok(params) => self.create_sub_key(caller, &params),
                Err(refusal) => refusal,
            },
            Endpoint::UpdateSubKey => {
                let params = match json_params(request) {
                    Ok(p) => p,
                    Err(refusal) => return refusal,
                };
                let text = |name: &str| params.get(name).and_then(Value::as_str);
                let (Some(api_key), Some(sub_name), Some(passphrase)) =
                    (text("apiKey"), text("subName"), text("passphrase"))
                else {
                    return parameter_error("subName, apiKey and passphrase are required");
                };
                let target = match self.sub_key_of(caller, api_key, sub_name, passphrase) {
                    Ok(t) => t,
                    Err(refusal) => return refusal,
                };
                let permissions: Option<Vec<String>> = text("permission").map(split_list);
                if let Some(p) = &permissions
                    && p.iter()
                        .any(|p| !SETTABLE_PERMISSIONS.contains(&p.as_str()))
                {
                    return parameter_error(
                        "only General, Spot, Futures, Margin, InnerTransfer can be set",
                    );
                }
                let ips: Option<Vec<String>> = text("ipWhitelist").map(split_list);
                if ips.as_ref().is_some_and(|ips| ips.len() > MAX_WHITELIST) {
                    return parameter_error("at most 20 IPs");
                }
                sim.keys.update(&target.api_key, |k| {
                    if let Some(p) = permissions {
                        k.read_only = p.iter().all(|p| p == "General");
                        k.permissions = p;
                    }
                    if let Some(ips) = ips {
                        k.ips = ips;
                    }
                });
                Stats::bump(&sim.stats.disables);
                let k = sim.keys.get(&target.api_key).expect("target exists");
                ok(json!({
                    "subName": sub_name,
                    "apiKey": api_key,
                    "permission": k.permissions.join(","),
                    "ipWhitelist": masked_whitelist(&k.ips),
                }))
            }
        }
    }

    /// A new key of the caller's sub account `subName`, as the body asks.
    fn create_sub_key(&self, caller: &SimKey, params: &Value) -> Reply {
        let text = |name: &str| params.get(name).and_then(Value::as_str);
        let (Some(sub_name), Some(passphrase), Some(remark)) =
            (text("subName"), text("passphrase"), text("remark"))
        else {
            return parameter_error("subName, passphrase and remark are required");
        };
        if !(7..=32).contains(&passphrase.chars().count()) || passphrase.contains(' ') {
            return parameter_error("passphrase: 7 to 32 characters, no spaces");
        }
        if !(1..=24).contains(&remark.chars().count()) {
            return parameter_error("remark: 1 to 24 characters");
        }
        let permissions = split_list(text("permission").unwrap_or("General"));
        if permissions
            .iter()
            .any(|p| !SETTABLE_PERMISSIONS.contains(&p.as_str()))
        {
            return parameter_error(
                "only General, Spot, Futures, Margin, InnerTransfer can be set",
            );
        }
        let ips = split_list(text("ipWhitelist").unwrap_or(""));
        if ips.len() > MAX_WHITELIST {
            return parameter_error("at most 20 IPs");
        }
        if let Some(bad) = common::first_bad_ip(&ips) {
            return parameter_error(&format!("ipWhitelist: {bad} is not an IP address"));
        }
        // A sub account exists while any key, live or deleted, names it.
        let Some(sibling) = self
            .sim
            .keys
            .filter(|k| {
                k.parent_uid.as_deref() == Some(caller.uid.as_str())
                    && k.sub_name.as_deref() == Some(sub_name)
            })
            .into_iter()
            .next()
        else {
            return parameter_error("sub account does not exist");
        };
        let read_only = permissions.iter().all(|p| p == "General");
        let key = self.sim.create_sub_key(
            caller,
            &sibling.uid,
            Some(sub_name),
            NewKeyShape {
                label: remark.to_string(),
                permissions,
                read_only,
                ips,
                passphrase: Some(passphrase.to_string()),
                api_key_len: 24,
                secret_len: 36,
            },
        );
        ok(json!({
            "subName": sub_name,
            "remark": remark,
            "apiKey": key.api_key,
            "apiSecret": key.secret,
            "passphrase": passphrase,
            "permission": key.permissions.join(","),
            "ipWhitelist": masked_whitelist(&key.ips),
            "createdAt": key.created_at_ms,
        }))
    }

    /// The caller's live sub key `api_key` in sub account `sub_name`, if the
    /// quoted passphrase is the sub key's own. The docs give no code for
    /// these refusals; the simulator answers the generic parameter error.
    fn sub_key_of(
        &self,
        caller: &SimKey,
        api_key: &str,
        sub_name: &str,
        passphrase: &str,
    ) -> Result<SimKey, Reply> {
        match self.sim.keys.get(api_key) {
            Some(t)
                if t.is_alive()
                    && t.parent_uid.as_deref() == Some(caller.uid.as_str())
                    && t.sub_name.as_deref() == Some(sub_name) =>
            {
                if t.passphrase.as_deref() != Some(passphrase) {
                    return Err(parameter_error("the passphrase does not match the API key"));
                }
                Ok(t)
            }
            _ => Err(parameter_error(
                "the API key does not exist under this sub account",
            )),
        }
    }
}

/// A JSON object body, sent as JSON (415000 otherwise).
fn json_params(request: &Request) -> Result<Value, Reply> {
    let json_body = request
        .header(header::CONTENT_TYPE.as_str())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_body {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "415000",
            "Unsupported Media Type",
        ));
    }
    common::json_object(&request.body)
        .ok_or_else(|| parameter_error("the body is not a JSON object"))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// IPs as the docs' responses show them: `203.**.154`.
fn masked_whitelist(ips: &[String]) -> String {
    ips.iter()
        .filter(|ip| ip.as_str() != "*")
        .map(|ip| match (ip.split('.').next(), ip.rsplit('.').next()) {
            (Some(first), Some(last)) if ip.contains('.') => format!("{first}.**.{last}"),
            _ => ip.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `user/api-key`'s `data` (and one item of `sub/api-key`).
fn key_info(k: &SimKey) -> Value {
    let mut info = json!({
        "remark": k.label.clone().unwrap_or_default(),
        "apiKey": k.api_key,
        "apiVersion": 3,
        "permission": k.permissions.join(","),
        "createdAt": k.created_at_ms,
        "uid": k.uid.parse::<u64>().unwrap_or(0),
        "isMaster": k.is_master(),
    });
    let whitelist = masked_whitelist(&k.ips);
    if !whitelist.is_empty() {
        info["ipWhitelist"] = json!(whitelist);
    }
    if let Some(name) = &k.sub_name {
        info["subName"] = json!(name);
    }
    info
}

/// Permission sets of synthetic keys, in `user/api-key`'s names. No KuCoin
/// key can delete itself; masters hold "General" to manage sub keys.
pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable => &["General", "Spot", "Transfer"],
        KeyKind::Master => &["General", "Spot", "InnerTransfer"],
        KeyKind::Sub => &["General", "Spot", "Futures"],
        KeyKind::TradeOnly => &["General", "Spot"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_decoded_as_it_was_before_encoding() {
        let pairs = common::form_pairs("apiKey=67*b3&subName=test&passphrase=abc%21%40%2311");
        assert_eq!(form_value(&pairs, "passphrase"), Some("abc!@#11"));
        assert_eq!(common::form_decode("a+b%2Bc%"), "a b+c%");
    }

    #[test]
    fn a_pool_window_starts_at_the_first_request() {
        let pools = Pools::new(60, TierMeter::unrecorded());
        assert_eq!(pools.spend("u", 1_000, 30).unwrap().reset_ms, 30_000);
        let second = pools.spend("u", 11_000, 30).unwrap();
        assert_eq!((second.remaining, second.reset_ms), (0, 20_000));
        assert!(
            pools.spend("u", 30_999, 1).is_err(),
            "the quota is spent until 30 s after the first request"
        );
        assert_eq!(
            pools.spend("u", 31_000, 30).unwrap().remaining,
            30,
            "a new window"
        );
        assert!(
            pools.spend("other", 31_000, 30).is_ok(),
            "another UID has its own pool"
        );
    }
}
