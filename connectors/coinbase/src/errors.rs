//! Coinbase Advanced Trade replies mapped to keyrevoke's error taxonomy: two
//! tables, read by one function.
//!
//! The Advanced Trade API signals errors by HTTP status; its error body is
//! the gRPC gateway's `{"error": "<gRPC status name>", "code", "message",
//! "details"}` (schema `grpc.gateway.runtime.Error`, the `default` response
//! of every operation in docs.cdp.coinbase.com/api-reference/advanced-trade-api/rest-api/*,
//! e.g. .../data-api/get-api-key-permissions). A 401 carries no body worth
//! reading (`Unauthorized`, as coinbase/coinbase-advanced-py issues #19 and
//! #132 quote it). Should such an error body ever arrive with HTTP 200, the
//! `error` name is classified by the second table.

use crate::limits;
use keyrevoke_core::error::{LimitScope, ReplyMeta};
use keyrevoke_core::http::{RawResponse, classify_status, retry_after, short, unix_ms};
use keyrevoke_core::{ConnectorError, Failure, Reply, Usage};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The JWT was refused: a bad, deleted or expired key, a bad signature,
    /// or a token outside its nbf/exp window. Coinbase also answers it
    /// spuriously (coinbase-advanced-py #19, #132), so the connector
    /// confirms it before calling a key dead.
    Unauthorized,
    /// Authenticated, but the key lacks the scope the call needs: the key
    /// is alive.
    Forbidden,
    /// The per-user limit (docs.cdp.coinbase.com/advanced-trade/docs/rest-api-rate-limits).
    RateLimited,
    Transient,
    Permanent,
}

/// HTTP status -> class. 5xx statuses are left to core's `classify_status`.
pub const HTTP_STATUSES: &[(u16, Class, &str)] = &[
    (
        401,
        Class::Unauthorized,
        "JWT refused: bad, deleted or expired key, bad signature or stale token",
    ),
    // coinbase-advanced-py `rest/rest_base.py` `handle_exception`: 403 with
    // `"error_details":"Missing required scopes"`.
    (
        403,
        Class::Forbidden,
        "PERMISSION_DENIED: the key lacks a required scope",
    ),
    (429, Class::RateLimited, "too many requests for this user"),
    (400, Class::Permanent, "INVALID_ARGUMENT"),
    (404, Class::Permanent, "NOT_FOUND"),
];

/// gRPC status name (the body's `error`) -> class, for error bodies whose
/// HTTP status is not in the first table (HTTP 200 included). Names as
/// grpc-gateway writes google.rpc.Code.
pub const ERROR_NAMES: &[(&str, Class)] = &[
    ("UNAUTHENTICATED", Class::Unauthorized),
    ("PERMISSION_DENIED", Class::Forbidden),
    ("RESOURCE_EXHAUSTED", Class::RateLimited),
    ("UNAVAILABLE", Class::Transient),
    ("INTERNAL", Class::Transient),
    ("DEADLINE_EXCEEDED", Class::Transient),
    ("UNKNOWN", Class::Transient),
];

pub fn class_of_status(status: u16) -> Option<Class> {
    HTTP_STATUSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map(|(_, c, _)| *c)
}

/// Names not listed are permanent.
pub fn class_of_name(name: &str) -> Class {
    ERROR_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, c)| *c)
        .unwrap_or(Class::Permanent)
}

/// The error for a class. `code` is what the audit records (the HTTP status
/// or the gRPC name); `reset_after` comes from `x-ratelimit-reset` or
/// `Retry-After`. An [`Class::Unauthorized`] is reported as dead here; the
/// connector decides whether it is confirmed.
pub fn error_for(
    class: Class,
    code: &str,
    message: &str,
    reset_after: Option<Duration>,
) -> ConnectorError {
    let detail = || format!("{code}: {message}");
    match class {
        Class::Unauthorized => ConnectorError::KeyDead(detail()),
        Class::Forbidden => ConnectorError::Unsupported(detail()),
        Class::RateLimited => ConnectorError::RateLimited {
            retry_after: reset_after,
            scope: LimitScope::Account,
        },
        Class::Transient => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code: code.to_string(),
            message: message.to_string(),
        },
    }
}

/// A successful reply: its JSON body and what to record.
pub struct Answer {
    pub body: Value,
    pub reply: Reply,
}

/// Classify a reply by its HTTP status (the errors table), then by an
/// error body, whatever its status.
pub fn read_reply(raw: RawResponse, mutating: bool) -> Result<Answer, Failure> {
    let usage = usage_from(&raw);
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let error_name = parsed
        .as_ref()
        .and_then(|v| v["error"].as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let message = parsed
        .as_ref()
        .and_then(|v| {
            v["message"]
                .as_str()
                .or_else(|| v["error_details"].as_str())
        })
        .map(short)
        .unwrap_or_else(|| short(raw.body.trim()));
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: error_name.clone(),
        message: Some(message.clone()),
    };
    let reset = retry_after(&raw.headers).or_else(|| usage.iter().find_map(|u| u.reset_after));
    if let Some(class) = class_of_status(raw.status) {
        let code = error_name.unwrap_or_else(|| format!("HTTP {}", raw.status));
        return Err(Failure::new(error_for(class, &code, &message, reset), meta).with_usage(usage));
    }
    if let Some(f) = classify_status(raw.status, mutating, &raw.body) {
        return Err(f.with_usage(usage));
    }
    let Some(body) = parsed else {
        return Err(
            Failure::new(ConnectorError::unreadable_reply(mutating), meta).with_usage(usage),
        );
    };
    if let Some(name) = error_name {
        let class = class_of_name(&name);
        return Err(Failure::new(error_for(class, &name, &message, reset), meta).with_usage(usage));
    }
    Ok(Answer {
        body,
        reply: Reply {
            meta: ReplyMeta {
                http_status: Some(raw.status),
                code: None,
                message: None,
            },
            usage,
        },
    })
}

/// `x-ratelimit-remaining` and `x-ratelimit-reset`. The reset's unit is not
/// documented: a value past 10^9 is read as a Unix time in seconds, a
/// smaller one as seconds from now.
fn usage_from(raw: &RawResponse) -> Vec<Usage> {
    let number = |name: &str| raw.header_number::<f64>(name);
    let remaining = number(limits::HEADER_REMAINING).map(|v| v.max(0.0) as u64);
    let reset_after = number(limits::HEADER_RESET).map(|v| {
        let secs = if v > 1e9 {
            v - unix_ms() as f64 / 1000.0
        } else {
            v
        };
        Duration::from_millis((secs * 1000.0).clamp(0.0, 60_000.0) as u64)
    });
    Usage::reported(LimitScope::Account, remaining, reset_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_statuses_and_names_map_to_the_taxonomy() {
        assert_eq!(class_of_status(401), Some(Class::Unauthorized));
        assert_eq!(class_of_status(403), Some(Class::Forbidden));
        assert_eq!(class_of_status(429), Some(Class::RateLimited));
        assert_eq!(class_of_status(503), None, "5xx is core's classify_status");
        assert_eq!(class_of_name("PERMISSION_DENIED"), Class::Forbidden);
        assert_eq!(class_of_name("resource_exhausted"), Class::RateLimited);
        assert_eq!(class_of_name("UNAVAILABLE"), Class::Transient);
        assert_eq!(class_of_name("FAILED_PRECONDITION"), Class::Permanent);

        assert!(matches!(
            error_for(Class::Unauthorized, "401", "Unauthorized", None),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error_for(Class::Forbidden, "403", "Missing required scopes", None),
            ConnectorError::Unsupported(_)
        ));
        assert_eq!(
            error_for(
                Class::RateLimited,
                "429",
                "Too many requests",
                Some(Duration::from_millis(400))
            ),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_millis(400)),
                scope: LimitScope::Account
            }
        );
        assert_eq!(
            error_for(Class::Permanent, "404", "not found", None),
            ConnectorError::Permanent {
                code: "404".into(),
                message: "not found".into()
            }
        );
    }

    #[test]
    fn replies_are_read_by_status_then_by_an_error_body_even_under_http_200() {
        let f = read_reply(RawResponse::new(401, &[], "Unauthorized\n"), false)
            .err()
            .unwrap();
        assert!(matches!(f.error, ConnectorError::KeyDead(_)), "{f:?}");
        assert_eq!(f.meta.message.as_deref(), Some("Unauthorized"));
        let body = r#"{"error":"PERMISSION_DENIED","error_details":"Missing required scopes","message":"Missing required scopes"}"#;
        let f = read_reply(RawResponse::new(403, &[], body), false)
            .err()
            .unwrap();
        assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
        assert_eq!(f.meta.code.as_deref(), Some("PERMISSION_DENIED"));
        let f = read_reply(RawResponse::new(200, &[], body), false)
            .err()
            .unwrap();
        assert!(
            matches!(f.error, ConnectorError::Unsupported(_)),
            "an error body under 200: {f:?}"
        );
        let f = read_reply(
            RawResponse::new(
                429,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1")],
                "{}",
            ),
            false,
        )
        .err()
        .unwrap();
        assert_eq!(
            f.error,
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(1)),
                scope: LimitScope::Account
            }
        );
        assert_eq!(f.usage[0].remaining, Some(0));
        let f = read_reply(RawResponse::new(503, &[], "busy"), false)
            .err()
            .unwrap();
        assert!(matches!(f.error, ConnectorError::Transient(_)), "{f:?}");
        let f = read_reply(RawResponse::new(200, &[], "<html>"), false)
            .err()
            .unwrap();
        assert!(
            matches!(f.error, ConnectorError::Transient(_)),
            "unreadable: {f:?}"
        );
        let ok = read_reply(
            RawResponse::new(
                200,
                &[("x-ratelimit-remaining", "29")],
                r#"{"can_view":true}"#,
            ),
            false,
        )
        .ok()
        .unwrap();
        assert_eq!(ok.body["can_view"], true);
        assert_eq!(ok.reply.usage[0].remaining, Some(29));
    }
}
