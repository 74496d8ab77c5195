//! Every MEXC reply becomes a result here: the HTTP status first, then the
//! `{"code", "msg"}` table. Source: mexcdevelop/apidocs `spot_v3_en`, "HTTP
//! Return Codes", "LIMITS" and "Error Code".
//!
//! 10072 ("invalid access key") and 700001 ("API-key format invalid")
//! speak of the calling key: of the target only when it signed its own
//! call (`SignedBy`); IP binding (700006) and permissions (700007) have
//! codes of their own, so 10072 is not ambiguous the way Binance's -2015 is.

use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, failure_in_order, retry_after, short};
use keyrevoke_core::{ConnectorError, Failure, Reply};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    /// The signing key does not exist: dead if it is the target.
    SignerUnknown,
    /// This caller cannot use this channel: try the next.
    Unsupported,
    /// The sub account or the key is not there: nothing to delete.
    NotFound,
    Permanent,
}

/// code -> class, with the docs' wording. Codes not listed are permanent.
pub const CODES: &[(i64, Class, &str)] = &[
    (10072, Class::SignerUnknown, "invalid access key"),
    (700001, Class::SignerUnknown, "API-key format invalid"),
    (602, Class::Permanent, "signature verification failed"),
    (
        700002,
        Class::Permanent,
        "signature for this request is not valid",
    ),
    (10073, Class::ClockSkew, "invalid Request-Time"),
    (
        700003,
        Class::ClockSkew,
        "timestamp outside of the recvWindow",
    ),
    (
        700005,
        Class::Permanent,
        "recvWindow must be less than 60000",
    ),
    (700006, Class::Unsupported, "IP not on the key's white list"),
    (
        700007,
        Class::Unsupported,
        "no permission to access the endpoint",
    ),
    (
        730706,
        Class::NotFound,
        "API KEY information does not exist",
    ),
    (140001, Class::NotFound, "sub account does not exist"),
    (140002, Class::Unsupported, "sub account is forbidden"),
];

pub fn class_of(code: i64) -> Class {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// What the reply's circumstances add to its status and code.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext {
    pub signed_by: SignedBy,
    pub mutating: bool,
    /// Whose budget a 429 speaks of: the account's for signed calls ("the
    /// account is used as the basic unit"), the IP's for public ones.
    pub limit_scope: LimitScope,
    pub ip_ban_pause: Duration,
}

/// A successful reply: its JSON and what to record.
pub struct Answer {
    pub body: Value,
    pub reply: Reply,
}

/// The error for a `{"code", "msg"}` refusal.
pub fn error_for(code: i64, msg: &str, cx: &ReplyContext) -> ConnectorError {
    match class_of(code) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::SignerUnknown => cx.signed_by.signer_refused(&code.to_string(), msg),
        Class::Unsupported => ConnectorError::Unsupported(format!("{code}: {msg}")),
        Class::NotFound | Class::Permanent => ConnectorError::Permanent {
            code: code.to_string(),
            message: msg.to_string(),
        },
    }
}

/// The error an HTTP status carries by itself, whatever the body says.
fn status_error(raw: &RawResponse, cx: &ReplyContext) -> Option<ConnectorError> {
    let wait = retry_after(&raw.headers);
    match raw.status {
        // 418: the IP is banned until `Retry-After`; 403: the WAF limit
        // was violated. Either way nothing more leaves for this exchange.
        418 | 403 => Some(ConnectorError::RateLimited {
            retry_after: wait.or(Some(cx.ip_ban_pause)),
            scope: LimitScope::Ban,
        }),
        429 => Some(ConnectorError::RateLimited {
            retry_after: wait,
            scope: cx.limit_scope,
        }),
        _ => None,
    }
}

/// Read one reply: a rate limit or ban by its status, a 5xx as unknown
/// (for a write) or transient, then the code table, then success.
pub fn read_reply(raw: RawResponse, cx: &ReplyContext) -> Result<Answer, Failure> {
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let refusal = parsed.as_ref().and_then(refusal_of);
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: refusal.as_ref().map(|(c, _)| c.to_string()),
        message: refusal
            .as_ref()
            .map(|(_, m)| m.clone())
            .or_else(|| (raw.status >= 300).then(|| short(&raw.body))),
    };
    // A 5xx: "the execution status is UNKNOWN and could have been a
    // success".
    let refused = refusal.map(|(code, msg)| error_for(code, &msg, cx));
    if let Some(f) = failure_in_order(&raw, cx.mutating, &meta, status_error(&raw, cx), refused) {
        return Err(f);
    }
    match parsed {
        Some(body) => Ok(Answer {
            body,
            reply: Reply {
                meta,
                usage: Vec::new(),
            },
        }),
        None => Err(Failure::new(
            ConnectorError::unreadable_reply(cx.mutating),
            meta,
        )),
    }
}

/// `{"code": n, "msg": …}` with a code other than success (`0` or `200`
/// appear on some successful replies).
fn refusal_of(body: &Value) -> Option<(i64, String)> {
    let code = body
        .get("code")?
        .as_i64()
        .filter(|c| !matches!(c, 0 | 200))?;
    let msg = body.get("msg").and_then(Value::as_str).unwrap_or("");
    Some((code, msg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(signed_by: SignedBy) -> ReplyContext {
        ReplyContext {
            signed_by,
            mutating: true,
            limit_scope: LimitScope::Account,
            ip_ban_pause: Duration::from_secs(120),
        }
    }

    fn error(r: RawResponse, signed_by: SignedBy) -> ConnectorError {
        read_reply(r, &cx(signed_by))
            .err()
            .expect("a refusal")
            .error
    }

    #[test]
    fn statuses_come_first_429_418_and_403_pause() {
        assert_eq!(
            error(
                RawResponse::new(429, &[("Retry-After", "7")], ""),
                SignedBy::ManagingCredential
            ),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
                scope: LimitScope::Account
            }
        );
        assert_eq!(
            error(
                RawResponse::new(418, &[("Retry-After", "300")], ""),
                SignedBy::Nobody
            ),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(300)),
                scope: LimitScope::Ban
            }
        );
        assert_eq!(
            error(RawResponse::new(403, &[], "WAF"), SignedBy::Nobody),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(120)),
                scope: LimitScope::Ban
            }
        );
        assert!(matches!(
            error(
                RawResponse::new(504, &[], "Gateway Time-out"),
                SignedBy::ManagingCredential
            ),
            ConnectorError::OutcomeUnknown(_)
        ));
    }

    #[test]
    fn an_invalid_key_is_dead_only_when_the_target_signed() {
        let body = r#"{"code":10072,"msg":"Api key info invalid"}"#;
        assert!(matches!(
            error(RawResponse::new(400, &[], body), SignedBy::TargetKey),
            ConnectorError::KeyDead(_)
        ));
        let e = error(
            RawResponse::new(400, &[], body),
            SignedBy::ManagingCredential,
        );
        assert!(
            matches!(&e, ConnectorError::Permanent { message, .. } if message.contains("managing credential")),
            "{e:?}"
        );
    }

    #[test]
    fn documented_codes_map_to_the_taxonomy() {
        let e = |code: i64| error_for(code, "m", &cx(SignedBy::ManagingCredential));
        assert_eq!(e(700003), ConnectorError::ClockSkew);
        assert!(matches!(e(700006), ConnectorError::Unsupported(_)));
        assert!(matches!(e(700002), ConnectorError::Permanent { .. }));
        assert!(matches!(e(730706), ConnectorError::Permanent { .. }));
        assert!(matches!(e(123456), ConnectorError::Permanent { .. }));
        let ok = read_reply(
            RawResponse::new(200, &[], r#"{"subAccount":"s1"}"#),
            &cx(SignedBy::Nobody),
        );
        assert_eq!(ok.ok().unwrap().body["subAccount"], "s1");
    }
}
