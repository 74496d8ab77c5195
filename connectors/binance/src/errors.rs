//! Every Binance reply becomes a result here: the HTTP status first (418,
//! 429, 5xx), then the `{"code", "msg"}` table, read by one function. Source: binance/binance-spot-api-docs `errors.md` (codes are
//! shared by /api and /sapi; "Codes are universal, but messages can vary")
//! and `rest-api.md` ("HTTP Return Codes": 5XX means "the execution status is
//! UNKNOWN and could have been a success").
//!
//! No code says "this key is deleted". -2015 ("Invalid API-key, IP, or
//! permissions for action.") is returned alike for a deleted key, a key
//! called from an IP it is not bound to, and a key missing a permission, so
//! it never becomes `KeyDead`: on a master's call it means the master cannot
//! do this (next channel), and a probe decides liveness only from evidence
//! that is unambiguous (the master's listing of the sub account).

use crate::limits::Limit;
use keyrevoke_core::error::{LimitScope, ReplyMeta};
use keyrevoke_core::http::{RawResponse, failure_in_order, retry_after, short};
use keyrevoke_core::{ConnectorError, Failure, Reply, Usage};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    RateLimited,
    /// This caller cannot use this channel: try the next.
    Unsupported,
    Transient,
    /// Nothing is known about the execution: unknown on a write, transient on
    /// a read.
    ExecutionUnknown,
    Permanent,
}

/// code -> class. Codes not listed are permanent.
pub const CODES: &[(i64, Class, &str)] = &[
    (
        -1000,
        Class::ExecutionUnknown,
        "UNKNOWN: an unknown error occurred while processing the request",
    ),
    (
        -1001,
        Class::Transient,
        "DISCONNECTED: internal error; unable to process your request, try again",
    ),
    (
        -1002,
        Class::Unsupported,
        "UNAUTHORIZED: not authorized to execute this request",
    ),
    (
        -1003,
        Class::RateLimited,
        "TOO_MANY_REQUESTS: too many requests or too much request weight",
    ),
    (
        -1006,
        Class::ExecutionUnknown,
        "UNEXPECTED_RESP: execution status unknown",
    ),
    (
        -1007,
        Class::ExecutionUnknown,
        "TIMEOUT: send status unknown; execution status unknown",
    ),
    (
        -1008,
        Class::Transient,
        "SERVER_BUSY: overloaded, try again in a few minutes",
    ),
    (
        -1021,
        Class::ClockSkew,
        "INVALID_TIMESTAMP: outside the recvWindow, or 1000 ms ahead of the server",
    ),
    (
        -1022,
        Class::Permanent,
        "INVALID_SIGNATURE: the signature is not valid (wrong secret?)",
    ),
    (
        -1102,
        Class::Permanent,
        "MANDATORY_PARAM_EMPTY_OR_MALFORMED",
    ),
    (
        -1130,
        Class::Permanent,
        "INVALID_PARAMETER: data sent for a parameter is not valid",
    ),
    (
        -2014,
        Class::Permanent,
        "BAD_API_KEY_FMT: API-key format invalid",
    ),
    (
        -2015,
        Class::Unsupported,
        "REJECTED_MBX_KEY: invalid API-key, IP, or permissions for action (ambiguous: never proof that a key is dead)",
    ),
];

pub fn class_of(code: i64) -> Class {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// Codes a key's own probe may meet when the exchange will not say whether
/// the key exists: the key is gone, or bound to other IPs, or lacks the
/// permission, or the secret is wrong.
pub fn ambiguous_for_liveness(code: i64) -> bool {
    matches!(code, -2015 | -2014 | -1022 | -1002)
}

/// The error for a Binance `{"code", "msg"}` reply. `mutating`: whether the
/// call changes state; `scope`: the budget of the endpoint called;
/// `retry_after`: from the `Retry-After` header, when present.
pub fn error_for(
    code: i64,
    msg: &str,
    mutating: bool,
    scope: LimitScope,
    retry_after: Option<Duration>,
) -> ConnectorError {
    let detail = || format!("{code}: {msg}");
    match class_of(code) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::RateLimited => ConnectorError::RateLimited {
            retry_after,
            // "Way too much request weight used; IP banned until %s."
            scope: if msg.to_ascii_lowercase().contains("banned") {
                LimitScope::Ban
            } else {
                scope
            },
        },
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        Class::Transient => ConnectorError::Transient(detail()),
        Class::ExecutionUnknown if mutating => ConnectorError::OutcomeUnknown(detail()),
        Class::ExecutionUnknown => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code: code.to_string(),
            message: msg.to_string(),
        },
    }
}

/// What the reply's circumstances add to its status and code.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext {
    /// The budget of the endpoint called, and the header reporting it.
    pub limit: Limit,
    pub mutating: bool,
    /// How long to stay away after a 418 without `Retry-After`.
    pub ip_ban_pause: Duration,
    /// Time left in the current one-minute window, by the exchange's clock.
    pub window_left: Duration,
}

/// A successful reply: its JSON and what to record.
pub struct Answer {
    pub body: Value,
    pub reply: Reply,
}

/// The used weight the endpoint's header reports, as calls of this
/// endpoint's weight still possible in this minute.
fn usage_from(raw: &RawResponse, cx: &ReplyContext) -> Vec<Usage> {
    let limit = &cx.limit;
    let Some(used) = raw.header_number::<u64>(limit.used_header) else {
        return Vec::new();
    };
    let left = u64::from(limit.capacity).saturating_sub(used) / u64::from(limit.weight.max(1));
    vec![Usage {
        scope: limit.scope,
        remaining: Some(left),
        reset_after: Some(cx.window_left),
    }]
}

/// The error an HTTP status carries by itself, whatever the body says.
/// rest-api.md, "HTTP Return Codes" and "IP Limits": 418 is an IP ban, 429
/// a broken limit, each with `Retry-After` in seconds.
fn status_error(raw: &RawResponse, cx: &ReplyContext) -> Option<ConnectorError> {
    let wait = retry_after(&raw.headers);
    match raw.status {
        418 => Some(ConnectorError::RateLimited {
            retry_after: wait.or(Some(cx.ip_ban_pause)),
            scope: LimitScope::Ban,
        }),
        429 => Some(ConnectorError::RateLimited {
            retry_after: wait
                .or_else(|| (cx.limit.scope == LimitScope::Account).then_some(cx.window_left)),
            scope: cx.limit.scope,
        }),
        _ => None,
    }
}

/// Read one reply: a rate limit or ban by its status, a 5xx as unknown
/// (for a write) or transient, then the code table, then success.
pub fn read_reply(raw: RawResponse, cx: &ReplyContext) -> Result<Answer, Failure> {
    let usage = usage_from(&raw, cx);
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let error = parsed.as_ref().and_then(error_of);
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: error.as_ref().map(|(c, _)| c.to_string()),
        message: error
            .as_ref()
            .map(|(_, m)| m.clone())
            .or_else(|| (raw.status >= 300).then(|| short(&raw.body))),
    };
    // 5XX: "the execution status is UNKNOWN and could have been a success".
    let refused = error.map(|(code, msg)| {
        let wait = retry_after(&raw.headers);
        error_for(code, &msg, cx.mutating, cx.limit.scope, wait)
    });
    if let Some(f) = failure_in_order(&raw, cx.mutating, &meta, status_error(&raw, cx), refused) {
        return Err(f.with_usage(usage));
    }
    match parsed {
        Some(body) => Ok(Answer {
            body,
            reply: Reply { meta, usage },
        }),
        None => Err(Failure::new(
            ConnectorError::unreadable_reply(cx.mutating),
            ReplyMeta {
                message: Some(short(&raw.body)),
                ..meta
            },
        )),
    }
}

/// `{"code": <negative>, "msg": …}`: Binance's error body, whatever the HTTP
/// status (errors.md: "Any endpoint can return an ERROR").
fn error_of(body: &Value) -> Option<(i64, String)> {
    let code = body.get("code")?.as_i64().filter(|c| *c < 0)?;
    let msg = body
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((code, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: i64, mutating: bool) -> ConnectorError {
        error_for(code, "msg", mutating, LimitScope::Account, None)
    }

    #[test]
    fn a_rejected_key_is_never_reported_dead() {
        let e = err(-2015, true);
        assert!(
            matches!(e, ConnectorError::Unsupported(_)),
            "-2015 must fall through to the next channel: {e:?}"
        );
        for (code, _, _) in CODES {
            assert!(
                !matches!(err(*code, true), ConnectorError::KeyDead(_)),
                "{code} must not claim a key is dead"
            );
        }
        assert!(ambiguous_for_liveness(-2015));
    }

    #[test]
    fn documented_codes_map_to_the_taxonomy() {
        assert_eq!(err(-1021, false), ConnectorError::ClockSkew);
        assert!(matches!(
            err(-1022, false),
            ConnectorError::Permanent { .. }
        ));
        assert!(matches!(err(-1001, true), ConnectorError::Transient(_)));
        assert!(
            matches!(err(-1007, true), ConnectorError::OutcomeUnknown(_)),
            "a timed-out delete may have happened"
        );
        assert!(matches!(err(-1007, false), ConnectorError::Transient(_)));
        assert!(matches!(err(-1002, true), ConnectorError::Unsupported(_)));
        assert!(
            matches!(err(-12345, true), ConnectorError::Permanent { .. }),
            "unknown codes are permanent"
        );
    }

    #[test]
    fn too_many_requests_keeps_the_endpoint_scope_unless_the_ip_is_banned() {
        let wait = Some(Duration::from_secs(7));
        assert_eq!(
            error_for(
                -1003,
                "Too much request weight used",
                true,
                LimitScope::Account,
                wait
            ),
            ConnectorError::RateLimited {
                retry_after: wait,
                scope: LimitScope::Account
            }
        );
        assert_eq!(
            error_for(
                -1003,
                "Way too much request weight used; IP banned until 1700000000000.",
                false,
                LimitScope::Ip,
                wait
            ),
            ConnectorError::RateLimited {
                retry_after: wait,
                scope: LimitScope::Ban
            }
        );
    }
}
