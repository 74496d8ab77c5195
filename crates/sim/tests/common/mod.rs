//! What the dialect tests share beyond `keyrevoke_sim::testkit`: the
//! injected faults they start a simulator with, unsigned requests, and the
//! readings of a simulator's state.
//!
//! Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::stats::StatsSnapshot;
use keyrevoke_sim::testkit::Answer;
use serde_json::Value;

/// Every request is acted on, then its reply is lost: HTTP 504.
pub fn reply_lost_after_acting() -> Faults {
    Faults {
        gateway_timeout_after: 1.0,
        ..Faults::default()
    }
}

/// Every request is refused before anything is done: HTTP 503.
pub fn unavailable_before_acting() -> Faults {
    Faults {
        unavailable_before: 1.0,
        ..Faults::default()
    }
}

/// Every request gets the exchange's rate-limit refusal.
pub fn always_rate_limited() -> Faults {
    Faults {
        rate_limited: 1.0,
        ..Faults::default()
    }
}

/// A GET of `path` on the simulated `exchange` without any auth header.
pub async fn get_unsigned(h: &SimHandle, exchange: ExchangeId, path: &str) -> Answer {
    let r = reqwest::get(format!("{}{path}", h.urls[&exchange]))
        .await
        .expect("the simulator answers");
    Answer::read(r).await
}

/// `n` unsigned GETs of `path`, one after another from one client: every
/// reply, in order.
pub async fn flood(h: &SimHandle, exchange: ExchangeId, path: &str, n: usize) -> Vec<Answer> {
    let url = format!("{}{path}", h.urls[&exchange]);
    let client = reqwest::Client::new();
    let mut answers = Vec::with_capacity(n);
    for _ in 0..n {
        let r = client
            .get(&url)
            .send()
            .await
            .expect("the simulator answers");
        answers.push(Answer::read(r).await);
    }
    answers
}

/// The simulated `exchange`'s counters now.
pub fn stats(h: &SimHandle, exchange: ExchangeId) -> StatsSnapshot {
    h.exchange(exchange).stats.snapshot()
}

/// The `apiKey` of each entry of a key listing, in order.
pub fn api_keys(listing: &Value) -> Vec<&str> {
    listing
        .as_array()
        .expect("a listing is an array")
        .iter()
        .map(|k| k["apiKey"].as_str().expect("each entry names its apiKey"))
        .collect()
}

/// The simulator deleted `api_key` once, yet saw `requests` requests to
/// delete it: a request for a key already gone is refused, so only the
/// per-key request count shows it.
#[track_caller]
pub fn assert_deleted_once_after(
    h: &SimHandle,
    exchange: ExchangeId,
    api_key: &str,
    requests: u64,
) {
    let s = stats(h, exchange);
    assert_eq!(s.deletes, 1, "one deletion performed: {s:?}");
    assert_eq!(
        h.exchange(exchange).stats.delete_requests.of(api_key),
        requests,
        "{s:?}"
    );
    assert_eq!(s.delete_requests, requests, "{s:?}");
    assert_eq!(
        s.keys_asked_to_delete_more_than_once.get(api_key).copied(),
        (requests > 1).then_some(requests),
        "{s:?}"
    );
}
