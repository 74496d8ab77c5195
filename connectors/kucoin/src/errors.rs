//! Every KuCoin reply becomes a result here (`read_reply`): its code table,
//! read by one function, and the HTTP status of a reply without a code.
//!
//! Sources: the gateway codes of https://www.kucoin.com/docs-new/error-code/websocket
//! ("GATEWAY ERROR CODE": 400001..400012, partner 4002xx), the system codes
//! of https://www.kucoin.com/zh-hant/docs/basic-info/errors-code/spot-errors-code
//! (400001..400007, 400100, 404000, 411100, 415000, 500000), and the rate
//! limit of https://www.kucoin.com/docs-new/rate-limit (HTTP 429, 429000).
//! KuCoin answers the gateway codes with an HTTP error status and the code
//! in a JSON body (400002 with 400, 400003..400005 with 401, 400006 with 403:
//! Kucoin/kucoin-python-sdk issue 82, ccxt issue 15629, Kucoin/kucoin-api-docs
//! issue 395), and business codes inside HTTP 200: the body is read first.
//!
//! The docs name no code for deleting a sub key that no longer exists (or
//! with a wrong sub passphrase); such refusals fall to the permanent default,
//! and the executor's probe (the master's listing) then tells dead from alive.

use crate::endpoints::SUCCESS_CODE;
use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, classify_status, retry_after, short};
use keyrevoke_core::{ConnectorError, Failure, Reply, Usage};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    /// The signing key does not exist.
    KeyDead,
    /// This key or route cannot do it: try the next channel.
    Unsupported,
    /// The per-UID pool is spent.
    PoolRateLimit,
    /// KuCoin's own failure: retry, or verify first after a write.
    ServerError,
    Permanent,
}

/// code -> class. Codes not listed are permanent.
pub const CODES: &[(i64, Class, &str)] = &[
    (
        400001,
        Class::Permanent,
        "an auth header is missing (KC-API-KEY, -SIGN, -TIMESTAMP, -PASSPHRASE)",
    ),
    (
        400002,
        Class::ClockSkew,
        "KC-API-TIMESTAMP differs from server time by 5 s or more",
    ),
    (400003, Class::KeyDead, "KC-API-KEY does not exist"),
    (400004, Class::Permanent, "KC-API-PASSPHRASE is wrong"),
    (
        400005,
        Class::Permanent,
        "KC-API-SIGN is wrong (wrong secret?)",
    ),
    (
        400006,
        Class::Unsupported,
        "the request IP is not in the key's whitelist",
    ),
    (
        400007,
        Class::Unsupported,
        "access denied: the key lacks the permission",
    ),
    (
        400008,
        Class::Unsupported,
        "V1 and V2 keys are not accepted by this call",
    ),
    (400009, Class::Permanent, "invalid KC-API-KEY-VERSION"),
    (400010, Class::Unsupported, "UID access denied"),
    (400100, Class::Permanent, "parameter error"),
    (404000, Class::Permanent, "URL not found"),
    (411100, Class::Permanent, "the user is frozen"),
    (
        415000,
        Class::Permanent,
        "Content-Type must be application/json",
    ),
    (429000, Class::PoolRateLimit, "too many requests"),
    (500000, Class::ServerError, "internal server error"),
];

pub fn class_of(code: i64) -> Class {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// What one refusal means for the call that met it.
pub struct Refusal<'a> {
    pub code: i64,
    pub msg: &'a str,
    pub signed_by: SignedBy,
    /// Whether the call changes state (a server error leaves it unknown).
    pub mutating: bool,
    /// `gw-ratelimit-reset`, when the reply carried it.
    pub reset_after: Option<Duration>,
}

/// The error for a non-success code.
pub fn error_for(r: Refusal<'_>) -> ConnectorError {
    let detail = || format!("{}: {}", r.code, r.msg);
    let permanent = || ConnectorError::Permanent {
        code: r.code.to_string(),
        message: r.msg.to_string(),
    };
    match class_of(r.code) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        // A code that speaks of "the key" means the signer: for a master
        // route the managing credential, of which nothing follows for the key.
        Class::KeyDead => r.signed_by.signer_refused(&r.code.to_string(), r.msg),
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        // With the pool headers the per-UID quota is spent; without them
        // KuCoin is overloaded ("This type of rate limit does not count
        // toward the number of rate limits. It is recommended to try again
        // later.", docs-new/rate-limit): slow down everything.
        Class::PoolRateLimit => match r.reset_after {
            Some(reset) => ConnectorError::RateLimited {
                retry_after: Some(reset),
                scope: LimitScope::Account,
            },
            None => ConnectorError::RateLimited {
                retry_after: None,
                scope: LimitScope::Ip,
            },
        },
        Class::ServerError if r.mutating => ConnectorError::OutcomeUnknown(detail()),
        Class::ServerError => ConnectorError::Transient(detail()),
        Class::Permanent => permanent(),
    }
}

/// What the reply's circumstances add to its status and code.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext {
    pub signed_by: SignedBy,
    /// Whether the call changes state (a server error leaves it unknown).
    pub mutating: bool,
    /// How long the front limit blocks an IP, when its 429 gives no time.
    pub front_block: Duration,
    /// The pool the endpoint spends, and its weight there (`limits::pool_of`).
    pub pool_scope: LimitScope,
    pub pool_weight: u32,
}

/// A successful reply: its `data` and what to record.
pub struct Answer {
    pub data: Value,
    pub reply: Reply,
}

/// `gw-ratelimit-remaining` (quota left) and `gw-ratelimit-reset` (ms until
/// the pool refills), docs-new/rate-limit "3. Request Header".
/// The pool's `gw-ratelimit-remaining` counts weight; the executor reads
/// `remaining` as calls: what is left, in calls of this endpoint's weight
/// (20 left of a pool cannot pay a delete of 30: none left).
fn usage_from(raw: &RawResponse, cx: &ReplyContext) -> Vec<Usage> {
    Usage::reported(
        cx.pool_scope,
        raw.header_number::<u64>("gw-ratelimit-remaining")
            .map(|weight| weight / u64::from(cx.pool_weight.max(1))),
        raw.header_number("gw-ratelimit-reset")
            .map(Duration::from_millis),
    )
}

/// Read one reply. KuCoin puts its code in a JSON body whatever the HTTP
/// status (see the notes above), so the envelope is read first; only a
/// reply without one is read by its HTTP status (the front limit's 429,
/// a 5xx, anything else unreadable).
pub fn read_reply(raw: RawResponse, cx: &ReplyContext) -> Result<Answer, Failure> {
    let usage = usage_from(&raw, cx);
    let reset_after = usage.iter().find_map(|u| u.reset_after);
    let meta = |code: Option<String>, message: Option<String>| ReplyMeta {
        http_status: Some(raw.status),
        code,
        message,
    };
    let envelope = serde_json::from_str::<Value>(&raw.body)
        .ok()
        .filter(|v| v.get("code").is_some());
    let Some(envelope) = envelope else {
        // No envelope: the front (Cloudflare) limit answers HTTP 429
        // "error code: 1015" and blocks the IP for 30 s.
        if raw.status == 429 {
            let error = ConnectorError::RateLimited {
                retry_after: Some(retry_after(&raw.headers).unwrap_or(cx.front_block)),
                scope: LimitScope::Ip,
            };
            return Err(Failure::new(error, meta(None, Some(short(&raw.body)))).with_usage(usage));
        }
        if let Some(f) = classify_status(raw.status, cx.mutating, &raw.body) {
            return Err(f.with_usage(usage));
        }
        return Err(Failure::new(
            ConnectorError::unreadable_reply(cx.mutating),
            meta(None, Some(short(&raw.body))),
        ));
    };
    let code = match &envelope["code"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let msg = envelope["msg"].as_str().unwrap_or("").to_string();
    let meta = meta(
        Some(code.clone()),
        Some(msg.clone()).filter(|m| !m.is_empty()),
    );
    if code == SUCCESS_CODE && raw.status == 200 {
        return Ok(Answer {
            data: envelope["data"].clone(),
            reply: Reply { meta, usage },
        });
    }
    let error = match code.parse::<i64>() {
        Ok(code) => error_for(Refusal {
            code,
            msg: &msg,
            signed_by: cx.signed_by,
            mutating: cx.mutating,
            reset_after,
        }),
        Err(_) => ConnectorError::Permanent {
            code: code.clone(),
            message: msg.clone(),
        },
    };
    Err(Failure::new(error, meta).with_usage(usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(code: i64) -> ConnectorError {
        error_for(Refusal {
            code,
            msg: "m",
            signed_by: SignedBy::TargetKey,
            mutating: false,
            reset_after: None,
        })
    }

    #[test]
    fn documented_codes_map_to_the_taxonomy() {
        assert_eq!(own(400002), ConnectorError::ClockSkew);
        assert!(matches!(own(400003), ConnectorError::KeyDead(_)));
        assert!(matches!(own(400004), ConnectorError::Permanent { .. }));
        assert!(matches!(own(400005), ConnectorError::Permanent { .. }));
        assert!(matches!(own(400006), ConnectorError::Unsupported(_)));
        assert!(matches!(own(400007), ConnectorError::Unsupported(_)));
        assert!(matches!(own(400100), ConnectorError::Permanent { .. }));
        assert!(
            matches!(own(123456), ConnectorError::Permanent { .. }),
            "unlisted codes are permanent"
        );
    }

    #[test]
    fn a_missing_managing_credential_says_nothing_about_the_key() {
        let e = error_for(Refusal {
            code: 400003,
            msg: "KC-API-KEY not exists",
            signed_by: SignedBy::ManagingCredential,
            mutating: true,
            reset_after: None,
        });
        assert!(matches!(e, ConnectorError::Permanent { .. }), "{e:?}");
    }

    #[test]
    fn rate_limits_speak_of_the_pool_when_its_headers_came_along() {
        let spent = error_for(Refusal {
            code: 429000,
            msg: "Too Many Requests",
            signed_by: SignedBy::TargetKey,
            mutating: true,
            reset_after: Some(Duration::from_millis(1489)),
        });
        assert_eq!(
            spent,
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_millis(1489)),
                scope: LimitScope::Account
            }
        );
        let overloaded = own(429000);
        assert_eq!(
            overloaded,
            ConnectorError::RateLimited {
                retry_after: None,
                scope: LimitScope::Ip
            }
        );
    }

    #[test]
    fn a_server_error_on_a_write_is_an_unknown_outcome() {
        let e = error_for(Refusal {
            code: 500000,
            msg: "Internal Server Error",
            signed_by: SignedBy::ManagingCredential,
            mutating: true,
            reset_after: None,
        });
        assert!(matches!(e, ConnectorError::OutcomeUnknown(_)), "{e:?}");
        assert!(matches!(own(500000), ConnectorError::Transient(_)));
    }
}
