//! Coinbase Advanced Trade (CDP API keys), as Coinbase documents it:
//! - auth (docs.cdp.coinbase.com/get-started/authentication/jwt-authentication,
//!   .../coinbase-app/authentication-authorization/api-key-authentication,
//!   and Coinbase's SDK coinbase/coinbase-advanced-py `jwt_generator.py`):
//!   `Authorization: Bearer <JWT>`; the JWT is signed ES256 (the key's P-256
//!   private key, SEC1 PEM) or EdDSA (Ed25519, base64 whose first 32 bytes
//!   are the seed); header `kid` = the key name and a random `nonce`; claims
//!   `sub` = the key name, `iss` = "cdp", `nbf`, `exp` (seconds; valid while
//!   `nbf <= now < exp`: "Your JWT expires after 2 minutes") and `uri` =
//!   `"<METHOD> <host><path>"`. Anything wrong, an unknown or deleted key
//!   included, is HTTP 401 `Unauthorized`.
//! - the host in `uri`: api.coinbase.com checks its own name; this
//!   simulator checks the request's own `Host` (`127.0.0.1:<port>` on
//!   loopback), so a client must name the host it actually calls.
//! - endpoints: `GET /api/v3/brokerage/key_permissions` (can_view,
//!   can_trade, can_transfer, portfolio_uuid, portfolio_type) and the public
//!   `GET /api/v3/brokerage/time` (iso, epochSeconds, epochMillis); no
//!   endpoint creates, deletes or disables a key (keys are managed in the
//!   CDP portal), so any such path is a 404 here as there.
//! - limits (docs.cdp.coinbase.com/advanced-trade/docs/rest-api-rate-limits):
//!   private endpoints 30 requests/s per user, public ones 10/s per IP, HTTP
//!   429 beyond, with `x-ratelimit-limit`, `x-ratelimit-remaining`,
//!   `x-ratelimit-reset` (names: coinbase-advanced-py `constants.py`). No
//!   ban is documented, so none is kept. The reset is sent as a Unix time in
//!   seconds (its unit is not documented).
//! - error bodies: the gRPC gateway's `{"error", "code", "message",
//!   "details"}` (`grpc.gateway.runtime.Error` in the API reference).

use super::common::{self, Answer, Dialect, OverIpLimit, Request, Unrouted, iso8601};
use crate::ExchangeSim;
use crate::faults;
use crate::keys::SimKey;
use crate::limits::FixedWindows;
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::Rng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The exchange this dialect speaks, by its ccxt id.
pub const ID: keyrevoke_core::ExchangeId = keyrevoke_core::ExchangeId::new("coinbase");

/// Public endpoints: 10 requests per second per IP.
pub const IP_LIMIT: (u32, Duration) = (10, Duration::from_secs(1));
/// Private endpoints: 30 requests per second per user.
const USER_PER_SEC: u32 = 30;

const KEY_PERMISSIONS: &str = "/api/v3/brokerage/key_permissions";
const SERVER_TIME: &str = "/api/v3/brokerage/time";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
    ServerTime,
    KeyPermissions,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        match (method.as_str(), path) {
            ("GET", SERVER_TIME) => Some(Endpoint::ServerTime),
            ("GET", KEY_PERMISSIONS) => Some(Endpoint::KeyPermissions),
            _ => None,
        }
    }
}

struct Coinbase {
    sim: Arc<ExchangeSim>,
    per_user: FixedWindows,
    /// Public keys by secret: deriving one is a scalar multiplication.
    public_keys: Mutex<HashMap<String, PublicKey>>,
}

impl Coinbase {
    fn public_key(&self, secret: &str) -> Option<PublicKey> {
        if let Some(k) = self.public_keys.lock().unwrap().get(secret) {
            return Some(k.clone());
        }
        let k = PublicKey::of(secret)?;
        self.public_keys
            .lock()
            .unwrap()
            .insert(secret.to_string(), k.clone());
        Some(k)
    }
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Coinbase {
        per_user: FixedWindows::new(
            USER_PER_SEC,
            Duration::from_secs(1),
            sim.meter("user_private"),
        ),
        sim,
        public_keys: Mutex::new(HashMap::new()),
    })
}

/// `(limit, remaining, reset_at_ms)` for the `x-ratelimit-*` headers.
type Limit = (u32, u32, i64);

fn json_reply(status: StatusCode, body: Value, limit: Option<Limit>) -> Response {
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some((cap, remaining, reset_at_ms)) = limit {
        builder = builder
            .header("x-ratelimit-limit", cap.to_string())
            .header("x-ratelimit-remaining", remaining.to_string())
            .header(
                "x-ratelimit-reset",
                reset_at_ms.div_euclid(1000).max(0).to_string(),
            );
    }
    builder
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

fn unauthorized() -> Response {
    faults::plain(StatusCode::UNAUTHORIZED, "Unauthorized\n")
}

fn too_many_requests(limit: Option<Limit>) -> Response {
    json_reply(
        StatusCode::TOO_MANY_REQUESTS,
        json!({ "error": "RESOURCE_EXHAUSTED", "code": 8, "message": "Too many requests", "details": [] }),
        limit,
    )
}

impl Dialect for Coinbase {
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

    /// Coinbase documents a 429, not a ban: lift the window's ban.
    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        self.sim.ip_window.unban();
        OverIpLimit::RateLimited(too_many_requests(None))
    }

    fn injected_rate_limit(&self) -> Response {
        too_many_requests(Some((USER_PER_SEC, 0, self.sim.now_ms() + 1000)))
    }

    /// A refused token or an exceeded user limit is answered at once, with
    /// no fault after it.
    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let sim = &self.sim;
        match endpoint {
            Endpoint::ServerTime => Answer::Ok(json_reply(StatusCode::OK, server_time(now), None)),
            Endpoint::KeyPermissions => {
                let caller = match authenticate(self, request, now) {
                    Ok(k) => k,
                    Err(refusal) => {
                        Stats::bump(&sim.stats.refused);
                        return Answer::TurnedAway(refusal);
                    }
                };
                // With limits off nothing is counted, so nothing is used.
                let verdict = sim.limits.then(|| self.per_user.hit(&caller.uid, now, 1));
                let limit = verdict.map_or((USER_PER_SEC, USER_PER_SEC, now + 1000), |v| {
                    (USER_PER_SEC, v.remaining, v.reset_at_ms)
                });
                if verdict.is_some_and(|v| !v.allowed) {
                    Stats::bump(&sim.stats.rate_limited);
                    Stats::bump(&sim.stats.refused);
                    return Answer::TurnedAway(too_many_requests(Some(limit)));
                }
                Stats::bump(&sim.stats.probes);
                Answer::Ok(json_reply(
                    StatusCode::OK,
                    key_permissions(&caller),
                    Some(limit),
                ))
            }
        }
    }
}

/// A key's public half, from the secret as Coinbase issues it.
#[derive(Clone)]
enum PublicKey {
    Es256(p256::ecdsa::VerifyingKey),
    EdDsa(ed25519_dalek::VerifyingKey),
}

impl PublicKey {
    fn of(secret: &str) -> Option<PublicKey> {
        // CDP's JSON downloads and one-line variables write PEM newlines as `\n`.
        let text = secret.trim().replace("\\n", "\n");
        if text.starts_with("-----BEGIN") {
            use p256::pkcs8::DecodePrivateKey;
            let key = p256::SecretKey::from_sec1_pem(&text)
                .or_else(|_| p256::SecretKey::from_pkcs8_pem(&text))
                .ok()?;
            return Some(PublicKey::Es256(
                *p256::ecdsa::SigningKey::from(&key).verifying_key(),
            ));
        }
        let raw = STANDARD
            .decode(text.split_whitespace().collect::<String>())
            .ok()?;
        if raw.len() != 32 && raw.len() != 64 {
            return None;
        }
        let seed: [u8; 32] = raw[..32].try_into().ok()?;
        Some(PublicKey::EdDsa(
            ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key(),
        ))
    }

    fn alg(&self) -> &'static str {
        match self {
            PublicKey::Es256(_) => "ES256",
            PublicKey::EdDsa(_) => "EdDSA",
        }
    }

    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Es256(k) => {
                use p256::ecdsa::signature::Verifier;
                p256::ecdsa::Signature::from_slice(signature)
                    .is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            PublicKey::EdDsa(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
        }
    }
}

/// Check the bearer JWT the way the docs describe it; any failure is a 401.
fn authenticate(c: &Coinbase, request: &Request, now_ms: i64) -> Result<SimKey, Response> {
    let sim = &c.sim;
    let refuse = |counter: &std::sync::atomic::AtomicU64| {
        Stats::bump(counter);
        unauthorized()
    };
    let Some(token) = request
        .header(header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Err(refuse(&sim.stats.missing_auth));
    };
    let segments: Vec<&str> = token.trim().split('.').collect();
    let [h64, c64, s64] = segments[..] else {
        return Err(refuse(&sim.stats.bad_signature));
    };
    let decode_json = |s: &str| {
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    };
    let (Some(jose), Some(claims), Ok(signature)) = (
        decode_json(h64),
        decode_json(c64),
        URL_SAFE_NO_PAD.decode(s64),
    ) else {
        return Err(refuse(&sim.stats.bad_signature));
    };
    let (Some(kid), Some(alg)) = (jose["kid"].as_str(), jose["alg"].as_str()) else {
        return Err(refuse(&sim.stats.bad_signature));
    };
    if jose["nonce"].as_str().is_none_or(str::is_empty) {
        return Err(refuse(&sim.stats.bad_signature));
    }
    let Some(caller) = sim.live_key(kid) else {
        return Err(unauthorized());
    };
    let Some(public) = c.public_key(&caller.secret) else {
        return Err(refuse(&sim.stats.bad_signature));
    };
    if public.alg() != alg || !public.verifies(format!("{h64}.{c64}").as_bytes(), &signature) {
        return Err(refuse(&sim.stats.bad_signature));
    }
    if claims["sub"].as_str() != Some(kid) || claims["iss"].as_str() != Some("cdp") {
        return Err(refuse(&sim.stats.bad_signature));
    }
    let now_s = now_ms.div_euclid(1000);
    let (Some(nbf), Some(exp)) = (claims["nbf"].as_i64(), claims["exp"].as_i64()) else {
        return Err(refuse(&sim.stats.stale_timestamp));
    };
    if now_s < nbf || now_s >= exp {
        return Err(refuse(&sim.stats.stale_timestamp));
    }
    let uri = &request.uri;
    let host = request
        .header(header::HOST.as_str())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let expected_uri = format!("{} {host}{}", request.method.as_str(), uri.path());
    if claims["uri"].as_str() != Some(expected_uri.as_str()) {
        return Err(refuse(&sim.stats.bad_signature));
    }
    if !caller.allows_loopback() {
        return Err(refuse(&sim.stats.refused));
    }
    Ok(caller)
}

/// `key_permissions` for a key: its `can_*` flags and its portfolio.
fn key_permissions(k: &SimKey) -> Value {
    let has = |p: &str| k.permissions.iter().any(|q| q == p);
    json!({
        "can_view": has("can_view"),
        "can_trade": has("can_trade") && !k.read_only,
        "can_transfer": has("can_transfer") && !k.read_only,
        "portfolio_uuid": portfolio_uuid(&k.uid),
        "portfolio_type": "DEFAULT",
    })
}

/// A stable UUID-shaped id for a user's default portfolio.
fn portfolio_uuid(uid: &str) -> String {
    use sha2::Digest;
    let h = hex::encode(sha2::Sha256::digest(uid.as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `time`: the gateway writes int64 as strings.
fn server_time(now_ms: i64) -> Value {
    json!({
        "iso": iso8601(now_ms),
        "epochSeconds": now_ms.div_euclid(1000).to_string(),
        "epochMillis": now_ms.to_string(),
    })
}

/// Permission sets of synthetic keys, in `key_permissions`' names.
pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable | KeyKind::Master => &["can_view", "can_trade", "can_transfer"],
        KeyKind::Sub | KeyKind::TradeOnly => &["can_view", "can_trade"],
    }
}

/// A real CDP key secret for a synthetic key. One in four is ECDSA P-256
/// (the CDP portal recommends Ed25519 for new keys), as a SEC1 PEM whose
/// newlines are written as `\n` escapes, as CDP's JSON key files carry
/// them, so that it stays one CSV field and one TOML string; the rest are
/// Ed25519, base64 of seed and public key, as CDP issues them.
///
/// The PEM leaves out SEC1's optional public key: deriving it is a P-256
/// scalar multiplication, milliseconds in a debug build, and populations
/// hold thousands of keys. Coinbase's own PEMs carry it; both forms are the
/// same private key to any SEC1 reader.
pub fn synthetic_secret(rng: &mut impl Rng) -> String {
    loop {
        let bytes: [u8; 32] = rng.r#gen();
        if rng.gen_ratio(1, 4) {
            if p256::SecretKey::from_slice(&bytes).is_err() {
                continue; // zero or past the group order: vanishingly rare
            }
            return sec1_pem_without_public_key(&bytes).replace('\n', "\\n");
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&bytes);
        let mut both = bytes.to_vec();
        both.extend_from_slice(key.verifying_key().as_bytes());
        return STANDARD.encode(both);
    }
}

/// `ECPrivateKey { version 1, privateKey, parameters [0] prime256v1 }`
/// (RFC 5915) as PEM (RFC 7468: 64-character lines).
fn sec1_pem_without_public_key(scalar: &[u8; 32]) -> String {
    const HEAD: [u8; 7] = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20];
    const CURVE: [u8; 12] = [
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let der = [HEAD.as_slice(), scalar.as_slice(), CURVE.as_slice()].concat();
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN EC PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END EC PRIVATE KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn synthetic_secrets_are_real_keys_of_both_kinds() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (mut ec, mut ed) = (0, 0);
        for _ in 0..40 {
            let s = synthetic_secret(&mut rng);
            assert!(
                !s.contains('\n') && !s.contains(','),
                "one CSV field, one TOML line"
            );
            match PublicKey::of(&s).expect("the secret parses") {
                PublicKey::Es256(_) => ec += 1,
                PublicKey::EdDsa(_) => ed += 1,
            }
        }
        assert!(ec > 0 && ed > 0, "both kinds: {ec} EC, {ed} Ed25519");
    }
}
