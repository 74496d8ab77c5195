//! Every Deribit reply becomes a result here: the HTTP status first (429,
//! a 5xx), then the JSON-RPC `error.code` table, then `result`. Sources:
//! docs.deribit.com, articles/errors (the error object: `code`, `message`,
//! `data.reason`) and the API reference's error list (10000, 10028, 13004,
//! 13009, 13021, 13403, 13668, …); articles/rate-limits (10028); the
//! project's notes `exchanges/deribit.md`. A JSON-RPC error may come with
//! HTTP 200 or 400: the code decides, whatever the status.
//!
//! 13004 `invalid_credentials` speaks of the signing key: of the target
//! only when it signed its own call (`SignedBy`). 13009 `unauthorized`
//! covers a bad signature, an expired token and (with the header scheme) a
//! timestamp outside the 60 s window: `data.reason` tells them apart; its
//! wording is not documented, so only a reason naming the timestamp is
//! read as clock skew, and every other 13009 stays permanent.
//!
//! A security-key (TFA) challenge is not an error: "the server responds
//! with a non-error response" whose result holds
//! `security_key_authorization_required: true` and a `challenge`, and
//! nothing was done (articles/security-keys; it "applies to ... API key
//! management"). Answering it needs the owner's TOTP code, so it ends the
//! route with that reason, never as a success; 13668 is the refusal of a
//! wrong answer.

use crate::limits;
use keyrevoke_core::error::{LimitScope, ReplyMeta, SignedBy};
use keyrevoke_core::http::{RawResponse, failure_in_order, short};
use keyrevoke_core::{ConnectorError, Failure, Reply};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The signing key does not exist (or is disabled): dead if it is the
    /// target.
    SignerUnknown,
    /// Bad signature or expired token; clock skew when the reason says so.
    Unauthorized,
    /// This caller cannot use this channel: try the next.
    Unsupported,
    /// A security-key (TFA) challenge: no API call can answer it.
    SecurityKey,
    RateLimited,
    /// The server failed: unknown for a write, transient for a read.
    ServerError,
    Permanent,
}

/// code -> class, with the documented message. Codes not listed are
/// permanent.
pub const CODES: &[(i64, Class, &str)] = &[
    (10000, Class::Permanent, "authorization_required"),
    (10028, Class::RateLimited, "too_many_requests"),
    (10040, Class::ServerError, "retry"),
    (11029, Class::Permanent, "invalid_arguments"),
    (11050, Class::Permanent, "bad_request"),
    (13004, Class::SignerUnknown, "invalid_credentials"),
    (13009, Class::Unauthorized, "unauthorized"),
    (13012, Class::Unsupported, "unavailable_in_subaccount"),
    (13020, Class::Permanent, "not_found"),
    (13021, Class::Unsupported, "forbidden"),
    (13025, Class::Unsupported, "method_switched_off_by_admin"),
    (13028, Class::ServerError, "temporarily_unavailable"),
    (13403, Class::Unsupported, "scope_exceeded"),
    (13503, Class::ServerError, "unavailable"),
    (
        13668,
        Class::SecurityKey,
        "security_key_authorization_error",
    ),
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
    /// Whose budget a 10028 speaks of: the account's for signed calls, the
    /// IP's for public ones.
    pub limit_scope: LimitScope,
}

/// A successful reply: its `result` and what to record.
pub struct Answer {
    pub result: Value,
    pub reply: Reply,
}

/// A JSON-RPC error: `code`, `message`, `data.reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub reason: String,
}

fn names_the_timestamp(reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("timestamp")
}

/// The error for a JSON-RPC refusal.
pub fn error_for(e: &RpcError, cx: &ReplyContext) -> ConnectorError {
    let code = e.code.to_string();
    let detail = || {
        format!("{}: {} {}", e.code, e.message, e.reason)
            .trim_end()
            .to_string()
    };
    match class_of(e.code) {
        Class::SignerUnknown => cx.signed_by.signer_refused(&code, &e.message),
        Class::Unauthorized if names_the_timestamp(&e.reason) => ConnectorError::ClockSkew,
        Class::Unauthorized => ConnectorError::Permanent {
            code,
            message: format!("{} {}", e.message, e.reason).trim_end().to_string(),
        },
        Class::Unsupported => ConnectorError::Unsupported(detail()),
        Class::SecurityKey => ConnectorError::Unsupported(format!(
            "{}: the account asks for a security-key (TFA) confirmation, which no API call can give; the key's owner must act",
            detail()
        )),
        Class::RateLimited => ConnectorError::RateLimited {
            retry_after: Some(limits::AFTER_TOO_MANY_REQUESTS),
            scope: cx.limit_scope,
        },
        Class::ServerError if cx.mutating => ConnectorError::OutcomeUnknown(detail()),
        Class::ServerError => ConnectorError::Transient(detail()),
        Class::Permanent => ConnectorError::Permanent {
            code,
            message: e.message.clone(),
        },
    }
}

/// Read one reply: a rate limit by its status, a 5xx as unknown (for a
/// write) or transient, then the code table, then `result`.
pub fn read_reply(raw: RawResponse, cx: &ReplyContext) -> Result<Answer, Failure> {
    let parsed: Option<Value> = serde_json::from_str(&raw.body).ok();
    let refusal = parsed.as_ref().and_then(rpc_error);
    let meta = ReplyMeta {
        http_status: Some(raw.status),
        code: refusal.as_ref().map(|e| e.code.to_string()),
        message: refusal
            .as_ref()
            .map(|e| format!("{} {}", e.message, e.reason).trim_end().to_string())
            .or_else(|| (raw.status >= 300).then(|| short(&raw.body))),
    };
    let rate_limited = (raw.status == 429).then_some(ConnectorError::RateLimited {
        retry_after: Some(limits::AFTER_TOO_MANY_REQUESTS),
        scope: cx.limit_scope,
    });
    let refused = refusal.map(|e| error_for(&e, cx));
    if let Some(f) = failure_in_order(&raw, cx.mutating, &meta, rate_limited, refused) {
        return Err(f);
    }
    match parsed.as_ref().and_then(|p| p.get("result")) {
        Some(result) if asks_for_a_security_key(result) => Err(Failure::new(
            ConnectorError::Unsupported(SECURITY_KEY_CHALLENGE.into()),
            ReplyMeta {
                code: Some("security_key_authorization_required".into()),
                ..meta
            },
        )),
        Some(result) => Ok(Answer {
            result: result.clone(),
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

/// Why a route ends at a security-key challenge.
pub const SECURITY_KEY_CHALLENGE: &str = "the account asks for a security-key (TFA) confirmation before this call, which only the key's owner can give: nothing was done";

/// A non-error result that asks for a security key instead of acting.
fn asks_for_a_security_key(result: &Value) -> bool {
    result["security_key_authorization_required"].as_bool() == Some(true)
}

/// `{"error": {"code", "message", "data": {"reason"}}}`.
fn rpc_error(body: &Value) -> Option<RpcError> {
    let e = body.get("error")?;
    Some(RpcError {
        code: e.get("code")?.as_i64()?,
        message: e["message"].as_str().unwrap_or("").to_string(),
        reason: e["data"]["reason"].as_str().unwrap_or("").to_string(),
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

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse::new(status, &[], body)
    }

    fn error(r: RawResponse, cx: ReplyContext) -> ConnectorError {
        read_reply(r, &cx).err().expect("a refusal").error
    }

    fn rpc(code: i64, message: &str, reason: &str) -> String {
        format!(
            r#"{{"jsonrpc":"2.0","error":{{"code":{code},"message":"{message}","data":{{"reason":"{reason}"}}}},"usIn":1,"usOut":2,"usDiff":1}}"#
        )
    }

    #[test]
    fn invalid_credentials_are_dead_only_when_the_target_signed() {
        let body = rpc(13004, "invalid_credentials", "");
        assert!(matches!(
            error(raw(400, &body), cx(SignedBy::TargetKey, false)),
            ConnectorError::KeyDead(_)
        ));
        assert!(matches!(
            error(raw(400, &body), cx(SignedBy::ManagingCredential, true)),
            ConnectorError::Permanent { .. }
        ));
    }

    #[test]
    fn codes_map_to_the_taxonomy_in_a_200_as_in_a_400() {
        let m = cx(SignedBy::ManagingCredential, true);
        for status in [200, 400] {
            assert_eq!(
                error(
                    raw(status, &rpc(13009, "unauthorized", "invalid timestamp")),
                    m
                ),
                ConnectorError::ClockSkew
            );
            assert!(matches!(
                error(
                    raw(status, &rpc(13009, "unauthorized", "invalid signature")),
                    m
                ),
                ConnectorError::Permanent { .. }
            ));
            assert!(matches!(
                error(raw(status, &rpc(13021, "forbidden", "")), m),
                ConnectorError::Unsupported(_)
            ));
            assert!(matches!(
                error(raw(status, &rpc(10028, "too_many_requests", "")), m),
                ConnectorError::RateLimited {
                    scope: LimitScope::Account,
                    retry_after: Some(_)
                }
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
    fn a_security_key_challenge_says_why_it_cannot_go_on() {
        match error(
            raw(400, &rpc(13668, "security_key_authorization_error", "")),
            cx(SignedBy::ManagingCredential, true),
        ) {
            ConnectorError::Unsupported(why) => {
                assert!(
                    why.contains("13668") && why.contains("security-key"),
                    "{why}"
                )
            }
            other => panic!("not unsupported: {other:?}"),
        }
    }

    #[test]
    fn a_security_key_challenge_in_a_result_is_no_success() {
        // articles/security-keys, "Authorization Required Response".
        let challenge = r#"{"jsonrpc":"2.0","result":{"security_key_authorization_required":true,
            "security_keys":[{"type":"tfa","name":"tfa"}],"rp_id":"test.deribit.com",
            "challenge":"6ayp6pj6hvlvEpSPtFAUgqMA7VWvCgS5c2GA15B35sg="}}"#;
        let f = read_reply(raw(200, challenge), &cx(SignedBy::ManagingCredential, true))
            .err()
            .expect("not a success");
        assert_eq!(
            f.error,
            ConnectorError::Unsupported(SECURITY_KEY_CHALLENGE.into())
        );
        assert_eq!(
            f.meta.code.as_deref(),
            Some("security_key_authorization_required")
        );
    }

    #[test]
    fn a_result_is_read_and_a_reply_without_one_is_unreadable() {
        let ok = read_reply(
            raw(200, r#"{"jsonrpc":"2.0","id":1569,"result":"ok"}"#),
            &cx(SignedBy::ManagingCredential, true),
        )
        .ok()
        .unwrap();
        assert_eq!(ok.result, Value::from("ok"));
        assert!(matches!(
            error(raw(200, "<html>"), cx(SignedBy::ManagingCredential, true)),
            ConnectorError::OutcomeUnknown(_)
        ));
    }
}
