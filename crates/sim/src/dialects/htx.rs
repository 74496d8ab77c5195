//! HTX (Huobi), as its API docs, the official SDK
//! (HuobiRDCenter/huobi_Python) and the project's notes
//! (`exchanges/htx.md`) document it:
//! - auth ("Authentication", signature version 2): the query string
//!   carries `AccessKeyId`, `SignatureMethod=HmacSHA256`,
//!   `SignatureVersion=2`, `Timestamp` (UTC `YYYY-MM-DDThh:mm:ss`) and
//!   `Signature` = Base64 HMAC-SHA256 of `METHOD\nhost\npath\nquery`: the
//!   host lower-cased, as the request names it (`Host`, with its port:
//!   "the Host in the signature must be the Host of the request"), the
//!   query's other pairs URL-encoded with upper-case hex and sorted by name
//!   in ASCII order. The POST body is not signed. Refusals are HTTP 200
//!   `{"status": "error", "err-code": "api-signature-not-valid", "err-msg"}`
//!   whose message names the fault ("Incorrect Access key", "Verification
//!   failure", "Invalid submission time or incorrect time format",
//!   "Incorrect IP address"); no `AccessKeyId` or `Signature` is
//!   `login-required`.
//! - the timestamp window: the docs say "valid within 5 minutes" in one
//!   place and that the gap "should be less than 1 minute" in another
//!   (FAQ); the simulator holds the stricter, 60 s, so that a client it
//!   accepts is accepted by HTX.
//! - sub users ("Sub-account Management"): only the parent user deletes
//!   (Trade permission), modifies (Trade) and queries (Read) its sub users'
//!   keys and lists its sub users (Read); replies are v2
//!   `{"code": 200, "data"}`, refusals `{"code", "message"}` (1002
//!   forbidden, 2002 invalid field value). The modification's
//!   `permission` must include `readOnly` (plus `trade` or not);
//!   `ipAddresses` takes at most 20 IPv4/IPv6 hosts or IPv4 networks.
//! - limits ("Rate Limiting Rule"): 10 requests per second per API key,
//!   every endpoint together; 10 per second per IP without a key. No ban
//!   is documented.
//! - undocumented, chosen here: a field left out of the modification
//!   leaves the key's value as it was; a key or sub user the parent does
//!   not own is 2002 "invalid field value"; a key without the endpoint's
//!   permission is `api-signature-not-valid` "API key has no permission"
//!   (the notes' wording); an excess is HTTP 429
//!   `base-request-exceed-frequency-limit` with
//!   `X-HB-RateLimit-Requests-Remain: 0` and
//!   `X-HB-RateLimit-Requests-Expire` (Unix ms); the sub-user list is
//!   paged by 100.
//!
//! A sub user is numbered (`SimKey::uid`); its keys hold `readOnly` and
//! `trade` (a parent's may hold `withdraw` too).

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
use keyrevoke_core::sign::{hmac_sha256_base64, percent_encode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const ID: ExchangeId = ExchangeId::new("htx");

/// Unsigned requests: 10 per second per IP.
pub const IP_LIMIT: (u32, Duration) = (10, Duration::from_secs(1));
/// Signed requests: 10 per second per API key.
const PER_KEY_PER_SECOND: u32 = 10;
/// The largest gap between `Timestamp` and the server's clock (see above).
const MAX_CLOCK_GAP_S: i64 = 60;
/// Sub users listed per page (undocumented).
const SUB_USERS_PER_PAGE: usize = 100;
const MAX_IPS: usize = 20;

/// Key permission names.
pub const READ_ONLY: &str = "readOnly";
pub const TRADE: &str = "trade";
pub const WITHDRAW: &str = "withdraw";

const SIGNATURE_NOT_VALID: &str = "api-signature-not-valid";
pub const INCORRECT_ACCESS_KEY: &str = "Signature not valid: Incorrect Access key [Access key错误]";
pub const VERIFICATION_FAILURE: &str = "Signature not valid: Verification failure [校验失败]";
pub const INVALID_TIME: &str = "Signature not valid: Invalid submission time or incorrect time format [无效的提交时间，或时间格式错误]";
pub const INCORRECT_IP: &str = "Signature not valid: Incorrect IP address [IP地址错误]";
pub const NO_PERMISSION: &str = "API key has no permission";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ServerTime,
    Uid,
    QueryKeys,
    ListSubUsers,
    DeleteSubKey,
    ModifySubKey,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        Some(match (method.as_str(), path) {
            ("GET", "/v1/common/timestamp") => Endpoint::ServerTime,
            ("GET", "/v2/user/uid") => Endpoint::Uid,
            ("GET", "/v2/user/api-key") => Endpoint::QueryKeys,
            ("GET", "/v2/sub-user/user-list") => Endpoint::ListSubUsers,
            ("POST", "/v2/sub-user/api-key-deletion") => Endpoint::DeleteSubKey,
            ("POST", "/v2/sub-user/api-key-modification") => Endpoint::ModifySubKey,
            _ => return None,
        })
    }
}

struct Htx {
    sim: Arc<ExchangeSim>,
    /// Every signed request of one key, per second.
    per_key: FixedWindows,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Htx {
        per_key: FixedWindows::new(
            PER_KEY_PER_SECOND,
            Duration::from_secs(1),
            sim.meter("key_requests"),
        ),
        sim,
    })
}

struct Reply {
    status: StatusCode,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn ok(&self) -> bool {
        self.status.is_success()
            && (self.body["code"] == 200 || self.body["status"].as_str() == Some("ok"))
    }
}

fn reply(body: Value) -> Reply {
    Reply {
        status: StatusCode::OK,
        body,
        headers: Vec::new(),
    }
}

/// A v2 success.
fn ok(data: Value) -> Reply {
    reply(json!({ "code": 200, "data": data }))
}

/// The gateway's refusal (v1 shape).
fn refuse(err_code: &str, err_msg: &str) -> Reply {
    reply(json!({ "status": "error", "err-code": err_code, "err-msg": err_msg, "data": null }))
}

/// A v2 refusal.
fn refuse_v2(code: i64, message: &str) -> Reply {
    reply(json!({ "code": code, "message": message, "data": null }))
}

fn invalid(message: &str) -> Reply {
    refuse_v2(2002, message)
}

fn too_many(expire_at_ms: i64) -> Reply {
    Reply {
        status: StatusCode::TOO_MANY_REQUESTS,
        headers: vec![
            ("X-HB-RateLimit-Requests-Remain", "0".into()),
            ("X-HB-RateLimit-Requests-Expire", expire_at_ms.to_string()),
        ],
        ..refuse(
            "base-request-exceed-frequency-limit",
            "Frequency of requests has exceeded the limit, please try again later",
        )
    }
}

fn respond(reply: Reply) -> Response {
    let mut builder = Response::builder()
        .status(reply.status)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in &reply.headers {
        builder = builder.header(*name, value);
    }
    builder
        .body(Body::from(reply.body.to_string()))
        .expect("valid response")
}

impl Dialect for Htx {
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
        common::json_object(&request.body)?["accessKey"]
            .as_str()
            .map(str::to_string)
    }

    /// HTX documents no ban: every excess is a rate-limit reply.
    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        let expire = self.sim.now_ms() + self.sim.ip_ban.as_millis() as i64;
        OverIpLimit::RateLimited(respond(too_many(expire)))
    }

    fn injected_rate_limit(&self) -> Response {
        respond(too_many(self.sim.now_ms() + 1000))
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let reply = if endpoint == Endpoint::ServerTime {
            reply(json!({ "status": "ok", "data": now }))
        } else {
            match self.authenticate(request, now) {
                Err(refusal) => refusal,
                Ok(caller) => match self.limit(&caller, now) {
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
        Answer::replied(reply.ok(), respond(reply))
    }
}

/// The text HTX signs, rebuilt from the request as received: the other
/// pairs decoded, encoded again the documented way, sorted by name.
fn prehash(request: &Request, pairs: &[(String, String)]) -> String {
    let mut signed: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(name, _)| name != "Signature")
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    let query = signed
        .iter()
        .map(|(name, value)| format!("{name}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let host = request.header("host").unwrap_or("").to_ascii_lowercase();
    format!(
        "{}\n{host}\n{}\n{query}",
        request.method.as_str(),
        request.uri.path()
    )
}

/// `YYYY-MM-DDThh:mm:ss`, UTC, as Unix seconds.
fn parse_timestamp(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

impl Htx {
    /// Check a signature-version-2 request as the docs describe it.
    fn authenticate(&self, request: &Request, now: i64) -> Result<SimKey, Reply> {
        let sim = &self.sim;
        let pairs = common::form_pairs(request.query());
        let value = |name: &str| common::form_value(&pairs, name).filter(|v| !v.is_empty());
        let (Some(api_key), Some(signature)) = (value("AccessKeyId"), value("Signature")) else {
            Stats::bump(&sim.stats.missing_auth);
            return Err(refuse("login-required", "login required"));
        };
        if value("SignatureMethod") != Some("HmacSHA256") || value("SignatureVersion") != Some("2")
        {
            Stats::bump(&sim.stats.bad_signature);
            return Err(refuse(
                "api-signature-check-failed",
                "SignatureMethod must be HmacSHA256 and SignatureVersion 2",
            ));
        }
        let Some(caller) = sim.live_key(api_key) else {
            return Err(refuse(SIGNATURE_NOT_VALID, INCORRECT_ACCESS_KEY));
        };
        match value("Timestamp").and_then(parse_timestamp) {
            Some(ts) if (now.div_euclid(1000) - ts).abs() <= MAX_CLOCK_GAP_S => {}
            _ => {
                Stats::bump(&sim.stats.stale_timestamp);
                return Err(refuse(SIGNATURE_NOT_VALID, INVALID_TIME));
            }
        }
        if signature != hmac_sha256_base64(&caller.secret, &prehash(request, &pairs)) {
            Stats::bump(&sim.stats.bad_signature);
            return Err(refuse(SIGNATURE_NOT_VALID, VERIFICATION_FAILURE));
        }
        if !caller.allows_loopback() {
            return Err(refuse(SIGNATURE_NOT_VALID, INCORRECT_IP));
        }
        Ok(caller)
    }

    /// Count the request against the key's own second.
    fn limit(&self, caller: &SimKey, now: i64) -> Option<Reply> {
        if !self.sim.limits {
            return None;
        }
        let verdict = self.per_key.hit(&caller.api_key, now, 1);
        if verdict.allowed {
            return None;
        }
        Stats::bump(&self.sim.stats.rate_limited);
        Some(too_many(verdict.reset_at_ms))
    }

    fn act(&self, endpoint: Endpoint, caller: &SimKey, request: &Request) -> Result<Reply, Reply> {
        match endpoint {
            Endpoint::ServerTime => unreachable!("answered before authentication"),
            Endpoint::Uid => {
                Stats::bump(&self.sim.stats.probes);
                Ok(ok(uid_value(&caller.uid)))
            }
            Endpoint::QueryKeys => self.query_keys(caller, request),
            Endpoint::ListSubUsers => self.list_sub_users(caller, request),
            Endpoint::DeleteSubKey => {
                let key = self.sub_key_named(caller, request)?;
                self.sim.delete_key(&key.api_key);
                Ok(ok(Value::Null))
            }
            Endpoint::ModifySubKey => self.modify(caller, request),
        }
    }

    /// The caller is a parent user holding `permission`.
    fn parent_with(&self, caller: &SimKey, permission: &str) -> Result<(), Reply> {
        if !caller.is_master() {
            return Err(refuse_v2(1002, "forbidden"));
        }
        let holds = permission == READ_ONLY
            || (!caller.read_only && caller.permissions.iter().any(|p| p == permission));
        if holds {
            Ok(())
        } else {
            Err(refuse(SIGNATURE_NOT_VALID, NO_PERMISSION))
        }
    }

    /// Whether `uid` is one of the caller's sub users.
    fn owns_sub_user(&self, caller: &SimKey, uid: &str) -> bool {
        self.sim
            .keys
            .any(|k| k.uid == uid && k.parent_uid.as_deref() == Some(&caller.uid))
    }

    /// `GET /v2/user/api-key`: the parent's own keys, or a sub user's.
    fn query_keys(&self, caller: &SimKey, request: &Request) -> Result<Reply, Reply> {
        self.parent_with(caller, READ_ONLY)?;
        let pairs = common::form_pairs(request.query());
        let uid = common::form_value(&pairs, "uid")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("invalid field value: uid is required"))?;
        if uid != caller.uid && !self.owns_sub_user(caller, uid) {
            return Err(invalid("invalid field value: uid"));
        }
        let access_key = common::form_value(&pairs, "accessKey").filter(|k| !k.is_empty());
        Stats::bump(&self.sim.stats.probes);
        let keys = self
            .sim
            .keys
            .filter(|k| k.is_alive() && k.uid == uid && access_key.is_none_or(|a| a == k.api_key));
        Ok(ok(Value::Array(keys.iter().map(api_key_info).collect())))
    }

    /// `GET /v2/sub-user/user-list`: the caller's sub users from `fromId`.
    fn list_sub_users(&self, caller: &SimKey, request: &Request) -> Result<Reply, Reply> {
        self.parent_with(caller, READ_ONLY)?;
        let pairs = common::form_pairs(request.query());
        let from: u64 = match common::form_value(&pairs, "fromId") {
            None | Some("") => 0,
            Some(v) => v
                .parse()
                .map_err(|_| invalid("invalid field value: fromId"))?,
        };
        Stats::bump(&self.sim.stats.lists);
        let mut uids: Vec<u64> = self
            .sim
            .keys
            .filter(|k| k.parent_uid.as_deref() == Some(&caller.uid))
            .iter()
            .filter_map(|k| k.uid.parse().ok())
            .filter(|uid| *uid >= from)
            .collect();
        uids.sort_unstable();
        uids.dedup();
        let page: Vec<Value> = uids
            .iter()
            .take(SUB_USERS_PER_PAGE)
            .map(|uid| json!({ "uid": uid, "userState": "normal" }))
            .collect();
        let mut body = json!({ "code": 200, "data": page });
        if let Some(next) = uids.get(SUB_USERS_PER_PAGE) {
            body["nextId"] = json!(next);
        }
        Ok(reply(body))
    }

    /// The body's `subUid` and `accessKey`: a live key of one of the
    /// caller's sub users, for a write (Trade permission).
    fn sub_key_named(&self, caller: &SimKey, request: &Request) -> Result<SimKey, Reply> {
        self.parent_with(caller, TRADE)?;
        let body = common::json_object(&request.body)
            .ok_or_else(|| invalid("invalid field value: the body is not a JSON object"))?;
        let sub_uid = match &body["subUid"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(invalid("invalid field value: subUid")),
        };
        let access_key = body["accessKey"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| invalid("invalid field value: accessKey"))?;
        if !self.owns_sub_user(caller, &sub_uid) {
            return Err(invalid("invalid field value: subUid"));
        }
        self.sim
            .keys
            .get(access_key)
            .filter(|k| k.is_alive() && k.uid == sub_uid)
            .ok_or_else(|| invalid("invalid field value: accessKey"))
    }

    /// `POST /v2/sub-user/api-key-modification`: what is sent replaces the
    /// key's value; what is left out stays.
    fn modify(&self, caller: &SimKey, request: &Request) -> Result<Reply, Reply> {
        let key = self.sub_key_named(caller, request)?;
        let body = common::json_object(&request.body).expect("read above");
        let permissions = match &body["permission"] {
            Value::Null => None,
            Value::String(list) => Some(permission_list(list)?),
            _ => return Err(invalid("invalid field value: permission")),
        };
        let ips = match &body["ipAddresses"] {
            Value::Null => None,
            Value::String(list) => Some(ip_list(list)?),
            _ => return Err(invalid("invalid field value: ipAddresses")),
        };
        let note = match &body["note"] {
            Value::Null => None,
            Value::String(n) if n.chars().count() <= 255 => Some(n.clone()),
            _ => return Err(invalid("invalid field value: note")),
        };
        let updated = self
            .sim
            .keys
            .update(&key.api_key, |k| {
                if let Some(p) = permissions {
                    k.read_only = !p.iter().any(|p| p == TRADE);
                    k.permissions = p;
                }
                if let Some(ips) = ips {
                    k.ips = ips;
                }
                if note.is_some() {
                    k.label = note;
                }
                k.clone()
            })
            .expect("held");
        Stats::bump(&self.sim.stats.disables);
        let info = api_key_info(&updated);
        Ok(ok(json!({
            "note": info["note"],
            "permission": info["permission"],
            "ipAddresses": info["ipAddresses"],
        })))
    }
}

/// `readOnly[,trade]`: `readOnly` required, nothing else but `trade`.
fn permission_list(list: &str) -> Result<Vec<String>, Reply> {
    let names: Vec<String> = list
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    let known = names.iter().all(|p| p == READ_ONLY || p == TRADE);
    if !known || !names.iter().any(|p| p == READ_ONLY) {
        return Err(invalid("invalid field value: permission"));
    }
    Ok(names)
}

/// At most 20 IPv4/IPv6 hosts or IPv4 networks (`202.106.96.0/24`).
fn ip_list(list: &str) -> Result<Vec<String>, Reply> {
    let ips: Vec<String> = list
        .split(',')
        .map(|ip| ip.trim().to_string())
        .filter(|ip| !ip.is_empty())
        .collect();
    let valid = |ip: &String| match ip.split_once('/') {
        Some((net, bits)) => {
            net.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
        }
        None => ip.parse::<std::net::IpAddr>().is_ok(),
    };
    if ips.len() > MAX_IPS || !ips.iter().all(valid) {
        return Err(invalid("invalid field value: ipAddresses"));
    }
    Ok(if ips.is_empty() {
        vec!["*".into()]
    } else {
        ips
    })
}

/// A UID as HTX shows it: a number.
fn uid_value(uid: &str) -> Value {
    uid.parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(uid))
}

/// One key as the query shows it.
fn api_key_info(k: &SimKey) -> Value {
    let bound = k.bound_ips();
    let mut info = json!({
        "accessKey": k.api_key,
        "status": "normal",
        "note": k.label.clone().unwrap_or_default(),
        "permission": k.permissions.join(","),
        // An unbound key expires after 90 days; a bound one never (-1).
        "validDays": if bound.is_empty() { 90 } else { -1 },
        "createTime": k.created_at_ms,
        "updateTime": k.created_at_ms,
    });
    if !bound.is_empty() {
        info["ipAddresses"] = json!(bound.join(","));
    }
    info
}

pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable | KeyKind::Master => &[READ_ONLY, TRADE, WITHDRAW],
        KeyKind::Sub | KeyKind::TradeOnly => &[READ_ONLY, TRADE],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_and_ip_lists_are_read_as_documented() {
        assert!(permission_list("readOnly,trade").is_ok());
        assert!(permission_list("trade").is_err(), "readOnly is required");
        assert!(permission_list("readOnly,withdraw").is_err());
        assert_eq!(
            ip_list("192.168.1.1, 202.106.96.0/24,::1").ok().unwrap(),
            vec!["192.168.1.1", "202.106.96.0/24", "::1"]
        );
        assert!(ip_list("203.**.154").is_err());
        let many = vec!["10.0.0.1"; 21].join(",");
        assert!(ip_list(&many).is_err(), "at most 20");
        assert_eq!(parse_timestamp("2023-11-14T22:13:20"), Some(1_700_000_000));
        assert_eq!(parse_timestamp("1700000000"), None);
    }
}
