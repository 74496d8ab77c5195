//! Every HTX reply becomes a result here: the HTTP status first (429, a
//! 5xx), then the refusal tables, then success. HTX answers in two shapes
//! (HuobiRDCenter/huobi_Python `restapi_invoker.py`, `check_response`):
//! - `{"status": "error", "err-code", "err-msg"}`: the gateway's refusals
//!   (authentication, rate limits) and the v1 endpoints';
//! - `{"code": <int>, "message"}`, 200 meaning success: the v2
//!   endpoints' (the sub-user calls).
//!
//! Sources: HTX API docs ("Sub-account Management": 1002 forbidden, 1003
//! unauthorized, 2002 invalid field value, 2014, 2016; FAQ
//! "login-required", "gateway-internal-error"); the project's notes
//! `exchanges/htx.md` (the messages of `api-signature-not-valid`); ccxt's
//! `htx` exception table (`api-signature-not-valid` with "Incorrect Access
//! key", `base-request-exceed-frequency-limit`).
//!
//! One code, `api-signature-not-valid`, covers a wrong key, a wrong
//! signature, a stale timestamp, a refused IP and an expired key: its
//! message tells them apart ([`MESSAGES`]). A wrong or expired key speaks
//! of the signer: of the target only when it signed its own call
//! (`SignedBy`). A key the parent names that is not (or no longer) its sub
//! user's has no documented code: such refusals stay permanent, and the
//! parent's key query then tells dead from alive.

use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, failure_in_order, retry_after, short, unix_ms};
use keyrevoke_core::{ConnectorError, Failure, Reply, Usage};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    /// The signing key does not exist or has expired: dead if it is the
    /// target.
    SignerUnknown,
    /// The request's IP is not bound to the key.
    IpRefused,
    /// This caller cannot use this channel: try the next.
    Unsupported,
    RateLimited,
    /// The server failed: unknown for a write, transient for a read.
    ServerError,
    Permanent,
}

/// The code whose message says which refusal it is.
pub const SIGNATURE_NOT_VALID: &str = "api-signature-not-valid";

/// `api-signature-not-valid` messages (a part of each, compared without
/// case) -> class. Messages not listed are permanent.
pub const MESSAGES: &[(&str, Class, &str)] = &[
    (
        "Incorrect Access key",
        Class::SignerUnknown,
        "no such key (deleted, or never issued)",
    ),
    (
        "API Key has expired",
        Class::SignerUnknown,
        "the key has expired",
    ),
    (
        "Verification failure",
        Class::Permanent,
        "the signature does not match",
    ),
    (
        "Invalid submission time",
        Class::ClockSkew,
        "Timestamp outside the server's window, or not YYYY-MM-DDThh:mm:ss",
    ),
    (
        "Incorrect IP address",
        Class::IpRefused,
        "the request's IP is not bound to the key",
    ),
    (
        "no permission",
        Class::Unsupported,
        "the key lacks the endpoint's permission",
    ),
];

/// Other `err-code`s -> class. Codes not listed are permanent.
pub const ERR_CODES: &[(&str, Class, &str)] = &[
    (
        "login-required",
        Class::Permanent,
        "AccessKeyId or Signature missing from the URL",
    ),
    (
        "api-signature-check-failed",
        Class::Permanent,
        "the signature parameters are malformed",
    ),
    (
        "base-request-exceed-frequency-limit",
        Class::RateLimited,
        "too many requests",
    ),
    (
        "rate-too-many-requests",
        Class::RateLimited,
        "too many requests",
    ),
    (
        "base-operation-forbidden",
        Class::Unsupported,
        "operation forbidden (parent and sub user do not match)",
    ),
    (
        "gateway-internal-error",
        Class::ServerError,
        "the system is busy",
    ),
    (
        "system-maintenance",
        Class::ServerError,
        "the system is in maintenance",
    ),
];

/// v2 `code`s -> class. Codes not listed (other than 200) are permanent.
pub const CODES: &[(i64, Class, &str)] = &[
    (
        1002,
        Class::Unsupported,
        "forbidden: this user may not do this",
    ),
    (1003, Class::Unsupported, "unauthorized"),
    (2002, Class::Permanent, "invalid field value"),
    (
        2014,
        Class::Permanent,
        "number of sub users or API keys exceeded",
    ),
    (2016, Class::Permanent, "lock or unlock refused"),
];

/// The class of a refusal, by its code as recorded (`err-code`, or the v2
/// code as text) and its message.
pub fn class_of(code: &str, message: &str) -> Class {
    if code == SIGNATURE_NOT_VALID {
        let message = message.to_ascii_lowercase();
        return MESSAGES
            .iter()
            .find(|(part, _, _)| message.contains(&part.to_ascii_lowercase()))
            .map_or(Class::Permanent, |(_, class, _)| *class);
    }
    if let Ok(n) = code.parse::<i64>() {
        return CODES
            .iter()
            .find(|(c, _, _)| *c == n)
            .map_or(Class::Permanent, |(_, class, _)| *class);
    }
    ERR_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(Class::Permanent, |(_, class, _)| *class)
}

/// The class of a failure the exchange answered, if it was a refusal.
pub fn class_of_reply(meta: &ReplyMeta) -> Option<Class> {
    Some(class_of(
        meta.code.as_deref()?,
        meta.message.as_deref().unwrap_or(""),
    ))
}

/// What the reply's circumstances add to its status and code.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext {
    pub signed_by: SignedBy,
    pub mutating: bool,
    /// Whose budget a rate limit speaks of: the key's for signed calls, the
    /// IP's for public ones.
    pub limit_scope: LimitScope,
}

/// A successful reply: its `data`, its `nextId` (`null` when there is no
/// next page) and what to record.
pub struct Answer {
    pub body: Value,
    pub next_id: Value,
    pub reply: Reply,
}

/// The error for a refusal.
pub fn error_for(
    code: &str,
    message: &str,
    cx: &ReplyContext,
    reset: Option<Duration>,
) -> ConnectorError {
    let detail = || format!("{code}: {message}");
    match class_of(code, message) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::SignerUnknown => cx.signed_by.signer_refused(code, message),
        Class::IpRefused | Class::Unsupported => ConnectorError::Unsupported(detail()),
        Class::RateLimited => ConnectorError::RateLimited {
            retry_after: reset,
            scope: cx.limit_scope,
        },
        Class::ServerError if cx.mutating => ConnectorError::OutcomeUnknown(detail()),
        Class::ServerError => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code: code.to_string(),
            message: message.to_string(),
        },
    }
}

/// `X-HB-RateLimit-Requests-Remain` and `X-HB-RateLimit-Requests-Expire`
/// ("the expire time for current rate limit time window"). Its unit is not
/// documented: past 10^12 it is read as Unix ms, past 10^9 as Unix
/// seconds, else as ms from now.
fn usage_from(raw: &RawResponse, cx: &ReplyContext) -> Vec<Usage> {
    let remaining = raw.header_number::<u64>("X-HB-RateLimit-Requests-Remain");
    let reset_after = raw
        .header_number::<i64>("X-HB-RateLimit-Requests-Expire")
        .map(|v| {
            let wait_ms = match v {
                v if v > 1_000_000_000_000 => v - unix_ms(),
                v if v > 1_000_000_000 => v * 1000 - unix_ms(),
                v => v,
            };
            Duration::from_millis(wait_ms.clamp(0, 60_000) as u64)
        });
    Usage::reported(cx.limit_scope, remaining, reset_after)
}

/// Read one reply: a rate limit by its status, a 5xx as unknown (for a
/// write) or transient, then the refusal tables, then success.
pub fn read_reply(raw: RawResponse, cx: &ReplyContext) -> Result<Answer, Failure> {
    let usage = usage_from(&raw, cx);
    let reset = retry_after(&raw.headers).or_else(|| usage.iter().find_map(|u| u.reset_after));
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let refusal = parsed.as_ref().and_then(refusal_of);
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: refusal.as_ref().map(|(c, _)| c.clone()),
        message: refusal
            .as_ref()
            .map(|(_, m)| m.clone())
            .or_else(|| (raw.status >= 300).then(|| short(&raw.body))),
    };
    let rate_limited = (raw.status == 429).then_some(ConnectorError::RateLimited {
        retry_after: reset,
        scope: cx.limit_scope,
    });
    let refused = refusal.map(|(code, message)| error_for(&code, &message, cx, reset));
    if let Some(f) = failure_in_order(&raw, cx.mutating, &meta, rate_limited, refused) {
        return Err(f.with_usage(usage));
    }
    match parsed.filter(is_success) {
        Some(body) => Ok(Answer {
            body: body["data"].clone(),
            next_id: body["nextId"].clone(),
            reply: Reply { meta, usage },
        }),
        None => Err(Failure::new(
            ConnectorError::unreadable_reply(cx.mutating),
            meta,
        )),
    }
}

/// `{"code": 200}` or `{"status": "ok"}`.
fn is_success(body: &Value) -> bool {
    body["code"].as_i64() == Some(200) || body["status"].as_str() == Some("ok")
}

/// The refusal a body carries: `err-code`/`err-msg` when `status` is
/// `error`, else a v2 `code` other than 200 with its `message`.
fn refusal_of(body: &Value) -> Option<(String, String)> {
    if body["status"].as_str() == Some("error") {
        let code = body["err-code"].as_str().unwrap_or("error");
        let message = body["err-msg"].as_str().unwrap_or("");
        return Some((code.to_string(), message.to_string()));
    }
    let code = body["code"].as_i64()?;
    (code != 200).then(|| {
        let message = body["message"].as_str().unwrap_or("");
        (code.to_string(), message.to_string())
    })
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

    fn gateway(message: &str) -> String {
        format!(
            r#"{{"status":"error","err-code":"api-signature-not-valid","err-msg":"{message}","data":null}}"#
        )
    }

    #[test]
    fn an_incorrect_access_key_is_dead_only_when_the_target_signed() {
        let body = gateway("Signature not valid: Incorrect Access key [Access key错误]");
        assert!(matches!(
            error(
                RawResponse::new(200, &[], &body),
                cx(SignedBy::TargetKey, false)
            ),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error(
                RawResponse::new(200, &[], &body),
                cx(SignedBy::ManagingCredential, true)
            ),
            ConnectorError::Permanent { .. }
        ));
    }

    #[test]
    fn the_messages_of_one_code_are_told_apart() {
        let m = cx(SignedBy::ManagingCredential, true);
        assert_eq!(
            error(
                RawResponse::new(
                    200,
                    &[],
                    &gateway(
                        "Signature not valid: Invalid submission time or incorrect time format"
                    )
                ),
                m
            ),
            ConnectorError::ClockSkew
        );
        assert!(matches!(
            error(
                RawResponse::new(
                    200,
                    &[],
                    &gateway("Signature not valid: Verification failure [校验失败]")
                ),
                m
            ),
            ConnectorError::Permanent { .. }
        ));
        assert!(matches!(
            error(
                RawResponse::new(200, &[], &gateway("Incorrect IP address [IP地址错误]")),
                m
            ),
            ConnectorError::Unsupported(_)
        ));
        assert_eq!(
            class_of(SIGNATURE_NOT_VALID, "API Key has expired"),
            Class::SignerUnknown
        );
    }

    #[test]
    fn v2_codes_and_statuses_map_to_the_taxonomy() {
        let m = cx(SignedBy::ManagingCredential, true);
        assert!(matches!(
            error(
                RawResponse::new(200, &[], r#"{"code":1002,"message":"forbidden"}"#),
                m
            ),
            ConnectorError::Unsupported(_)
        ));
        assert!(matches!(
            error(
                RawResponse::new(200, &[], r#"{"code":2002,"message":"invalid field value"}"#),
                m
            ),
            ConnectorError::Permanent { .. }
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
        assert!(matches!(
            error(
                RawResponse::new(
                    200,
                    &[],
                    r#"{"status":"error","err-code":"gateway-internal-error","err-msg":"busy"}"#
                ),
                m
            ),
            ConnectorError::OutcomeUnknown(_)
        ));
    }

    #[test]
    fn a_rate_limit_is_the_keys_with_its_expiry() {
        let expire_ms = (unix_ms() + 800).to_string();
        let f = read_reply(
            RawResponse::new(
                429,
                &[
                    ("X-HB-RateLimit-Requests-Remain", "0"),
                    ("X-HB-RateLimit-Requests-Expire", &expire_ms),
                ],
                r#"{"status":"error","err-code":"base-request-exceed-frequency-limit","err-msg":"Frequency of requests has exceeded the limit"}"#,
            ),
            &cx(SignedBy::ManagingCredential, true),
        )
        .err()
        .unwrap();
        match f.error {
            ConnectorError::RateLimited { retry_after, scope } => {
                assert_eq!(scope, LimitScope::Account);
                assert!(retry_after.expect("the expiry is read") <= Duration::from_millis(800));
            }
            other => panic!("not a rate limit: {other:?}"),
        }
        assert_eq!(f.usage[0].remaining, Some(0));
        // The same code in a 200 is a rate limit too.
        assert!(matches!(
            error(
                RawResponse::new(
                    200,
                    &[],
                    r#"{"status":"error","err-code":"base-request-exceed-frequency-limit","err-msg":"x"}"#
                ),
                cx(SignedBy::TargetKey, false)
            ),
            ConnectorError::RateLimited { .. }
        ));
    }

    #[test]
    fn both_success_shapes_give_their_data() {
        let ok = read_reply(
            RawResponse::new(200, &[], r#"{"code":200,"data":null}"#),
            &cx(SignedBy::ManagingCredential, true),
        )
        .ok()
        .unwrap();
        assert_eq!(ok.body, Value::Null);
        let ok = read_reply(
            RawResponse::new(200, &[], r#"{"status":"ok","data":1700000000123}"#),
            &cx(SignedBy::Nobody, false),
        )
        .ok()
        .unwrap();
        assert_eq!(ok.body, 1_700_000_000_123i64);
        assert!(
            read_reply(
                RawResponse::new(200, &[], "<html>"),
                &cx(SignedBy::ManagingCredential, true)
            )
            .err()
            .is_some_and(|f| matches!(f.error, ConnectorError::OutcomeUnknown(_))),
            "an unreadable reply to a write"
        );
    }
}
