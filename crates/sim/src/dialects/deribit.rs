//! Deribit (API v2, JSON-RPC over HTTP), as docs.deribit.com and the
//! project's notes (`exchanges/deribit.md`) document it:
//! - every method is `GET /api/v2/<method>` with its parameters in the
//!   query string; a reply is `{"jsonrpc": "2.0", "result": …}` (HTTP 200)
//!   or `{"jsonrpc": "2.0", "error": {"code", "message", "data"}}`, here
//!   with HTTP 400 (articles/errors);
//! - auth (articles/authentication): `Authorization: deri-hmac-sha256
//!   id=…,ts=…,sig=…,nonce=…`, `sig` = hex HMAC-SHA256 of
//!   `ts\nnonce\nMETHOD\nURI\nBody\n` over the URI (path and query) and
//!   body as sent, `ts` within 60 s of the server's clock; or `Bearer
//!   <token>` from `public/auth` (grant `client_signature`: `signature` =
//!   hex HMAC-SHA256 of `timestamp\nnonce\ndata`) or from
//!   `public/exchange_token` {refresh_token, subject_id}, which a main
//!   account uses to act in one of its sub accounts. Unknown client id:
//!   13004 `invalid_credentials`; no auth: 10000;
//! - keys (api-reference/account-management): `list_api_keys` needs scope
//!   `account:read`; `remove_api_key` and `disable_api_key` {id} need
//!   `account:read_write` and act on a key of the caller's account by its
//!   integer id; `get_subaccounts` (main account) lists the accounts;
//! - limits (articles/rate-limits): per account (sub account), 500 credits
//!   a call from a pool of 50,000 refilled at 10,000 per second: here a
//!   rolling window of 100 calls per 5 s; beyond, 10028
//!   `too_many_requests`. No IP ban is documented.
//! - security keys (articles/security-keys): where the account has one
//!   assigned, key management answers with a non-error result
//!   `{security_key_authorization_required: true, challenge, …}` and does
//!   nothing; here an account whose managing key holds the marker
//!   [`SECURITY_KEY_ASSIGNED`] answers so to every remove and disable;
//! - undocumented, chosen here: a bad signature and a stale timestamp are
//!   13009 `unauthorized`, told apart by `data.reason` ("invalid
//!   signature", "invalid timestamp"); an unknown key id is 13020
//!   `not_found`; a missing scope 13021 `forbidden`; a disabled key
//!   authenticates as an unknown one (13004); a key may remove or disable
//!   itself (nothing documented forbids it); unauthenticated calls count
//!   per IP with the account's figures. A key's id is derived from its
//!   client id (stable, unique in practice).
//!
//! A `SimKey`'s `api_key` is the client id, `uid` its account's numeric id
//! (a sub account's `parent_uid` is the main account's), `permissions` its
//! `max_scope` entries (`account:read_write`, `wallet:read`, …).

use super::common::{self, Answer, Dialect, OverIpLimit, Request, Unrouted};
use crate::ExchangeSim;
use crate::keys::SimKey;
use crate::limits::RollingWindows;
use crate::stats::Stats;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use keyrevoke_core::ExchangeId;
use keyrevoke_core::secret::Fingerprint;
use keyrevoke_core::sign::hmac_sha256_hex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ID: ExchangeId = ExchangeId::new("deribit");

/// Unauthenticated calls per IP: the account's figures (100 per 5 s).
pub const IP_LIMIT: (u32, Duration) = (CALLS_PER_WINDOW, WINDOW);
/// 50,000 credits at 500 a call, refilled in 5 s.
const CALLS_PER_WINDOW: u32 = 100;
const WINDOW: Duration = Duration::from_secs(5);
/// The largest gap between `ts` and the server's clock.
const MAX_CLOCK_GAP_MS: i64 = 60_000;
const PREFIX: &str = "/api/v2/";

pub const ACCOUNT_READ: &str = "account:read";
pub const ACCOUNT_READ_WRITE: &str = "account:read_write";
pub const WALLET_READ_WRITE: &str = "wallet:read_write";
/// Not a scope: marks a key whose account has a security key assigned to
/// account actions (the simulator's convention).
pub const SECURITY_KEY_ASSIGNED: &str = "sim:security_key";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    GetTime,
    Auth,
    ExchangeToken,
    ListKeys,
    RemoveKey,
    DisableKey,
    GetSubaccounts,
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        if method != Method::GET {
            return None;
        }
        Some(match path.strip_prefix(PREFIX)? {
            "public/get_time" => Endpoint::GetTime,
            "public/auth" => Endpoint::Auth,
            "public/exchange_token" => Endpoint::ExchangeToken,
            "private/list_api_keys" => Endpoint::ListKeys,
            "private/remove_api_key" => Endpoint::RemoveKey,
            "private/disable_api_key" => Endpoint::DisableKey,
            "private/get_subaccounts" => Endpoint::GetSubaccounts,
            _ => return None,
        })
    }

    fn is_public(self) -> bool {
        matches!(self, Endpoint::GetTime | Endpoint::Auth)
    }
}

/// A key's integer id: 52 bits of its client id's SHA-256 (exact in a
/// JSON number).
pub fn key_id(client_id: &str) -> i64 {
    i64::from_str_radix(&Fingerprint::of(client_id).as_str()[..13], 16).expect("hex")
}

/// The random part of a token the simulator issues: `<Unix ms>.<this
/// many letters or digits>`.
const TOKEN_RANDOM_LEN: usize = 40;

/// Whether `text` holds a token shaped as this dialect issues them: for
/// tests that scan every artifact of a run for a leaked token.
pub fn holds_issued_token(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().enumerate().any(|(dot, &c)| {
        c == b'.'
            && dot >= 13
            && b[dot - 13..dot].iter().all(u8::is_ascii_digit)
            && b.len() >= dot + 1 + TOKEN_RANDOM_LEN
            && b[dot + 1..dot + 1 + TOKEN_RANDOM_LEN]
                .iter()
                .all(u8::is_ascii_alphanumeric)
    })
}

/// What a token stands for: the key that authenticated, and the account
/// it acts in.
#[derive(Clone)]
struct Grant {
    client_id: String,
    account: String,
    refresh: bool,
}

/// The caller of a private method: its key, and the account it acts in.
struct Caller {
    key: SimKey,
    account: String,
}

struct Deribit {
    sim: Arc<ExchangeSim>,
    credits: RollingWindows,
    tokens: Mutex<HashMap<String, Grant>>,
}

pub fn router(sim: Arc<ExchangeSim>) -> Router {
    common::router(Deribit {
        credits: RollingWindows::new(CALLS_PER_WINDOW, WINDOW, sim.meter("account_credits")),
        tokens: Mutex::new(HashMap::new()),
        sim,
    })
}

fn respond(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

fn ok(result: Value) -> Response {
    respond(
        StatusCode::OK,
        json!({ "jsonrpc": "2.0", "result": result, "testnet": false }),
    )
}

fn refuse(code: i64, message: &str, reason: &str) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if !reason.is_empty() {
        error["data"] = json!({ "reason": reason });
    }
    respond(
        StatusCode::BAD_REQUEST,
        json!({ "jsonrpc": "2.0", "error": error, "testnet": false }),
    )
}

fn too_many_requests() -> Response {
    refuse(10028, "too_many_requests", "")
}

fn invalid_credentials() -> Response {
    refuse(13004, "invalid_credentials", "")
}

fn unauthorized(reason: &str) -> Response {
    refuse(13009, "unauthorized", reason)
}

fn forbidden(reason: &str) -> Response {
    refuse(13021, "forbidden", reason)
}

/// `deri-hmac-sha256 id=…,ts=…,sig=…,nonce=…`: its fields.
fn header_fields(value: &str) -> Option<HashMap<&str, &str>> {
    let rest = value.strip_prefix("deri-hmac-sha256 ")?;
    Some(
        rest.split(',')
            .filter_map(|kv| kv.trim().split_once('='))
            .collect(),
    )
}

impl Dialect for Deribit {
    type Endpoint = Endpoint;

    fn sim(&self) -> &ExchangeSim {
        &self.sim
    }

    fn route(&self, method: &Method, path: &str) -> Result<Endpoint, Unrouted> {
        Endpoint::parse(method, path).ok_or(Unrouted::NotFound)
    }

    fn ip_limited(&self, endpoint: Endpoint) -> bool {
        endpoint.is_public()
    }

    fn delete_target(&self, endpoint: Endpoint, request: &Request) -> Option<String> {
        if endpoint != Endpoint::RemoveKey {
            return None;
        }
        let id: i64 = common::form_value(&common::form_pairs(request.query()), "id")?
            .parse()
            .ok()?;
        self.sim
            .keys
            .filter(|k| key_id(&k.api_key) == id)
            .into_iter()
            .next()
            .map(|k| k.api_key)
    }

    /// No ban is documented: every excess is a 10028.
    fn over_ip_limit(&self, _already_banned: bool) -> OverIpLimit {
        OverIpLimit::RateLimited(too_many_requests())
    }

    fn injected_rate_limit(&self) -> Response {
        too_many_requests()
    }

    fn answer(&self, endpoint: Endpoint, request: &Request, now: i64) -> Answer {
        let params = common::FormParams::read(request.query(), "");
        let reply = match endpoint {
            Endpoint::GetTime => Ok(ok(json!(now))),
            Endpoint::Auth => self.auth(&params, now),
            Endpoint::ExchangeToken => self.exchange_token(&params, now),
            _ => self
                .caller(request, now)
                .map_err(Refusal::from)
                .and_then(|caller| {
                    self.limit(&caller.account, now)?;
                    Ok(caller)
                })
                .and_then(|caller| self.act(endpoint, &caller, &params)),
        };
        match reply {
            Ok(response) => Answer::Ok(response),
            Err(r) if r.limited => Answer::Limited(r.response),
            Err(r) => Answer::Refused(r.response),
        }
    }
}

/// A refusal, and whether one of the exchange's limits made it (counted
/// as a limit, not as a request the exchange judged).
struct Refusal {
    response: Response,
    limited: bool,
}

impl From<Response> for Refusal {
    fn from(response: Response) -> Self {
        Refusal {
            response,
            limited: false,
        }
    }
}

impl Deribit {
    /// Count a call against the account's credits.
    fn limit(&self, account: &str, now: i64) -> Result<(), Refusal> {
        if !self.sim.limits || self.credits.hit(account, now, 1).allowed {
            return Ok(());
        }
        Stats::bump(&self.sim.stats.rate_limited);
        Err(Refusal {
            response: too_many_requests(),
            limited: true,
        })
    }

    /// A live, enabled key by its client id.
    fn usable_key(&self, client_id: &str) -> Result<SimKey, Response> {
        match self.sim.live_key(client_id) {
            Some(k) if !k.disabled => Ok(k),
            _ => Err(invalid_credentials()),
        }
    }

    fn fresh(&self, ts: i64, now: i64) -> Result<(), Response> {
        if (now - ts).abs() > MAX_CLOCK_GAP_MS {
            Stats::bump(&self.sim.stats.stale_timestamp);
            return Err(unauthorized("invalid timestamp"));
        }
        Ok(())
    }

    fn signed(&self, expected: String, given: &str) -> Result<(), Response> {
        if given != expected {
            Stats::bump(&self.sim.stats.bad_signature);
            return Err(unauthorized("invalid signature"));
        }
        Ok(())
    }

    /// The caller of a private method, by its header signature or token.
    fn caller(&self, request: &Request, now: i64) -> Result<Caller, Response> {
        let Some(authorization) = request.header("Authorization") else {
            Stats::bump(&self.sim.stats.missing_auth);
            return Err(refuse(10000, "authorization_required", ""));
        };
        if let Some(token) = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("bearer "))
        {
            let grant = self.tokens.lock().unwrap().get(token).cloned();
            let Some(grant) = grant.filter(|g| !g.refresh) else {
                return Err(unauthorized("invalid token"));
            };
            let key = self.usable_key(&grant.client_id)?;
            return Ok(Caller {
                key,
                account: grant.account,
            });
        }
        let Some(fields) = header_fields(authorization) else {
            Stats::bump(&self.sim.stats.missing_auth);
            return Err(refuse(10000, "authorization_required", ""));
        };
        let (Some(id), Some(ts), Some(sig), Some(nonce)) = (
            fields.get("id"),
            fields.get("ts").and_then(|t| t.parse::<i64>().ok()),
            fields.get("sig"),
            fields.get("nonce"),
        ) else {
            Stats::bump(&self.sim.stats.missing_auth);
            return Err(refuse(10000, "authorization_required", ""));
        };
        let key = self.usable_key(id)?;
        self.fresh(ts, now)?;
        let uri = match request.uri.query() {
            Some(q) => format!("{}?{q}", request.uri.path()),
            None => request.uri.path().to_string(),
        };
        let body = String::from_utf8_lossy(&request.body);
        let string_to_sign = format!(
            "{ts}\n{nonce}\n{}\n{uri}\n{body}\n",
            request.method.as_str()
        );
        self.signed(hmac_sha256_hex(&key.secret, &string_to_sign), sig)?;
        Ok(Caller {
            account: key.uid.clone(),
            key,
        })
    }

    /// Mint an access and a refresh token for `key` acting in `account`.
    fn tokens_for(&self, key: &SimKey, account: &str) -> Value {
        let mut tokens = self.tokens.lock().unwrap();
        let mut mint = |refresh: bool| {
            let token = format!(
                "{}.{}",
                self.sim.now_ms(),
                self.sim.mint_token(TOKEN_RANDOM_LEN)
            );
            tokens.insert(
                token.clone(),
                Grant {
                    client_id: key.api_key.clone(),
                    account: account.to_string(),
                    refresh,
                },
            );
            token
        };
        let access = mint(false);
        let refresh = mint(true);
        let kind = if key.uid == account && key.is_master() {
            "mainaccount"
        } else {
            "subaccount"
        };
        json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": 900,
            "scope": format!("{} connection {kind}", key.permissions.join(" ")),
            "token_type": "bearer",
            "enabled_features": [],
        })
    }

    /// `public/auth`, grant `client_signature`.
    fn auth(&self, params: &common::FormParams, now: i64) -> Result<Response, Refusal> {
        if params.get("grant_type") != Some("client_signature") {
            return Err(refuse(11029, "invalid_arguments", "grant_type").into());
        }
        let (Some(client_id), Some(ts), Some(signature), Some(nonce)) = (
            params.present("client_id"),
            params.get("timestamp").and_then(|t| t.parse::<i64>().ok()),
            params.present("signature"),
            params.present("nonce"),
        ) else {
            Stats::bump(&self.sim.stats.missing_auth);
            return Err(refuse(11029, "invalid_arguments", "client_signature").into());
        };
        let key = self.usable_key(client_id)?;
        self.fresh(ts, now)?;
        let data = params.get("data").unwrap_or("");
        self.signed(
            hmac_sha256_hex(&key.secret, &format!("{ts}\n{nonce}\n{data}")),
            signature,
        )?;
        self.limit(&key.uid, now)?;
        Stats::bump(&self.sim.stats.probes);
        Ok(ok(self.tokens_for(&key, &key.uid)))
    }

    /// `public/exchange_token`: a main account's refresh token, for itself
    /// or one of its sub accounts.
    fn exchange_token(&self, params: &common::FormParams, now: i64) -> Result<Response, Refusal> {
        let (Some(refresh), Some(subject)) = (
            params.present("refresh_token"),
            params.present("subject_id"),
        ) else {
            return Err(refuse(11029, "invalid_arguments", "refresh_token, subject_id").into());
        };
        let grant = self.tokens.lock().unwrap().get(refresh).cloned();
        let Some(grant) = grant.filter(|g| g.refresh) else {
            return Err(unauthorized("invalid refresh token").into());
        };
        let key = self.usable_key(&grant.client_id)?;
        self.limit(&key.uid, now)?;
        let own = subject == key.uid;
        let sub = key.is_master()
            && self
                .sim
                .keys
                .any(|k| k.uid == subject && k.parent_uid.as_deref() == Some(&key.uid));
        if !(own || sub) {
            return Err(refuse(13020, "not_found", "subject_id").into());
        }
        Ok(ok(self.tokens_for(&key, subject)))
    }

    fn may(&self, caller: &Caller, scopes: &[&str]) -> Result<(), Response> {
        if caller.key.has_any(scopes) {
            Ok(())
        } else {
            Err(forbidden(&format!(
                "scope {} required",
                scopes[scopes.len() - 1]
            )))
        }
    }

    fn act(
        &self,
        endpoint: Endpoint,
        caller: &Caller,
        params: &common::FormParams,
    ) -> Result<Response, Refusal> {
        match endpoint {
            Endpoint::ListKeys => {
                self.may(caller, &[ACCOUNT_READ, ACCOUNT_READ_WRITE])?;
                Stats::bump(&self.sim.stats.lists);
                let keys = self
                    .sim
                    .keys
                    .filter(|k| k.is_alive() && k.uid == caller.account);
                Ok(ok(Value::Array(keys.iter().map(listed_key).collect())))
            }
            Endpoint::GetSubaccounts => {
                self.may(caller, &[ACCOUNT_READ, ACCOUNT_READ_WRITE])?;
                if self
                    .sim
                    .keys
                    .any(|k| k.uid == caller.account && k.parent_uid.is_some())
                {
                    return Err(refuse(13012, "unavailable_in_subaccount", "").into());
                }
                Stats::bump(&self.sim.stats.lists);
                Ok(ok(self.accounts_of(&caller.account)))
            }
            Endpoint::RemoveKey | Endpoint::DisableKey => {
                self.may(caller, &[ACCOUNT_READ_WRITE])?;
                let Some(id) = params.get("id").and_then(|v| v.parse::<i64>().ok()) else {
                    return Err(refuse(11029, "invalid_arguments", "id").into());
                };
                let Some(key) = self
                    .sim
                    .keys
                    .filter(|k| k.is_alive() && k.uid == caller.account && key_id(&k.api_key) == id)
                    .into_iter()
                    .next()
                else {
                    return Err(refuse(13020, "not_found", "id").into());
                };
                if caller
                    .key
                    .permissions
                    .iter()
                    .any(|p| p == SECURITY_KEY_ASSIGNED)
                {
                    return Ok(ok(json!({
                        "security_key_authorization_required": true,
                        "security_keys": [{ "type": "tfa", "name": "tfa" }],
                        "rp_id": "www.deribit.com",
                        "challenge": self.sim.mint_token(44),
                    })));
                }
                if endpoint == Endpoint::RemoveKey {
                    self.sim.delete_key(&key.api_key);
                    return Ok(ok(json!("ok")));
                }
                self.sim.keys.update(&key.api_key, |k| k.disabled = true);
                Stats::bump(&self.sim.stats.disables);
                let disabled = self.sim.keys.get(&key.api_key).expect("held");
                Ok(ok(listed_key(&disabled)))
            }
            Endpoint::GetTime | Endpoint::Auth | Endpoint::ExchangeToken => {
                unreachable!("public methods are answered before auth")
            }
        }
    }

    /// The main account, then each of its sub accounts.
    fn accounts_of(&self, main: &str) -> Value {
        let mut subs: Vec<String> = self
            .sim
            .keys
            .filter(|k| k.parent_uid.as_deref() == Some(main))
            .into_iter()
            .map(|k| k.uid)
            .collect();
        subs.sort();
        subs.dedup();
        let account = |uid: &str, kind: &str| {
            json!({
                "id": uid.parse::<i64>().unwrap_or_default(),
                "username": format!("{kind}_{uid}"),
                "type": kind,
                "is_password": false,
                "login_enabled": kind == "main",
                "receive_notifications": false,
            })
        };
        let mut all = vec![account(main, "main")];
        all.extend(subs.iter().map(|s| account(s, "subaccount")));
        Value::Array(all)
    }
}

/// A key as `list_api_keys` shows it (never its secret in full: the docs'
/// listing shows `client_secret`, which is left out here, as nothing
/// reads it).
fn listed_key(k: &SimKey) -> Value {
    json!({
        "id": key_id(&k.api_key),
        "client_id": k.api_key,
        "max_scope": k.permissions.join(" "),
        "enabled": !k.disabled,
        "default": false,
        "name": k.label.clone().unwrap_or_default(),
        "timestamp": k.created_at_ms,
        "enabled_features": [],
        "ip_whitelist": k.bound_ips(),
    })
}

pub fn synthetic_permissions(kind: crate::generate::KeyKind) -> &'static [&'static str] {
    use crate::generate::KeyKind;
    match kind {
        KeyKind::SelfDeletable | KeyKind::Master => {
            &[ACCOUNT_READ_WRITE, "trade:read_write", WALLET_READ_WRITE]
        }
        KeyKind::Sub | KeyKind::TradeOnly => &["trade:read_write", "wallet:read"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_routed_by_their_path_under_get_only() {
        assert_eq!(
            Endpoint::parse(&Method::GET, "/api/v2/private/remove_api_key"),
            Some(Endpoint::RemoveKey)
        );
        assert_eq!(
            Endpoint::parse(&Method::POST, "/api/v2/private/remove_api_key"),
            None
        );
        assert_eq!(
            Endpoint::parse(&Method::GET, "/api/v2/private/nothing"),
            None
        );
    }

    #[test]
    fn header_fields_are_read_by_name() {
        let f = header_fields("deri-hmac-sha256 id=AMANDA,ts=1,sig=ab,nonce=n").unwrap();
        assert_eq!(f["id"], "AMANDA");
        assert_eq!(f["nonce"], "n");
        assert!(header_fields("Bearer x").is_none());
    }

    #[test]
    fn issued_tokens_are_recognised_in_any_text() {
        let token = format!("1700000000123.{}", "a1B2".repeat(10));
        assert!(holds_issued_token(&format!("x Bearer {token} y")));
        assert!(!holds_issued_token("1700000000123.short"));
        assert!(!holds_issued_token(&format!("170000.{}", "a".repeat(40))));
    }

    #[test]
    fn key_ids_are_stable_and_exact_in_json() {
        assert_eq!(key_id("AMANDA"), key_id("AMANDA"));
        assert_ne!(key_id("AMANDA"), key_id("AMANDB"));
        assert!(key_id("AMANDA") < 1 << 53);
    }
}
