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

use keyrevoke_core::ConnectorError;
use keyrevoke_core::error::LimitScope;
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
}
