//! Every Kraken reply becomes a result here: the HTTP status first, then
//! the `error` array's strings, then success.
//!
//! Kraken answers `{"error": [...], "result": {...}}`; an error reads
//! `<severity><category>:<message>[:<extra>]`, severity `E` (error) or
//! `W` (warning, not a failure) ("API Error Codes", support.kraken.com
//! article 360001491786; "Spot REST Rate Limits" for the limit errors).
//! Kraken documents no HTTP status for these errors: they are read
//! whatever the status (ccxt's `kraken.handleErrors` does the same).
//! Statuses that carry no Kraken body (Cloudflare's 429 and 403, 5xx
//! gateways) are read first.

use crate::limits;
use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, classify_status, retry_after, short, unix_ms};
use keyrevoke_core::{ConnectorError, Failure, Reply};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The signing key does not exist ("missing, malformed, deleted or
    /// revoked"): dead if it is the target.
    SignerUnknown,
    /// Kraken knew the key and refused the call for another reason (its
    /// nonce, a permission): the key exists.
    KeyKnown,
    /// The key's own counter is full.
    KeyRateLimited,
    /// Too many concurrent requests from here.
    Throttled,
    /// This IP is locked out for ~15 minutes.
    LockedOut,
    Transient,
    Permanent,
}

/// Error prefix -> class, with the meaning. Strings not listed are
/// permanent. Matched as prefixes: Kraken appends details
/// (`EService: Throttled: 1700000000`, `EGeneral:Invalid arguments:nonce`).
pub const ERRORS: &[(&str, Class, &str)] = &[
    (
        "EAPI:Invalid key",
        Class::SignerUnknown,
        "the API key is missing, malformed, deleted or revoked",
    ),
    (
        "EAPI:Invalid nonce",
        Class::KeyKnown,
        "the nonce is not above the key's last one",
    ),
    (
        "EGeneral:Permission denied",
        Class::KeyKnown,
        "the key lacks the permission",
    ),
    (
        "EAPI:Invalid signature",
        Class::Permanent,
        "the signature does not match the key's secret",
    ),
    (
        "EAPI:Rate limit exceeded",
        Class::KeyRateLimited,
        "the key's call counter is over its maximum",
    ),
    (
        "EService: Throttled",
        Class::Throttled,
        "too many concurrent requests; try again after the timestamp",
    ),
    (
        "EService:Throttled",
        Class::Throttled,
        "too many concurrent requests; try again after the timestamp",
    ),
    (
        "EGeneral:Too many requests",
        Class::Throttled,
        "too many requests",
    ),
    (
        "EGeneral:Temporary lockout",
        Class::LockedOut,
        "too many failed calls from this IP: locked out for about 15 minutes",
    ),
    (
        "EService:Unavailable",
        Class::Transient,
        "the service is unavailable",
    ),
    ("EService:Busy", Class::Transient, "the service is busy"),
    (
        "EGeneral:Internal error",
        Class::Transient,
        "internal error",
    ),
    (
        "EDatabase:Internal error",
        Class::Transient,
        "internal error",
    ),
];

pub fn class_of(error: &str) -> Class {
    ERRORS
        .iter()
        .find(|(prefix, _, _)| error.starts_with(prefix))
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// `EService: Throttled: <unix seconds>`: how long until then.
fn throttled_until(error: &str) -> Option<Duration> {
    let secs: i64 = error.rsplit(':').next()?.trim().parse().ok()?;
    let wait_ms = secs * 1000 - unix_ms();
    Some(Duration::from_millis(wait_ms.clamp(0, 60_000) as u64))
}

/// The error for one of Kraken's error strings.
pub fn error_for(error: &str, signed_by: SignedBy, reset: Option<Duration>) -> ConnectorError {
    let (code, message) = error.split_once(':').unwrap_or((error, ""));
    match class_of(error) {
        Class::SignerUnknown => signed_by.signer_refused(code, message),
        Class::KeyKnown | Class::Permanent => ConnectorError::Permanent {
            code: code.to_string(),
            message: message.to_string(),
        },
        Class::KeyRateLimited => ConnectorError::RateLimited {
            retry_after: reset,
            scope: LimitScope::Account,
        },
        Class::Throttled => ConnectorError::RateLimited {
            retry_after: throttled_until(error).or(reset),
            scope: LimitScope::Ip,
        },
        Class::LockedOut => ConnectorError::RateLimited {
            retry_after: Some(limits::LOCKOUT),
            scope: LimitScope::Ban,
        },
        Class::Transient => ConnectorError::Transient(error.to_string()),
    }
}

/// A successful reply: its `result` and what to record.
pub struct Answer {
    pub result: Value,
    pub reply: Reply,
}

/// The first error (`E…`) of the reply's `error` array; warnings pass.
fn first_error(body: &Value) -> Option<&str> {
    body["error"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|e| e.starts_with('E'))
}

/// Read a reply: Cloudflare's refusals and 5xx first, then the error
/// array, then the result.
pub fn read_reply(raw: RawResponse, signed_by: SignedBy) -> Result<Answer, Failure> {
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let reset = retry_after(&raw.headers);
    let error = parsed.as_ref().and_then(first_error).map(str::to_string);
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: error.clone(),
        message: Some(error.clone().unwrap_or_else(|| short(raw.body.trim()))),
    };
    if let Some(e) = &error {
        return Err(Failure::new(error_for(e, signed_by, reset), meta));
    }
    match raw.status {
        // Cloudflare in front of the API: a 429 speaks of this IP, a 403 is
        // its block of it (undocumented by Kraken; paused like a ban).
        429 => {
            return Err(Failure::new(
                ConnectorError::RateLimited {
                    retry_after: reset,
                    scope: LimitScope::Ip,
                },
                meta,
            ));
        }
        403 => {
            return Err(Failure::new(
                ConnectorError::RateLimited {
                    retry_after: reset,
                    scope: LimitScope::Ban,
                },
                meta,
            ));
        }
        _ => {}
    }
    // Nothing keyrevoke sends to Kraken changes anything: reads only.
    if let Some(f) = classify_status(raw.status, false, &raw.body) {
        return Err(f);
    }
    match parsed {
        Some(body) if body.get("result").is_some() => Ok(Answer {
            result: body["result"].clone(),
            reply: Reply {
                meta: ReplyMeta {
                    http_status: Some(raw.status),
                    code: None,
                    message: None,
                },
                usage: Vec::new(),
            },
        }),
        _ => Err(Failure::new(ConnectorError::unreadable_reply(false), meta)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse::new(status, &[], body)
    }

    fn failed(status: u16, body: &str) -> Failure {
        match read_reply(raw(status, body), SignedBy::TargetKey) {
            Err(f) => f,
            Ok(_) => panic!("{body}: read as a success"),
        }
    }

    #[test]
    fn documented_errors_map_to_the_taxonomy() {
        let f = failed(200, r#"{"error":["EAPI:Invalid key"]}"#);
        assert!(matches!(f.error, ConnectorError::KeyDead(_)), "{f:?}");
        assert_eq!(f.meta.code.as_deref(), Some("EAPI:Invalid key"));
        assert_eq!(
            failed(200, r#"{"error":["EGeneral:Temporary lockout"]}"#).error,
            ConnectorError::RateLimited {
                retry_after: Some(limits::LOCKOUT),
                scope: LimitScope::Ban
            },
            "a lockout stops everything from this IP for 15 minutes"
        );
        assert_eq!(
            failed(200, r#"{"error":["EAPI:Rate limit exceeded"]}"#).error,
            ConnectorError::RateLimited {
                retry_after: None,
                scope: LimitScope::Account
            }
        );
        let later = unix_ms() / 1000 + 5;
        match failed(
            200,
            &format!(r#"{{"error":["EService: Throttled: {later}"]}}"#),
        )
        .error
        {
            ConnectorError::RateLimited {
                retry_after: Some(d),
                scope: LimitScope::Ip,
            } => assert!(
                d > Duration::from_secs(3) && d <= Duration::from_secs(5),
                "{d:?}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            failed(200, r#"{"error":["EService:Unavailable"]}"#).error,
            ConnectorError::Transient(_)
        ));
        assert_eq!(class_of("EAPI:Invalid nonce"), Class::KeyKnown);
        assert_eq!(class_of("EAPI:Invalid signature"), Class::Permanent);
        assert_eq!(class_of("EQuery:Unknown asset pair"), Class::Permanent);
    }

    #[test]
    fn a_managing_credentials_invalid_key_is_not_the_targets_death() {
        let f = read_reply(
            raw(200, r#"{"error":["EAPI:Invalid key"]}"#),
            SignedBy::ManagingCredential,
        )
        .err()
        .unwrap();
        assert!(matches!(f.error, ConnectorError::Permanent { .. }), "{f:?}");
    }

    #[test]
    fn statuses_without_a_kraken_body_are_read_first_and_warnings_pass() {
        assert!(matches!(
            failed(429, "Too Many Requests").error,
            ConnectorError::RateLimited {
                scope: LimitScope::Ip,
                ..
            }
        ));
        assert!(matches!(
            failed(403, "<html>blocked</html>").error,
            ConnectorError::RateLimited {
                scope: LimitScope::Ban,
                ..
            }
        ));
        assert!(matches!(
            failed(520, "").error,
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            failed(200, "<html>").error,
            ConnectorError::Transient(_)
        ));
        let body = r#"{"error":["WGeneral:Something"],"result":{"apiKeyName":"k"}}"#;
        match read_reply(raw(200, body), SignedBy::TargetKey) {
            Ok(answer) => assert_eq!(answer.result["apiKeyName"], "k"),
            Err(f) => panic!("a warning is no failure: {f:?}"),
        }
    }
}
