//! Kraken (spot REST), as Kraken documents it:
//! - auth ("Spot REST Authentication", docs.kraken.com/api/docs/guides/spot-rest-auth):
//!   headers `API-Key` and `API-Sign`; `API-Sign` = base64 HMAC-SHA512 of
//!   (URI path + SHA256(nonce + POST data)), keyed by the base64-decoded
//!   secret; `nonce` in the payload, "always increasing": a nonce not above
//!   the key's last is refused. The payload is form-encoded, or JSON as
//!   the API reference's examples send it (`{"nonce": 123}`); either is
//!   signed as sent.
//! - endpoints: `POST /0/private/GetApiKeyInfo` ("API Key Permissions
//!   Required: None": the calling key's name, permissions, IP allowlist, …)
//!   and the public `GET /0/public/Time`. No endpoint creates, deletes or
//!   disables a spot key, so any such path is a 404 here.
//! - limits ("Spot REST Rate Limits"): each key's own counter, +1 a call,
//!   at most 15 and decaying 0.33/s (Starter, the lowest tier; every
//!   simulated key is held to it): `EAPI:Rate limit exceeded` beyond.
//! - lockouts ("API Error Codes", support.kraken.com 360001491786): failed
//!   calls (invalid key, signature or nonce) from one IP lead to
//!   `EGeneral:Temporary lockout` for ~15 minutes (here: the simulator's
//!   `ip_ban`). Kraken publishes no threshold: here failed calls fill an
//!   IP counter of Starter's shape (15, -0.33/s), an undocumented choice.
//! - errors are `{"error": ["<E><category>:<message>"]}` with HTTP 200, as
//!   Kraken answers them (no status is documented per error).
//!
//! Undocumented choices: a key called from outside its IP allowlist is
//! answered `EGeneral:Permission denied`; a missing nonce `EAPI:Invalid
//! nonce`.

use super::common::{self, Answer, Dialect, FormParams, OverIpLimit, Request, Unrouted};
use crate::ExchangeSim;
use crate::keys::SimKey;
use crate::stats::Stats;
use crate::usage::TierMeter;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyrevoke_core::ExchangeId;
use keyrevoke_core::sign::{hmac_sha512, sha256};
use rand::Rng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ID: ExchangeId = ExchangeId::new("kraken");

/// Public endpoints: about one call a second per IP (Kraken's support
/// article; the current docs give no figure).
pub const IP_LIMIT: (u32, Duration) = (1, Duration::from_secs(1));
/// Starter's counter: at most 15, -0.33 a second.
const STARTER_MAX: f64 = 15.0;
const STARTER_DECAY_PER_S: f64 = 0.33;

pub const INVALID_KEY: &str = "EAPI:Invalid key";
pub const LOCKOUT: &str = "EGeneral:Temporary lockout";
const INVALID_SIGNATURE: &str = "EAPI:Invalid signature";
const INVALID_NONCE: &str = "EAPI:Invalid nonce";
const RATE_LIMITED: &str = "EAPI:Rate limit exceeded";
const PERMISSION_DENIED: &str = "EGeneral:Permission denied";

/// The permission that moves funds out (`GetApiKeyInfo`'s name).
pub const WITHDRAW: &str = "withdraw-funds";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ServerTime,
    GetApiKeyInfo,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        Some(match (method.as_str(), path) {
            ("GET", "/0/public/Time") => Endpoint::ServerTime,
            ("POST", "/0/private/GetApiKeyInfo") => Endpoint::GetApiKeyInfo,
            _ => return None,
        })
    }
}

/// Counters that go up by one a call and decay continuously, as Kraken's
/// call counters do; a call that would pass the maximum is refused.
struct DecayingCounters {
    max: f64,
    decay_per_ms: f64,
    meter: TierMeter,
    levels: Mutex<HashMap<String, (f64, i64)>>,
}

impl DecayingCounters {
    fn new(max: f64, decay_per_s: f64, meter: TierMeter) -> Self {
        // The window a meter reports against: the time a full counter takes
        // to empty.
        let period = Duration::from_secs_f64(max / decay_per_s);
        DecayingCounters {
            max,
            decay_per_ms: decay_per_s / 1000.0,
            meter: meter.of_limit(max as u32, period),
            levels: Mutex::new(HashMap::new()),
        }
    }

    /// Add one to `key`'s counter at `now_ms`, unless that passes the max.
    fn hit(&self, key: &str, now_ms: i64) -> bool {
        let mut levels = self.levels.lock().unwrap();
        let (level, at) = levels.entry(key.to_string()).or_insert((0.0, now_ms));
        let decayed = (*level - (now_ms - *at).max(0) as f64 * self.decay_per_ms).max(0.0);
        if decayed + 1.0 > self.max + 1e-9 {
            *level = decayed;
            *at = now_ms;
            return false;
        }
        *level = decayed + 1.0;
        *at = now_ms;
        drop(levels);
        self.meter.accepted(key, 1, now_ms);
        true
    }
}

struct Kraken {
    sim: Arc<ExchangeSim>,
    /// Each key's own call counter.
    per_key: DecayingCounters,
    /// Failed calls per IP: what a lockout counts.
    failed_calls: DecayingCounters,
    /// Locked-out IPs, until when (the exchange's Unix ms).
    locked_out: Mutex<HashMap<IpAddr, i64>>,
    /// Each key's last accepted nonce.
    nonces: Mutex<HashMap<String, u64>>,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Kraken {
        per_key: DecayingCounters::new(STARTER_MAX, STARTER_DECAY_PER_S, sim.meter("key_counter")),
        failed_calls: DecayingCounters::new(
            STARTER_MAX,
            STARTER_DECAY_PER_S,
            sim.meter("ip_failed_calls"),
        ),
        sim,
        locked_out: Mutex::new(HashMap::new()),
        nonces: Mutex::new(HashMap::new()),
    })
}

fn reply(body: Value) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

fn error(e: &str) -> Response {
    reply(json!({ "error": [e] }))
}

fn result(r: Value) -> Response {
    reply(json!({ "error": [], "result": r }))
}

/// Why a private call was refused.
enum Refusal {
    /// A failed call: counted towards the IP's lockout.
    Failed(&'static str),
    /// Refused for the caller's own limit or rights.
    Other(&'static str),
}

impl Dialect for Kraken {
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

    /// No ban is documented for public calls: a rate-limit error.
    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        self.sim.ip_window.unban();
        OverIpLimit::RateLimited(error(RATE_LIMITED))
    }

    fn injected_rate_limit(&self) -> Response {
        error(RATE_LIMITED)
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        match endpoint {
            Endpoint::ServerTime => Answer::Ok(result(json!({
                "unixtime": now.div_euclid(1000),
                "rfc1123": common::iso8601(now),
            }))),
            Endpoint::GetApiKeyInfo => {
                if self.locked_out(request.peer, now) {
                    Stats::bump(&self.sim.stats.ip_banned);
                    Stats::bump(&self.sim.stats.refused);
                    return Answer::TurnedAway(error(LOCKOUT));
                }
                match self.authenticate(request) {
                    Ok(caller) => self.api_key_info(&caller, now),
                    Err(Refusal::Other(e)) => Answer::Refused(error(e)),
                    Err(Refusal::Failed(e)) => {
                        if self.count_failure(request.peer, now) {
                            Answer::Refused(error(e))
                        } else {
                            Stats::bump(&self.sim.stats.ip_banned);
                            Answer::Refused(error(LOCKOUT))
                        }
                    }
                }
            }
        }
    }
}

impl Kraken {
    fn locked_out(&self, ip: IpAddr, now: i64) -> bool {
        let mut locked = self.locked_out.lock().unwrap();
        match locked.get(&ip) {
            Some(until) if *until > now => true,
            Some(_) => {
                locked.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Count a failed call from `ip`; false when it locks the IP out.
    fn count_failure(&self, ip: IpAddr, now: i64) -> bool {
        if !self.sim.limits || self.failed_calls.hit(&ip.to_string(), now) {
            return true;
        }
        let until = now + self.sim.ip_ban.as_millis() as i64;
        self.locked_out.lock().unwrap().insert(ip, until);
        false
    }

    /// The payload's nonce and the POST data as sent (form or JSON).
    fn nonce_and_post_data(request: &Request) -> (Option<u64>, String) {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        let json = request
            .header(header::CONTENT_TYPE.as_str())
            .is_some_and(|t| t.starts_with("application/json"));
        let nonce = if json {
            common::json_object(&request.body).and_then(|v| match &v["nonce"] {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
        } else {
            FormParams::read("", &body)
                .get("nonce")
                .and_then(|n| n.parse().ok())
        };
        (nonce, body)
    }

    /// Check a private call as the docs describe it.
    fn authenticate(&self, request: &Request) -> Result<SimKey, Refusal> {
        let sim = &self.sim;
        let Some(api_key) = request.header("API-Key").filter(|k| !k.is_empty()) else {
            Stats::bump(&sim.stats.missing_auth);
            return Err(Refusal::Failed(INVALID_KEY));
        };
        let Some(caller) = sim.live_key(api_key) else {
            return Err(Refusal::Failed(INVALID_KEY));
        };
        let (nonce, post_data) = Self::nonce_and_post_data(request);
        let Some(nonce) = nonce else {
            Stats::bump(&sim.stats.stale_timestamp);
            return Err(Refusal::Failed(INVALID_NONCE));
        };
        let expected = api_sign(&caller.secret, request.uri.path(), nonce, &post_data);
        if expected.is_none() || request.header("API-Sign") != expected.as_deref() {
            Stats::bump(&sim.stats.bad_signature);
            return Err(Refusal::Failed(INVALID_SIGNATURE));
        }
        {
            let mut nonces = self.nonces.lock().unwrap();
            let last = nonces.entry(caller.api_key.clone()).or_insert(0);
            if nonce <= *last {
                Stats::bump(&sim.stats.stale_timestamp);
                return Err(Refusal::Failed(INVALID_NONCE));
            }
            *last = nonce;
        }
        if !caller.allows_loopback() {
            return Err(Refusal::Other(PERMISSION_DENIED));
        }
        Ok(caller)
    }

    fn api_key_info(&self, caller: &SimKey, now: i64) -> Answer {
        if self.sim.limits && !self.per_key.hit(&caller.api_key, now) {
            Stats::bump(&self.sim.stats.rate_limited);
            return Answer::Limited(error(RATE_LIMITED));
        }
        Stats::bump(&self.sim.stats.probes);
        let last_nonce = self
            .nonces
            .lock()
            .unwrap()
            .get(&caller.api_key)
            .copied()
            .unwrap_or_default();
        let permissions: Vec<&str> = caller
            .permissions
            .iter()
            .map(String::as_str)
            .filter(|p| !caller.read_only || p.starts_with("query-"))
            .collect();
        let secs = |ms: i64| ms.div_euclid(1000).to_string();
        Answer::Ok(result(json!({
            "apiKeyName": caller.label.clone().unwrap_or_else(|| "api-key".into()),
            "apiKey": caller.api_key,
            "nonce": last_nonce.to_string(),
            "nonceWindow": 0,
            "permissions": permissions,
            "validUntil": "0",
            "queryFrom": "0",
            "queryTo": "0",
            "createdTime": secs(caller.created_at_ms),
            "modifiedTime": secs(caller.created_at_ms),
            "ipAllowlist": caller.bound_ips(),
            "lastUsed": secs(now),
        })))
    }
}

/// `API-Sign` as the docs define it; `None` for a secret that is not base64.
pub fn api_sign(secret: &str, path: &str, nonce: u64, post_data: &str) -> Option<String> {
    let key = STANDARD.decode(secret.trim()).ok()?;
    let digest = sha256(format!("{nonce}{post_data}").as_bytes());
    let message = [path.as_bytes(), digest.as_slice()].concat();
    Some(STANDARD.encode(hmac_sha512(&key, &message)))
}

/// Permission sets of synthetic keys, in `GetApiKeyInfo`'s names.
pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable | KeyKind::Master => &[
            "query-funds",
            "query-open-trades",
            "modify-trades",
            WITHDRAW,
        ],
        KeyKind::Sub | KeyKind::TradeOnly => &["query-funds", "query-open-trades", "modify-trades"],
    }
}

/// A secret as Kraken issues it: base64 of 64 random bytes.
pub fn synthetic_secret(rng: &mut impl Rng) -> String {
    let bytes: [u8; 64] = std::array::from_fn(|_| rng.r#gen());
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_refuses_past_its_max_and_decays() {
        let c = DecayingCounters::new(3.0, 1.0, TierMeter::unrecorded());
        assert!((0..3).all(|_| c.hit("k", 0)));
        assert!(!c.hit("k", 0), "a fourth at once");
        assert!(c.hit("other", 0), "each key its own");
        assert!(c.hit("k", 1000), "one unit decayed in a second");
        assert!(!c.hit("k", 1000));
    }
}
