//! Bybit's codes mapped to keyrevoke's error taxonomy: a table, read by one
//! function. Source: bybit-exchange/docs `docs/v5/error.mdx` and
//! `docs/v5/rate-limit/rate-limit.mdx`.

use keyrevoke_core::ConnectorError;
use keyrevoke_core::error::LimitScope;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    ClockSkew,
    KeyDead,
    Unsupported,
    AccountRateLimit,
    Transient,
    Permanent,
}

/// retCode -> class. Codes not listed are permanent.
pub const RET_CODES: &[(i64, Class, &str)] = &[
    (10002, Class::ClockSkew, "request outside the recv window"),
    (10003, Class::KeyDead, "API key is invalid"),
    (10004, Class::Permanent, "signature error (wrong secret?)"),
    (10005, Class::Unsupported, "permission denied for this key"),
    (
        10006,
        Class::AccountRateLimit,
        "too many visits (per-UID limit)",
    ),
    (10007, Class::Permanent, "user authentication failed"),
    (
        10010,
        Class::Unsupported,
        "unmatched IP: the key is bound to other IPs",
    ),
    (10016, Class::Transient, "internal server error"),
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

/// The error for a non-zero retCode. `reset_after` comes from the
/// `X-Bapi-Limit-Reset-Timestamp` header, when present.
pub fn error_for(ret_code: i64, ret_msg: &str, reset_after: Option<Duration>) -> ConnectorError {
    let detail = || format!("{ret_code}: {ret_msg}");
    match class_of(ret_code) {
        Class::ClockSkew => ConnectorError::ClockSkew,
        Class::KeyDead => ConnectorError::KeyDead(detail()),
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        Class::AccountRateLimit => ConnectorError::RateLimited {
            retry_after: reset_after,
            scope: LimitScope::Account,
        },
        Class::Transient => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code: ret_code.to_string(),
            message: ret_msg.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_codes_map_to_the_taxonomy() {
        assert_eq!(error_for(10002, "x", None), ConnectorError::ClockSkew);
        assert!(matches!(
            error_for(10003, "API key is invalid.", None),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error_for(33004, "expired", None),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error_for(10005, "denied", None),
            ConnectorError::Unsupported(_)
        ));
        assert_eq!(
            error_for(10006, "Too many visits!", Some(Duration::from_millis(300))),
            ConnectorError::RateLimited {
                retry_after: Some(Duration::from_millis(300)),
                scope: LimitScope::Account
            }
        );
        assert!(matches!(
            error_for(170131, "other", None),
            ConnectorError::Permanent { .. }
        ));
    }
}
