//! Bybit's codes mapped to keyrevoke's error taxonomy: a table, read by one
//! function. Source: bybit-exchange/docs `docs/v5/error.mdx` and
//! `docs/v5/rate-limit/rate-limit.mdx`.
//!
//! Who signed the call matters: 10003 ("API key is invalid"), 33004 and
//! -2015 ("api key expired") speak of the *calling* key. When the target key
//! signs its own call, they mean the target is dead; when a master signs
//! (`delete-sub-api` with `apikey`, `update-sub-api`, `sub-apikeys`), they
//! mean our managing credential is unusable, and nothing is known of the
//! target.

use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, classify_status, short, unix_ms};
use keyrevoke_core::{ConnectorError, Failure, Reply, Usage};
use serde_json::Value;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    /// The signing key is invalid or expired: dead if it is the target, an
    /// unusable credential if a master signed.
    KeyDead,
    Unsupported,
    AccountRateLimit,
    IpRateLimit,
    IpBanned,
    /// The exchange failed internally: a write may or may not have happened.
    ServerError,
    Permanent,
}

/// "Permission denied": also what a key without the permission a call
/// needs gets (`docs/v5/error.mdx`).
pub const PERMISSION_DENIED: &str = "10005";

/// retCode -> class. Codes not listed are permanent.
///
/// From `docs/v5/error.mdx`: 10002-10010, 10016, 10018. 33004, -2015,
/// 141019 and 141020 come from the project's exchange notes (a later
/// revision of the same page, and the changelog of 2026-02-10 for the
/// web-only IP changes); treating 33004/-2015 as dead is safe because the
/// executor confirms every "dead" with a probe.
pub const RET_CODES: &[(i64, Class, &str)] = &[
    (
        10002,
        Class::ClockSkew,
        "the request time exceeds the time window",
    ),
    (10003, Class::KeyDead, "API key is invalid"),
    (10004, Class::Permanent, "signature error (wrong secret?)"),
    (10005, Class::Unsupported, "permission denied for this key"),
    (
        10006,
        Class::AccountRateLimit,
        "too many visits (per-UID limit)",
    ),
    (10007, Class::Permanent, "user not logged in"),
    (10008, Class::Unsupported, "the user has been banned"),
    (10009, Class::IpBanned, "the IP has been banned"),
    (
        10010,
        Class::Unsupported,
        "unmatched IP: the key is bound to other IPs",
    ),
    (10016, Class::ServerError, "internal system error"),
    (10018, Class::IpRateLimit, "exceeded the IP rate limit"),
    (33004, Class::KeyDead, "API key expired"),
    (-2015, Class::KeyDead, "API key expired"),
    (
        141019,
        Class::Unsupported,
        "IP whitelist changes are web-only",
    ),
    (
        141020,
        Class::Unsupported,
        "read/write permission changes are web-only",
    ),
];

pub fn class_of(ret_code: i64) -> Class {
    RET_CODES
        .iter()
        .find(|(c, _, _)| *c == ret_code)
        .map(|(_, class, _)| *class)
        .unwrap_or(Class::Permanent)
}

/// What the reply's circumstances add to its code.
#[derive(Clone, Copy, Debug)]
pub struct ReplyContext {
    /// Who signed the call: a refusal of the calling key speaks of it.
    pub signed_by: SignedBy,
    /// From the `X-Bapi-Limit-Reset-Timestamp` header, when present.
    pub reset_after: Option<Duration>,
    /// How long to stay away after an IP ban.
    pub ip_ban_pause: Duration,
    /// Whether the call changes state (so a server error leaves it unknown).
    pub mutating: bool,
}

/// The error for a non-zero retCode.
pub fn error_for(ret_code: i64, ret_msg: &str, cx: &ReplyContext) -> ConnectorError {
    let detail = || format!("{ret_code}: {ret_msg}");
    match class_of(ret_code) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::KeyDead => cx.signed_by.signer_refused(&ret_code.to_string(), ret_msg),
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        Class::AccountRateLimit => ConnectorError::RateLimited {
            retry_after: cx.reset_after,
            scope: LimitScope::Account,
        },
        Class::IpRateLimit => ConnectorError::RateLimited {
            retry_after: cx.reset_after,
            scope: LimitScope::Ip,
        },
        Class::IpBanned => ConnectorError::RateLimited {
            retry_after: Some(cx.ip_ban_pause),
            scope: LimitScope::Ban,
        },
        Class::ServerError if cx.mutating => ConnectorError::OutcomeUnknown(detail()),
        Class::ServerError => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code: ret_code.to_string(),
            message: ret_msg.to_string(),
        },
    }
}

/// A successful v5 reply: its `result` and what to record.
pub struct Answer {
    pub result: Value,
    pub reply: Reply,
}

/// Read one v5 reply: the HTTP status first (a 403 IP ban, a 429, a 401
/// of the signer, a 5xx), then the envelope's `retCode` through [`RET_CODES`].
pub fn read_reply(
    raw: RawResponse,
    mutating: bool,
    signed_by: SignedBy,
    ip_ban_pause: Duration,
) -> Result<Answer, Failure> {
    let usage = usage_from(&raw);
    let meta = |code: Option<String>, message: Option<String>| ReplyMeta {
        http_status: Some(raw.status),
        code,
        message,
    };
    // HTTP-level refusals carry no retCode (rate-limit.mdx).
    let http_error = match raw.status {
        403 => Some(ConnectorError::RateLimited {
            retry_after: Some(ip_ban_pause),
            scope: LimitScope::Ban,
        }),
        429 => Some(ConnectorError::RateLimited {
            retry_after: keyrevoke_core::http::retry_after(&raw.headers),
            scope: LimitScope::Ip,
        }),
        // An invalid key or missing auth headers (bybit.md): of the
        // signer, which is the target only when it signed its own call.
        401 => Some(signed_by.signer_refused("HTTP 401", &short(&raw.body))),
        _ => None,
    };
    if let Some(error) = http_error {
        return Err(Failure::new(error, meta(None, Some(short(&raw.body)))).with_usage(usage));
    }
    if let Some(f) = classify_status(raw.status, mutating, &raw.body) {
        return Err(f.with_usage(usage));
    }
    let envelope: Value = match serde_json::from_str(&raw.body) {
        Ok(v) => v,
        Err(_) => {
            return Err(Failure::new(
                ConnectorError::unreadable_reply(mutating),
                meta(None, Some(short(&raw.body))),
            ));
        }
    };
    let ret_code = envelope["retCode"].as_i64().unwrap_or(-1);
    let ret_msg = envelope["retMsg"].as_str().unwrap_or("").to_string();
    let meta = meta(Some(ret_code.to_string()), Some(ret_msg.clone()));
    if ret_code != 0 {
        let cx = ReplyContext {
            reset_after: usage.iter().find_map(|u| u.reset_after),
            ip_ban_pause,
            mutating,
            signed_by,
        };
        return Err(Failure::new(error_for(ret_code, &ret_msg, &cx), meta).with_usage(usage));
    }
    Ok(Answer {
        result: envelope["result"].clone(),
        reply: Reply { meta, usage },
    })
}

/// `X-Bapi-Limit-Status` (remaining) and `X-Bapi-Limit-Reset-Timestamp` (ms).
fn usage_from(raw: &RawResponse) -> Vec<Usage> {
    let reset_after = raw
        .header_number::<i64>("X-Bapi-Limit-Reset-Timestamp")
        .map(|ts| Duration::from_millis((ts - unix_ms()).clamp(0, 60_000) as u64));
    Usage::reported(
        LimitScope::Account,
        raw.header_number("X-Bapi-Limit-Status"),
        reset_after,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(reset_after: Option<Duration>) -> ReplyContext {
        ReplyContext {
            signed_by: SignedBy::TargetKey,
            reset_after,
            ip_ban_pause: Duration::from_secs(600),
            mutating: true,
        }
    }

    #[test]
    fn a_server_error_on_a_write_is_unknown_and_an_ip_ban_pauses() {
        assert!(matches!(
            error_for(10016, "Internal System Error.", &cx(None)),
            ConnectorError::OutcomeUnknown(_)
        ));
        let read = ReplyContext {
            mutating: false,
            ..cx(None)
        };
        assert!(matches!(
            error_for(10016, "Internal System Error.", &read),
            ConnectorError::Transient(_)
        ));
        assert_eq!(
            error_for(10009, "IP has been banned.", &cx(None)),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(600)),
                scope: LimitScope::Ban
            }
        );
    }

    #[test]
    fn documented_codes_map_to_the_taxonomy() {
        assert_eq!(error_for(10002, "x", &cx(None)), ConnectorError::ClockSkew);
        assert!(matches!(
            error_for(10003, "API key is invalid.", &cx(None)),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error_for(33004, "expired", &cx(None)),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error_for(10005, "denied", &cx(None)),
            ConnectorError::Unsupported(_)
        ));
        assert_eq!(
            error_for(
                10006,
                "Too many visits!",
                &cx(Some(Duration::from_millis(300)))
            ),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_millis(300)),
                scope: LimitScope::Account
            }
        );
        assert!(matches!(
            error_for(170131, "other", &cx(None)),
            ConnectorError::Permanent { .. }
        ));
    }

    #[test]
    fn an_invalid_key_is_dead_only_when_it_is_the_target_that_signed() {
        let master = ReplyContext {
            signed_by: SignedBy::ManagingCredential,
            ..cx(None)
        };
        for code in [10003, 33004, -2015] {
            assert!(
                matches!(
                    error_for(code, "API key is invalid.", &cx(None)),
                    ConnectorError::KeyDead(_)
                ),
                "{code} on the key's own call means the key is gone"
            );
            let e = error_for(code, "API key is invalid.", &master);
            assert!(
                matches!(&e, ConnectorError::Permanent { message, .. } if message.contains("managing credential")),
                "{code} on a master's call speaks of the master, not the target: {e:?}"
            );
        }
    }
}

#[cfg(test)]
mod reply_tests {
    use super::*;

    const PAUSE: Duration = Duration::from_secs(600);

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse::new(status, &[], body)
    }

    #[test]
    fn a_401_is_the_key_dead_only_when_the_key_itself_signed() {
        let own = read_reply(
            raw(401, "401 Unauthorized"),
            false,
            SignedBy::TargetKey,
            PAUSE,
        )
        .err()
        .unwrap();
        assert!(matches!(own.error, ConnectorError::KeyDead(_)), "{own:?}");
        let master = read_reply(
            raw(401, "401 Unauthorized"),
            true,
            SignedBy::ManagingCredential,
            PAUSE,
        )
        .err()
        .unwrap();
        assert!(
            matches!(&master.error, ConnectorError::Permanent { message, .. } if message.contains("managing credential")),
            "{master:?}"
        );
    }
}
