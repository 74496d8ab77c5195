//! Fault injection: what a misbehaving exchange does, with what probability.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Probabilities (0..=1) per request, and the clock skew of the exchange.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// HTTP 503 before acting: nothing happened.
    pub unavailable_before: f64,
    /// Act, then answer HTTP 504: the client cannot know it worked.
    pub gateway_timeout_after: f64,
    /// Act on a key deletion, then answer HTTP 504; every other request is
    /// answered (where a delete is preceded by reads: Deribit's listing).
    pub gateway_timeout_after_delete: f64,
    /// Act, then drop the connection mid-reply.
    pub reset_after: f64,
    /// Hold the request for `stall_ms` before acting (past a client timeout).
    pub stall: f64,
    pub stall_ms: u64,
    /// Refuse with the exchange's rate-limit reply although within limits.
    pub rate_limited: f64,
    /// The exchange's clock runs this far ahead of ours (negative: behind).
    pub clock_skew_ms: i64,
}

/// What happens before the request is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Before {
    Proceed,
    Unavailable,
    RateLimited,
    Stall(Duration),
}

/// What happens to the reply after the request was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    Reply,
    GatewayTimeout,
    Reset,
}

impl Faults {
    pub fn before(&self, rng: &mut impl Rng) -> Before {
        let roll: f64 = rng.r#gen();
        let mut edge = self.unavailable_before;
        if roll < edge {
            return Before::Unavailable;
        }
        edge += self.rate_limited;
        if roll < edge {
            return Before::RateLimited;
        }
        edge += self.stall;
        if roll < edge {
            return Before::Stall(Duration::from_millis(self.stall_ms));
        }
        Before::Proceed
    }

    pub fn after(&self, rng: &mut impl Rng) -> After {
        let roll: f64 = rng.r#gen();
        if roll < self.gateway_timeout_after {
            After::GatewayTimeout
        } else if roll < self.gateway_timeout_after + self.reset_after {
            After::Reset
        } else {
            After::Reply
        }
    }

    /// Whether a key deletion that was acted on is answered with a 504.
    pub fn times_out_delete(&self, rng: &mut impl Rng) -> bool {
        self.gateway_timeout_after_delete > 0.0
            && rng.r#gen::<f64>() < self.gateway_timeout_after_delete
    }

    pub fn any(&self) -> bool {
        self.unavailable_before
            + self.gateway_timeout_after
            + self.gateway_timeout_after_delete
            + self.reset_after
            + self.stall
            + self.rate_limited
            > 0.0
    }
}

pub fn unavailable() -> Response {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "503 Service Temporarily Unavailable",
    )
}

pub fn gateway_timeout() -> Response {
    plain(StatusCode::GATEWAY_TIMEOUT, "504 Gateway Time-out")
}

/// A reply that promises more bytes than it sends: the server closes the
/// connection mid-body and the client sees a broken connection after its
/// request was acted on.
pub fn reset() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "4096")
        .body(Body::from("{\"retCode\":0"))
        .expect("static response")
}

pub fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text))
        .expect("static response")
}
