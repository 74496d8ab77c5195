//! Every Gate reply becomes a result here: the HTTP status first (429, a
//! 5xx), then the `{"label", "message"}` table, then success. Sources:
//! gateio/gateapi-python (`GateApiException`: `label`, `message`), the
//! project's notes `exchanges/gate.md` (labels; "auth failures are HTTP
//! 401"; 429 `TOO_MANY_REQUESTS` with `X-Gate-RateLimit-*` headers).
//!
//! `INVALID_KEY` speaks of the calling key: of the target only when it
//! signed its own call (`SignedBy`). The label for a key the main account
//! names but that is gone is not documented: such refusals stay permanent,
//! and the master's listing then tells dead from alive.

use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, failure_in_order, retry_after, short, unix_ms};
use keyrevoke_core::{ConnectorError, Failure, Reply, Usage};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    /// The signing key does not exist: dead if it is the target.
    SignerUnknown,
    /// This caller cannot use this channel: try the next.
    Unsupported,
    RateLimited,
    /// The server failed: unknown for a write, transient for a read.
    ServerError,
    Permanent,
}

/// label -> class, with the meaning. Labels not listed are permanent.
pub const LABELS: &[(&str, Class, &str)] = &[
    ("INVALID_KEY", Class::SignerUnknown, "invalid API key"),
    (
        "INVALID_CREDENTIALS",
        Class::SignerUnknown,
        "invalid credentials provided",
    ),
    ("INVALID_SIGNATURE", Class::Permanent, "signature mismatch"),
    (
        "MISSING_REQUIRED_HEADER",
        Class::Permanent,
        "KEY, Timestamp or SIGN missing",
    ),
    (
        "REQUEST_EXPIRED",
        Class::ClockSkew,
        "Timestamp more than 60 s from the server's clock",
    ),
    (
        "IP_FORBIDDEN",
        Class::Unsupported,
        "request IP not in the key's whitelist",
    ),
    (
        "FORBIDDEN",
        Class::Unsupported,
        "the key lacks the permission",
    ),
    ("READ_ONLY", Class::Unsupported, "the key is read-only"),
    (
        "ACCOUNT_LOCKED",
        Class::Unsupported,
        "the account is locked",
    ),
    (
        "SUB_ACCOUNT_LOCKED",
        Class::Unsupported,
        "the sub account is locked",
    ),
    (
        "SUB_ACCOUNT_NOT_FOUND",
        Class::Permanent,
        "no such sub account",
    ),
    (
        "TOO_MANY_REQUESTS",
        Class::RateLimited,
        "rate limit exceeded",
    ),
    ("SERVER_ERROR", Class::ServerError, "internal server error"),
    ("TOO_BUSY", Class::ServerError, "server too busy"),
];

pub fn class_of(label: &str) -> Class {
    LABELS
        .iter()
        .find(|(l, _, _)| *l == label)
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// What the reply's circumstances add to its status and label.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext {
    pub signed_by: SignedBy,
    pub mutating: bool,
    /// Whose budget a 429 speaks of: the UID's for signed calls, the IP's
    /// for public ones.
    pub limit_scope: LimitScope,
}

/// A successful reply: its JSON (`null` for a 204) and what to record.
pub struct Answer {
    pub body: Value,
    pub reply: Reply,
}

/// The error for a `{"label", "message"}` refusal.
pub fn error_for(
    label: &str,
    message: &str,
    cx: &ReplyContext,
    reset: Option<Duration>,
) -> ConnectorError {
    let detail = || format!("{label}: {message}");
    match class_of(label) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::SignerUnknown => cx.signed_by.signer_refused(label, message),
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        Class::RateLimited => ConnectorError::RateLimited {
            retry_after: reset,
            scope: cx.limit_scope,
        },
        Class::ServerError if cx.mutating => ConnectorError::OutcomeUnknown(detail()),
        Class::ServerError => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code: label.to_string(),
            message: message.to_string(),
        },
    }
}

/// `X-Gate-RateLimit-Requests-Remain` and `X-Gate-RateLimit-Reset-Timestamp`.
/// The reset's unit is not documented: past 10^12 it is read as Unix ms,
/// past 10^9 as Unix seconds.
fn usage_from(raw: &RawResponse, cx: &ReplyContext) -> Vec<Usage> {
    let remaining = raw.header_number::<u64>("X-Gate-RateLimit-Requests-Remain");
    let reset_after = raw
        .header_number::<i64>("X-Gate-RateLimit-Reset-Timestamp")
        .map(|v| {
            let at_ms = if v > 1_000_000_000_000 { v } else { v * 1000 };
            Duration::from_millis((at_ms - unix_ms()).clamp(0, 60_000) as u64)
        });
    Usage::reported(cx.limit_scope, remaining, reset_after)
}

/// Read one reply: a rate limit by its status, a 5xx as unknown (for a
/// write) or transient, then the label table, then success.
pub fn read_reply(raw: RawResponse, cx: &ReplyContext) -> Result<Answer, Failure> {
    let usage = usage_from(&raw, cx);
    let reset = retry_after(&raw.headers).or_else(|| usage.iter().find_map(|u| u.reset_after));
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let refusal = parsed.as_ref().and_then(refusal_of);
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: refusal.as_ref().map(|(l, _)| l.clone()),
        message: refusal
            .as_ref()
            .map(|(_, m)| m.clone())
            .or_else(|| (raw.status >= 300).then(|| short(&raw.body))),
    };
    let rate_limited = (raw.status == 429).then_some(ConnectorError::RateLimited {
        retry_after: reset,
        scope: cx.limit_scope,
    });
    let refused = refusal.map(|(label, message)| error_for(&label, &message, cx, reset));
    if let Some(f) = failure_in_order(&raw, cx.mutating, &meta, rate_limited, refused) {
        return Err(f.with_usage(usage));
    }
    // 204 (delete, update): no body.
    let body = if raw.body.trim().is_empty() {
        Value::Null
    } else {
        match parsed {
            Some(body) => body,
            None => {
                return Err(Failure::new(
                    ConnectorError::unreadable_reply(cx.mutating),
                    meta,
                ));
            }
        }
    };
    Ok(Answer {
        body,
        reply: Reply { meta, usage },
    })
}

/// `{"label": …, "message": …}`: Gate's error body.
fn refusal_of(body: &Value) -> Option<(String, String)> {
    let label = body.get("label")?.as_str().filter(|l| !l.is_empty())?;
    let message = body.get("message").and_then(Value::as_str).unwrap_or("");
    Some((label.to_string(), message.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(signed_by: SignedBy, mutating: bool) -> ReplyContext {
        ReplyContext {
            signed_by,
            mutating,
            limit_scope: LimitScope::Account,
        }
    }

    fn error(r: RawResponse, cx: ReplyContext) -> ConnectorError {
        read_reply(r, &cx).err().expect("a refusal").error
    }

    #[test]
    fn an_invalid_key_is_dead_only_when_the_target_signed() {
        let body = r#"{"label":"INVALID_KEY","message":"Invalid key provided"}"#;
        assert!(matches!(
            error(
                RawResponse::new(401, &[], body),
                cx(SignedBy::TargetKey, false)
            ),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error(
                RawResponse::new(401, &[], body),
                cx(SignedBy::ManagingCredential, true)
            ),
            ConnectorError::Permanent { .. }
        ));
    }

    #[test]
    fn statuses_and_labels_map_to_the_taxonomy() {
        let m = cx(SignedBy::ManagingCredential, true);
        let label = |l: &str| format!(r#"{{"label":"{l}","message":"m"}}"#);
        assert_eq!(
            error(RawResponse::new(401, &[], &label("REQUEST_EXPIRED")), m),
            ConnectorError::ClockSkew
        );
        assert!(matches!(
            error(RawResponse::new(401, &[], &label("INVALID_SIGNATURE")), m),
            ConnectorError::Permanent { .. }
        ));
        assert!(matches!(
            error(RawResponse::new(403, &[], &label("FORBIDDEN")), m),
            ConnectorError::Unsupported(_)
        ));
        assert!(matches!(
            error(RawResponse::new(403, &[], &label("IP_FORBIDDEN")), m),
            ConnectorError::Unsupported(_)
        ));
        assert!(matches!(
            error(RawResponse::new(502, &[], "bad gateway"), m),
            ConnectorError::OutcomeUnknown(_)
        ));
        assert!(matches!(
            error(
                RawResponse::new(502, &[], "bad gateway"),
                cx(SignedBy::TargetKey, false)
            ),
            ConnectorError::Transient(_)
        ));
    }

    #[test]
    fn a_429_is_the_accounts_rate_limit_with_its_reset() {
        let reset_s = (unix_ms() / 1000 + 5).to_string();
        let f = read_reply(
            RawResponse::new(
                429,
                &[
                    ("X-Gate-RateLimit-Requests-Remain", "0"),
                    ("X-Gate-RateLimit-Reset-Timestamp", &reset_s),
                ],
                r#"{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded"}"#,
            ),
            &cx(SignedBy::ManagingCredential, true),
        )
        .err()
        .unwrap();
        match f.error {
            ConnectorError::RateLimited { retry_after, scope } => {
                assert_eq!(scope, LimitScope::Account);
                let wait = retry_after.expect("the reset is read");
                assert!(wait <= Duration::from_secs(5) && wait >= Duration::from_secs(3));
            }
            other => panic!("not a rate limit: {other:?}"),
        }
        assert_eq!(f.usage[0].remaining, Some(0));
    }

    #[test]
    fn a_204_is_a_success_without_a_body() {
        let ok = read_reply(
            RawResponse::new(204, &[], ""),
            &cx(SignedBy::ManagingCredential, true),
        )
        .ok()
        .unwrap();
        assert_eq!(ok.body, Value::Null);
        assert!(
            read_reply(
                RawResponse::new(200, &[], "<html>"),
                &cx(SignedBy::TargetKey, false)
            )
            .is_err(),
            "an unreadable 200"
        );
    }
}
