//! OKX's codes mapped to keyrevoke's error taxonomy: a table, read by one
//! function.
//!
//! Sources (the v5 docs' error-code tables, with each code's HTTP status):
//! - https://www.okx.com/docs-v5/en/#error-code-rest-api-public
//!   (50000–53999: general and API classes);
//! - https://www.okx.com/docs-v5/en/#error-code-rest-api-account
//!   (59000–59999: sub-account and broker codes);
//! - https://www.okx.com/docs-v5/en/#overview-rate-limits (50011).
//!
//! Codes arrive as strings in the `{"code","msg","data"}` envelope, in HTTP
//! 200 replies as well as 4xx ones (50102, 50111, 50113 … come with 401),
//! so the body is read whatever the status.
//!
//! Who signed the call matters: 50111 ("Invalid OK-ACCESS-KEY") and 50119
//! ("API key doesn't exist") speak of the *calling* key. When the target key
//! signs its own probe, they mean the target is dead; when a master or
//! broker signs, they mean our managing credential is unusable, and the
//! target's absence is reported as 59506 instead.

use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, classify_status, short};
use keyrevoke_core::{ConnectorError, Failure, Reply};
use serde_json::Value;

/// What a reply is about: who signed it, and whether it could change state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub signed_by: SignedBy,
    pub mutating: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    /// The calling key is invalid: dead if it is the target, an unusable
    /// credential if a manager signed.
    CallerKeyInvalid,
    /// The target key does not exist under the named sub-account.
    TargetKeyDead,
    /// This route cannot work with this credential: try the next.
    Unsupported,
    RateLimit,
    Transient,
    /// A server-side failure that says nothing of whether a write happened.
    UnknownIfWrite,
    Permanent,
}

/// code -> class, and what the code means. Codes not listed are permanent.
pub const CODES: &[(&str, Class, &str)] = &[
    // General class.
    (
        "50001",
        Class::Transient,
        "service temporarily unavailable (HTTP 503)",
    ),
    (
        "50004",
        Class::UnknownIfWrite,
        "endpoint request timeout: success or failure unknown (HTTP 400)",
    ),
    (
        "50011",
        Class::RateLimit,
        "rate limit reached (HTTP 200, or 429 Too Many Requests)",
    ),
    ("50013", Class::Transient, "systems are busy (HTTP 429)"),
    (
        "50014",
        Class::Permanent,
        "parameter {param0} cannot be empty (a create without its label or passphrase)",
    ),
    ("50026", Class::UnknownIfWrite, "system error (HTTP 500)"),
    (
        "50035",
        Class::Unsupported,
        "this endpoint requires an API key bound to IP addresses (HTTP 403)",
    ),
    ("50040", Class::RateLimit, "too frequent operations"),
    // The sub-account's own limit: spent by the master's creates and deletes
    // for it as for its own calls (#error-code-rest-api-public).
    ("50061", Class::RateLimit, "sub-account rate limit reached"),
    // API class.
    (
        "50100",
        Class::Permanent,
        "API frozen, contact customer service (HTTP 400)",
    ),
    (
        "50101",
        Class::Permanent,
        "API key does not match the current environment (live vs demo) (HTTP 401)",
    ),
    (
        "50102",
        Class::ClockSkew,
        "timestamp request expired (HTTP 401)",
    ),
    (
        "50105",
        Class::Permanent,
        "OK-ACCESS-PASSPHRASE incorrect (HTTP 401)",
    ),
    (
        "50110",
        Class::Unsupported,
        "the caller's IP is not in the key's IP whitelist (HTTP 401)",
    ),
    (
        "50111",
        Class::CallerKeyInvalid,
        "invalid OK-ACCESS-KEY (HTTP 401)",
    ),
    (
        "50112",
        Class::Permanent,
        "invalid OK-ACCESS-TIMESTAMP format (HTTP 401)",
    ),
    (
        "50113",
        Class::Permanent,
        "invalid signature (wrong secret?) (HTTP 401)",
    ),
    (
        "50119",
        Class::CallerKeyInvalid,
        "API key doesn't exist (HTTP 200)",
    ),
    (
        "50120",
        Class::Unsupported,
        "this API key lacks the permission for this function",
    ),
    (
        "51000",
        Class::Permanent,
        "parameter {param0} error (a create's perm, ip or passphrase refused)",
    ),
    // Account class: sub-accounts and brokers.
    (
        "59500",
        Class::Unsupported,
        "only the main account's API key has permission",
    ),
    (
        "59506",
        Class::TargetKeyDead,
        "API key doesn't exist (under that sub-account)",
    ),
    ("59508", Class::Permanent, "the sub-account is suspended"),
    ("59510", Class::Permanent, "sub-account does not exist"),
    (
        "59604",
        Class::Unsupported,
        "only the main account's API key can access this API",
    ),
    (
        "59608",
        Class::Unsupported,
        "only broker accounts may access this API",
    ),
    (
        "59619",
        Class::Unsupported,
        "an ND broker's sub-account: use the broker endpoints",
    ),
];

pub fn class_of(code: &str) -> Class {
    CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// The error for a non-zero code read from a reply.
pub fn error_for(code: &str, msg: &str, ctx: Context) -> ConnectorError {
    let detail = || format!("{code}: {msg}");
    match class_of(code) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::CallerKeyInvalid => ctx.signed_by.signer_refused(code, msg),
        Class::TargetKeyDead => ConnectorError::KeyDead(detail()),
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        // Private REST limits are per User ID (#overview-rate-limits);
        // public ones per IP.
        Class::RateLimit => ConnectorError::RateLimited {
            retry_after: None,
            scope: if ctx.signed_by == SignedBy::Nobody {
                LimitScope::Ip
            } else {
                LimitScope::Account
            },
        },
        Class::Transient => ConnectorError::Transient(detail()),
        Class::UnknownIfWrite if ctx.mutating => ConnectorError::OutcomeUnknown(detail()),
        Class::UnknownIfWrite => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code: code.to_string(),
            message: msg.to_string(),
        },
    }
}

/// A successful v5 reply: its `data` and what to record.
pub struct Answer {
    pub data: Value,
    pub reply: Reply,
}

/// Read OKX's `{"code","msg","data"}` envelope, whatever the HTTP status:
/// auth refusals come with 401 and a code, rate limits with 200 or 429.
pub fn read_reply(raw: RawResponse, ctx: Context) -> Result<Answer, Failure> {
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let code = parsed.as_ref().and_then(|v| match &v["code"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let msg = parsed
        .as_ref()
        .and_then(|v| v["msg"].as_str())
        .unwrap_or("")
        .to_string();
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: code.clone(),
        message: Some(if code.is_some() {
            msg.clone()
        } else {
            short(&raw.body)
        }),
    };
    // 429 with 50011 on a signed call is the calling User ID's own limit:
    // "Private REST is limited per user id. Create, modify and delete sub
    // keys: 1 request per second. [...] Over the limit: code 50011, as HTTP
    // 429 or HTTP 200" (okx.md, Rate limits; docs-v5 #overview-rate-limits:
    // private REST per User ID, public per IP; 50011 is listed with HTTP 429
    // in #error-code-rest-api-public). Spend that account's budget only. Any
    // other 429 (50013 "Systems are busy", no envelope, a public call): the
    // gateway turns this IP away; slow the whole exchange down.
    if raw.status == 429 {
        let own_limit = code.as_deref() == Some("50011") && ctx.signed_by != SignedBy::Nobody;
        let error = ConnectorError::RateLimited {
            retry_after: keyrevoke_core::http::retry_after(&raw.headers),
            scope: if own_limit {
                LimitScope::Account
            } else {
                LimitScope::Ip
            },
        };
        return Err(Failure::new(error, meta));
    }
    match (code.as_deref(), parsed) {
        (Some("0"), Some(v)) if (200..300).contains(&raw.status) => Ok(Answer {
            data: v["data"].clone(),
            reply: Reply {
                meta,
                usage: Vec::new(),
            },
        }),
        (Some(c), _) if c != "0" => Err(Failure::new(error_for(c, &msg, ctx), meta)),
        _ => {
            if let Some(f) = classify_status(raw.status, ctx.mutating, &raw.body) {
                return Err(f);
            }
            Err(Failure::new(
                ConnectorError::unreadable_reply(ctx.mutating),
                meta,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN_PROBE: Context = Context {
        signed_by: SignedBy::TargetKey,
        mutating: false,
    };
    const MASTER_DELETE: Context = Context {
        signed_by: SignedBy::ManagingCredential,
        mutating: true,
    };

    #[test]
    fn an_expired_timestamp_is_clock_skew() {
        assert_eq!(
            error_for("50102", "Timestamp request expired", OWN_PROBE),
            ConnectorError::ClockSkew
        );
        assert_eq!(
            error_for("50102", "Timestamp request expired", MASTER_DELETE),
            ConnectorError::ClockSkew
        );
    }

    #[test]
    fn an_invalid_key_is_dead_only_when_it_is_the_target_that_signed() {
        for code in ["50111", "50119"] {
            assert!(
                matches!(error_for(code, "x", OWN_PROBE), ConnectorError::KeyDead(_)),
                "{code} on the key's own probe means the key is gone"
            );
            assert!(
                matches!(
                    error_for(code, "x", MASTER_DELETE),
                    ConnectorError::Permanent { .. }
                ),
                "{code} on a master's call speaks of the master, not the target"
            );
        }
        assert!(
            matches!(
                error_for("59506", "API key doesn't exist.", MASTER_DELETE),
                ConnectorError::KeyDead(_)
            ),
            "59506 names the target key under the sub-account"
        );
    }

    #[test]
    fn credentials_that_cannot_do_this_route_send_the_executor_to_the_next() {
        for code in [
            "50035", "50110", "50120", "59500", "59604", "59608", "59619",
        ] {
            assert!(
                matches!(
                    error_for(code, "x", MASTER_DELETE),
                    ConnectorError::Unsupported(_)
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn rate_limits_are_per_account_when_signed_and_per_ip_when_public() {
        assert_eq!(
            error_for("50061", "Sub-account rate limit reached", MASTER_DELETE),
            ConnectorError::RateLimited {
                retry_after: None,
                scope: LimitScope::Account
            }
        );
        assert_eq!(
            error_for("50011", "Rate limit reached.", MASTER_DELETE),
            ConnectorError::RateLimited {
                retry_after: None,
                scope: LimitScope::Account
            }
        );
        let public = Context {
            signed_by: SignedBy::Nobody,
            mutating: false,
        };
        assert_eq!(
            error_for("50011", "Too Many Requests", public),
            ConnectorError::RateLimited {
                retry_after: None,
                scope: LimitScope::Ip
            }
        );
    }

    #[test]
    fn a_server_timeout_on_a_write_is_an_unknown_outcome() {
        assert!(matches!(
            error_for("50004", "timeout", MASTER_DELETE),
            ConnectorError::OutcomeUnknown(_)
        ));
        assert!(matches!(
            error_for("50004", "timeout", OWN_PROBE),
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            error_for("50001", "unavailable", MASTER_DELETE),
            ConnectorError::Transient(_)
        ));
    }

    #[test]
    fn signature_passphrase_and_unknown_codes_are_permanent() {
        for code in ["50113", "50105", "50100", "59510", "51000"] {
            assert!(
                matches!(
                    error_for(code, "x", OWN_PROBE),
                    ConnectorError::Permanent { .. }
                ),
                "{code}"
            );
        }
    }
}
