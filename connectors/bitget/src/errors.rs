//! Every Bitget reply becomes a result here: the HTTP status first (429, a
//! 5xx), then the `{"code", "msg"}` table, then success (`code` "00000").
//! Sources: bitget.com/api-doc's REST error-code page and quick start (429
//! "Too Many Requests" over a limit); ccxt's bitget error table
//! (`40006`, `40009`, `40011`, `40012`, `40037` authentication; `40005`,
//! `40008` timestamp; `40014`, `40018` permission); the project's notes
//! `exchanges/bitget.md`.
//!
//! `40006` and `40037` speak of the calling key: of the target only when it
//! signed its own call (`SignedBy`). `40012` ("apikey/passphrase is
//! incorrect") is never read as death: Bitget also answers it for a wrong
//! passphrase. The code for a key the main account names that is gone is
//! not documented: such refusals stay permanent, and the main account's
//! listing then tells dead from alive.

use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, failure_in_order, retry_after, short};
use keyrevoke_core::{ConnectorError, Failure, Reply};
use serde_json::Value;
use std::time::Duration;

/// Bitget's success code.
pub const SUCCESS: &str = "00000";

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

/// code -> class, with the meaning. Codes not listed are permanent.
pub const CODES: &[(&str, Class, &str)] = &[
    (
        "40001",
        Class::Permanent,
        "the request header ACCESS_KEY cannot be empty",
    ),
    (
        "40002",
        Class::Permanent,
        "the request header ACCESS_SIGN cannot be empty",
    ),
    (
        "40003",
        Class::Permanent,
        "the request header ACCESS_TIMESTAMP cannot be empty",
    ),
    ("40005", Class::Permanent, "invalid ACCESS_TIMESTAMP"),
    ("40006", Class::SignerUnknown, "invalid ACCESS_KEY"),
    ("40008", Class::ClockSkew, "request timestamp expired"),
    ("40009", Class::Permanent, "sign signature error"),
    (
        "40011",
        Class::Permanent,
        "the request header ACCESS_PASSPHRASE cannot be empty",
    ),
    (
        "40012",
        Class::Permanent,
        "apikey/passphrase is incorrect (also a wrong passphrase)",
    ),
    ("40013", Class::Unsupported, "user has been frozen"),
    ("40014", Class::Unsupported, "incorrect permissions"),
    ("40015", Class::ServerError, "system error"),
    ("40017", Class::Permanent, "parameter verification failed"),
    ("40018", Class::Unsupported, "invalid IP"),
    ("40037", Class::SignerUnknown, "apikey does not exist"),
    ("429", Class::RateLimited, "too many requests"),
];

pub fn class_of(code: &str) -> Class {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// Every documented limit is per second: a 429 without `Retry-After` asks
/// for at least this much.
pub const RATE_LIMIT_WINDOW: Duration = Duration::from_secs(1);

/// What the reply's circumstances add to its status and code.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext {
    pub signed_by: SignedBy,
    pub mutating: bool,
    /// Whose budget a 429 speaks of: the UID's for signed calls, the IP's
    /// for public ones.
    pub limit_scope: LimitScope,
}

/// A successful reply: its `data` and what to record.
pub struct Answer {
    pub data: Value,
    pub reply: Reply,
}

/// The error for a `{"code", "msg"}` refusal.
pub fn error_for(code: &str, message: &str, cx: &ReplyContext, reset: Duration) -> ConnectorError {
    let detail = || format!("{code}: {message}");
    match class_of(code) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::SignerUnknown => cx.signed_by.signer_refused(code, message),
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        Class::RateLimited => ConnectorError::RateLimited {
            retry_after: Some(reset),
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

/// Read one reply: a rate limit by its status, a 5xx as unknown (for a
/// write) or transient, then the code table, then success.
pub fn read_reply(raw: RawResponse, cx: &ReplyContext) -> Result<Answer, Failure> {
    let reset = retry_after(&raw.headers)
        .unwrap_or(RATE_LIMIT_WINDOW)
        .max(RATE_LIMIT_WINDOW);
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let code = parsed
        .as_ref()
        .and_then(|b| code_of(&b["code"]))
        .filter(|c| c != SUCCESS);
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: code.clone(),
        message: match (&code, &parsed) {
            (Some(_), Some(b)) => b["msg"].as_str().map(str::to_string),
            _ => (raw.status >= 300).then(|| short(&raw.body)),
        },
    };
    let rate_limited = (raw.status == 429).then_some(ConnectorError::RateLimited {
        retry_after: Some(reset),
        scope: cx.limit_scope,
    });
    let refused = code.as_ref().map(|code| {
        let message = meta.message.clone().unwrap_or_default();
        error_for(code, &message, cx, reset)
    });
    if let Some(f) = failure_in_order(&raw, cx.mutating, &meta, rate_limited, refused) {
        return Err(f);
    }
    match parsed {
        Some(body) if code_of(&body["code"]).as_deref() == Some(SUCCESS) => Ok(Answer {
            data: body["data"].clone(),
            reply: Reply {
                meta,
                usage: Vec::new(),
            },
        }),
        _ => Err(Failure::new(
            ConnectorError::unreadable_reply(cx.mutating),
            meta,
        )),
    }
}

/// `code` is a string in every documented reply; read a number too.
fn code_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse::new(status, &[], body)
    }

    fn refusal(code: &str) -> String {
        format!(r#"{{"code":"{code}","msg":"m","requestTime":1,"data":null}}"#)
    }

    fn error(r: RawResponse, cx: ReplyContext) -> ConnectorError {
        read_reply(r, &cx).err().expect("a refusal").error
    }

    #[test]
    fn an_unknown_key_is_dead_only_when_the_target_signed() {
        for code in ["40006", "40037"] {
            assert!(matches!(
                error(raw(400, &refusal(code)), cx(SignedBy::TargetKey, false)),
                ConnectorError::KeyDead(_)
            ));
            assert!(matches!(
                error(
                    raw(400, &refusal(code)),
                    cx(SignedBy::ManagingCredential, true)
                ),
                ConnectorError::Permanent { .. }
            ));
        }
        assert!(
            matches!(
                error(raw(400, &refusal("40012")), cx(SignedBy::TargetKey, false)),
                ConnectorError::Permanent { .. }
            ),
            "a wrong passphrase is no proof of death"
        );
    }

    #[test]
    fn statuses_and_codes_map_to_the_taxonomy() {
        let m = cx(SignedBy::ManagingCredential, true);
        assert_eq!(
            error(raw(400, &refusal("40008")), m),
            ConnectorError::ClockSkew
        );
        assert!(matches!(
            error(raw(400, &refusal("40009")), m),
            ConnectorError::Permanent { .. }
        ));
        for code in ["40014", "40018", "40013"] {
            assert!(matches!(
                error(raw(400, &refusal(code)), m),
                ConnectorError::Unsupported(_)
            ));
        }
        assert!(matches!(
            error(raw(502, "bad gateway"), m),
            ConnectorError::OutcomeUnknown(_)
        ));
        assert!(matches!(
            error(raw(502, "bad gateway"), cx(SignedBy::TargetKey, false)),
            ConnectorError::Transient(_)
        ));
    }

    #[test]
    fn a_429_is_the_accounts_rate_limit_for_at_least_its_window() {
        match error(
            raw(429, &refusal("429")),
            cx(SignedBy::ManagingCredential, true),
        ) {
            ConnectorError::RateLimited { retry_after, scope } => {
                assert_eq!(scope, LimitScope::Account);
                assert_eq!(retry_after, Some(RATE_LIMIT_WINDOW));
            }
            other => panic!("not a rate limit: {other:?}"),
        }
    }

    #[test]
    fn success_is_code_00000_and_anything_else_unreadable() {
        let ok = read_reply(
            raw(200, r#"{"code":"00000","msg":"success","data":{"a":1}}"#),
            &cx(SignedBy::ManagingCredential, true),
        )
        .ok()
        .unwrap();
        assert_eq!(ok.data["a"], 1);
        assert_eq!(ok.reply.meta.code, None);
        assert!(matches!(
            error(raw(200, "<html>"), cx(SignedBy::ManagingCredential, true)),
            ConnectorError::OutcomeUnknown(_)
        ));
        assert!(
            read_reply(
                raw(200, r#"{"msg":"no code"}"#),
                &cx(SignedBy::TargetKey, false)
            )
            .is_err()
        );
    }
}
