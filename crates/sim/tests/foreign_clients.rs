//! Requests built by other clients, replayed byte for byte: each dialect
//! must accept what any client that follows the exchange's docs sends, not
//! only what keyrevoke's connectors build.
//!
//! The requests are the captured ones in each connector's `test_data/`:
//! `official_client_vectors.json` (the exchange's own SDK) and
//! `ccxt_vectors.json` (ccxt; the same requests as the shared vectors).
//! Each was signed with its clock frozen at `clock_ms`, so the simulated
//! exchange's clock is set to that instant (its clock skew) before the
//! request is written to the socket as captured: method, path and query,
//! header names and values, and body untouched, `Host` naming the host the
//! client called.
//! Each vector gets a fresh simulator holding the vector's key and the
//! account it acts on, so the request also reaches its business answer.
//!
//! A vector passes when the reply is none of the exchange's
//! authentication refusals (../shared/exchanges/<exchange>.md, "Errors")
//! and the simulator counted no bad signature, stale timestamp, missing
//! auth or unknown key.

use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::SimKey;
use keyrevoke_sim::testkit::{self, key};
use serde_json::Value;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One captured request and what signed it.
#[derive(Clone)]
struct Captured {
    source: &'static str,
    what: String,
    clock_ms: i64,
    api_key: String,
    secret: String,
    passphrase: Option<String>,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

fn load(source: &'static str, json: &str) -> Vec<Captured> {
    let file: Value = serde_json::from_str(json).expect("the vectors are JSON");
    let text = |v: &Value| v.as_str().map(str::to_string);
    file["vectors"]
        .as_array()
        .expect("a vectors array")
        .iter()
        .map(|v| {
            let request = &v["request"];
            let credentials = &v["credentials"];
            Captured {
                source,
                what: text(&v["what"]).expect("what"),
                clock_ms: v["clock_ms"]
                    .as_i64()
                    .or_else(|| file["clock_ms"].as_i64())
                    .expect("clock_ms"),
                api_key: text(&credentials["api_key"]).expect("api_key"),
                secret: text(&credentials["api_secret"]).expect("api_secret"),
                passphrase: text(&credentials["passphrase"]),
                method: text(&request["method"]).expect("method"),
                url: text(&request["url"]).expect("url"),
                headers: request["headers"]
                    .as_object()
                    .expect("headers")
                    .iter()
                    .map(|(k, v)| (k.clone(), text(v).expect("a header is text")))
                    .collect(),
                body: text(&request["body"]),
            }
        })
        .collect()
}

/// A reply as read off the socket.
#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
}

/// Write the captured request to the simulator as it stands and read the
/// reply. The request target is the URL's path and query exactly as the
/// client wrote them (no parsing, no re-encoding); `Host` is the URL's
/// host; `extra` adds headers the capture says were sent but left out.
/// With `frozen_clock` the exchange's clock reads the client's `clock_ms`;
/// without, it reads the local clock.
async fn replay(
    h: &SimHandle,
    exchange: ExchangeId,
    c: &Captured,
    extra: &[(&str, &str)],
    frozen_clock: bool,
) -> Reply {
    let rest = c.url.strip_prefix("https://").expect("an https URL");
    let (host, target) = rest.split_at(rest.find('/').expect("a path"));
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: {host}\r\n", c.method);
    for (name, value) in &c.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = c.body.clone().unwrap_or_default();
    // As HTTP clients do: a length whenever there is a body or the method
    // normally carries one.
    if c.body.is_some() || matches!(c.method.as_str(), "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");

    // The exchange's clock skew (`Faults::clock_skew_ms`) puts its clock
    // at the instant the client's clock was frozen at.
    if frozen_clock {
        let sim = h.exchange(exchange);
        sim.faults.write().unwrap().clock_skew_ms = c.clock_ms - testkit::now_ms();
    }

    let addr = h.urls[&exchange]
        .strip_prefix("http://")
        .expect("a loopback URL")
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the simulator listens");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete reply");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    Reply {
        status,
        body: serde_json::from_str(&body).unwrap_or(Value::String(body)),
    }
}

/// What the simulator counted as an authentication failure.
fn auth_failures(h: &SimHandle, exchange: ExchangeId) -> Vec<&'static str> {
    let stats = &h.exchange(exchange).stats;
    [
        ("bad_signature", &stats.bad_signature),
        ("stale_timestamp", &stats.stale_timestamp),
        ("missing_auth", &stats.missing_auth),
        ("unknown_key", &stats.unknown_key),
    ]
    .into_iter()
    .filter(|(_, n)| n.load(Ordering::Relaxed) > 0)
    .map(|(name, _)| name)
    .collect()
}

/// Replay every vector of `sources` on a fresh simulator holding
/// `keys(vector)`, `extra(vector)` added to its headers; `auth_refusal`
/// says whether a reply is one of the exchange's authentication refusals.
/// Fails listing every vector refused; returns every reply.
///
/// Two controls show that acceptance is earned: each vector is also
/// replayed to a simulator holding its key under another secret, and to
/// one whose clock was not set back to the vector's; both must be refused.
async fn replay_all(
    exchange: ExchangeId,
    sources: &[(&'static str, &str)],
    keys: impl Fn(&Captured) -> Vec<SimKey>,
    extra: impl Fn(&Captured) -> Vec<(&'static str, &'static str)>,
    auth_refusal: impl Fn(&Reply) -> bool,
) -> Vec<(String, Reply)> {
    let mut refused = Vec::new();
    let mut answered = Vec::new();
    let vectors: Vec<Captured> = sources
        .iter()
        .flat_map(|(source, json)| load(source, json))
        .collect();
    assert!(!vectors.is_empty());
    for c in &vectors {
        let name = format!("{} {}: {}", c.source, c.method, c.what);
        let h = testkit::start(exchange, Faults::default(), keys(c)).await;
        let reply = replay(&h, exchange, c, &extra(c), true).await;
        let counted = auth_failures(&h, exchange);
        h.shutdown();
        if auth_refusal(&reply) || !counted.is_empty() {
            refused.push(format!("{name}: {reply:?} (counted {counted:?})"));
        }
        answered.push((name.clone(), reply));

        let other_secret = Captured {
            secret: format!("{}0", c.secret),
            ..c.clone()
        };
        let h = testkit::start(exchange, Faults::default(), keys(&other_secret)).await;
        let reply = replay(&h, exchange, c, &extra(c), true).await;
        h.shutdown();
        assert!(
            auth_refusal(&reply),
            "{name}: accepted under another secret: {reply:?}"
        );

        let h = testkit::start(exchange, Faults::default(), keys(c)).await;
        let reply = replay(&h, exchange, c, &extra(c), false).await;
        h.shutdown();
        assert!(
            auth_refusal(&reply),
            "{name}: accepted at today's clock: {reply:?}"
        );
    }
    assert!(
        refused.is_empty(),
        "{exchange} refused requests signed by other clients:\n{}",
        refused.join("\n")
    );
    answered
}

fn no_extra(_: &Captured) -> Vec<(&'static str, &'static str)> {
    Vec::new()
}

/// The business answers: every replayed request reached its endpoint.
fn assert_all(answered: &[(String, Reply)], ok: impl Fn(&Reply) -> bool) {
    let failed: Vec<String> = answered
        .iter()
        .filter(|(_, r)| !ok(r))
        .map(|(name, r)| format!("{name}: {r:?}"))
        .collect();
    assert!(failed.is_empty(), "not acted on:\n{}", failed.join("\n"));
}

#[tokio::test]
async fn binance_accepts_requests_signed_by_its_sdk_and_ccxt() {
    let answered = replay_all(
        ExchangeId::new("binance"),
        &[
            (
                "binance-sdk",
                include_str!("../../../connectors/binance/test_data/official_client_vectors.json"),
            ),
            (
                "ccxt",
                include_str!("../../../connectors/binance/test_data/ccxt_vectors.json"),
            ),
        ],
        |c| {
            vec![
                key(
                    &c.api_key,
                    "1000",
                    &["enableReading", "enableSpotAndMarginTrading"],
                )
                .with_secret(&c.secret),
                key(
                    "SUBKEYabc123",
                    "2000",
                    &["enableReading", "enableSpotAndMarginTrading"],
                )
                .sub_of("1000")
                .in_sub_account("bot001@virtual.example"),
            ]
        },
        no_extra,
        // -1002 unauthorized, -1021 timestamp, -1022 signature, -2014 key
        // format, -2015 key/IP/permission; a missing signature or timestamp
        // is -1102 naming it.
        |r| {
            let code = r.body["code"].as_i64();
            let msg = r.body["msg"].as_str().unwrap_or("");
            matches!(code, Some(-1002 | -1021 | -1022 | -2014 | -2015))
                || (code == Some(-1102) && (msg.contains("signature") || msg.contains("timestamp")))
                || r.status == 401
        },
    )
    .await;
    assert_all(&answered, |r| r.status == 200);
}

#[tokio::test]
async fn bybit_accepts_requests_signed_by_ccxt() {
    let answered = replay_all(
        ExchangeId::new("bybit"),
        &[(
            "ccxt",
            include_str!("../../../connectors/bybit/test_data/ccxt_vectors.json"),
        )],
        |c| {
            vec![
                key(
                    &c.api_key,
                    "1000",
                    &["AccountTransfer", "SubMemberTransfer"],
                )
                .with_secret(&c.secret),
                key("SUBKEY123", "2000", &["SpotTrade"]).sub_of("1000"),
            ]
        },
        no_extra,
        // 10002 recv window, 10003 key invalid, 10004 sign, 10007 auth
        // failed, 10010 IP, 33004 key expired; HTTP 401 missing auth.
        |r| {
            matches!(
                r.body["retCode"].as_i64(),
                Some(10002 | 10003 | 10004 | 10007 | 10010 | 33004)
            ) || r.status == 401
        },
    )
    .await;
    assert_all(&answered, |r| r.body["retCode"] == 0);
}

#[tokio::test]
async fn okx_accepts_requests_signed_by_python_okx_and_ccxt() {
    let answered = replay_all(
        ExchangeId::new("okx"),
        &[
            (
                "python-okx",
                include_str!("../../../connectors/okx/test_data/official_client_vectors.json"),
            ),
            (
                "ccxt",
                include_str!("../../../connectors/okx/test_data/ccxt_vectors.json"),
            ),
        ],
        |c| {
            vec![
                key(&c.api_key, "1000", &["read_only", "trade"])
                    .with_secret(&c.secret)
                    .with_passphrase(c.passphrase.clone().expect("a passphrase"))
                    .bound_to(&["127.0.0.1"]),
                key("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "2000", &["trade"])
                    .sub_of("1000")
                    .in_sub_account("botsub001")
                    .with_passphrase("subPassphrase1!"),
            ]
        },
        no_extra,
        // 50101 environment, 50102 timestamp expired, 50103-50107 a missing
        // auth header, 50105 passphrase, 50110 IP, 50111 key, 50112
        // timestamp, 50113 signature, 50119 no such key; HTTP 401.
        |r| {
            let code = r.body["code"].as_str().unwrap_or("");
            matches!(
                code,
                "50101"
                    | "50102"
                    | "50103"
                    | "50104"
                    | "50105"
                    | "50106"
                    | "50107"
                    | "50110"
                    | "50111"
                    | "50112"
                    | "50113"
                    | "50119"
            ) || r.status == 401
        },
    )
    .await;
    assert_all(&answered, |r| r.body["code"] == "0");
}

/// The sub key's own passphrase, as the request quotes it (the delete's
/// query or the update's body), so that the business answer is a success.
fn kucoin_sub_passphrase(c: &Captured) -> String {
    if let Some(body) = c.body.as_deref() {
        let v: Value = serde_json::from_str(body).expect("a JSON body");
        return v["passphrase"].as_str().expect("a passphrase").to_string();
    }
    let query = c.url.split_once('?').map_or("", |(_, q)| q);
    let pairs = keyrevoke_sim::dialects::common::form_pairs(query);
    keyrevoke_sim::dialects::common::form_value(&pairs, "passphrase")
        .unwrap_or("subPass123")
        .to_string()
}

#[tokio::test]
async fn kucoin_accepts_requests_signed_by_its_sdk_and_ccxt() {
    let answered = replay_all(
        ExchangeId::new("kucoin"),
        &[
            (
                "kucoin-universal-sdk",
                include_str!("../../../connectors/kucoin/test_data/official_client_vectors.json"),
            ),
            (
                "ccxt",
                include_str!("../../../connectors/kucoin/test_data/ccxt_vectors.json"),
            ),
        ],
        |c| {
            vec![
                key(&c.api_key, "1000", &["General", "Spot"])
                    .with_secret(&c.secret)
                    .with_passphrase(c.passphrase.clone().expect("a passphrase")),
                key("5e1b5c1d2f3a4b5c6d7e8f90", "2000", &["General", "Spot"])
                    .sub_of("1000")
                    .in_sub_account("kcsub001")
                    .with_passphrase(kucoin_sub_passphrase(c)),
            ]
        },
        // The SDK's capture keeps the signed headers only; it also sent
        // `Content-Type: application/json` with its JSON body (provenance).
        |c| {
            if c.body.is_some() {
                vec![("Content-Type", "application/json")]
            } else {
                Vec::new()
            }
        },
        // 400001 header missing, 400002 timestamp, 400003 key, 400004
        // passphrase, 400005 signature, 400006 IP, 400009 key version;
        // HTTP 401.
        |r| {
            let code = r.body["code"].as_str().unwrap_or("");
            matches!(
                code,
                "400001" | "400002" | "400003" | "400004" | "400005" | "400006" | "400009"
            ) || r.status == 401
        },
    )
    .await;
    assert_all(&answered, |r| r.body["code"] == "200000");
}

#[tokio::test]
async fn coinbase_accepts_jwts_built_by_coinbase_advanced_py() {
    let answered = replay_all(
        ExchangeId::new("coinbase"),
        &[(
            "coinbase-advanced-py",
            include_str!("../../../connectors/coinbase/test_data/official_client_vectors.json"),
        )],
        |c| vec![key(&c.api_key, "1000", &["can_view"]).with_secret(&c.secret)],
        no_extra,
        // Any auth failure is HTTP 401 "Unauthorized".
        |r| r.status == 401,
    )
    .await;
    assert_all(&answered, |r| {
        r.status == 200 && r.body["can_view"] == Value::Bool(true)
    });
}

#[tokio::test]
async fn htx_accepts_requests_signed_by_ccxt() {
    let answered = replay_all(
        ExchangeId::new("htx"),
        &[(
            "ccxt",
            include_str!("../../../connectors/htx/test_data/ccxt_vectors.json"),
        )],
        |c| {
            vec![
                key(&c.api_key, "300000", &["readOnly", "trade"]).with_secret(&c.secret),
                key(
                    "aaaaaaaa-bbbbbbbb-cccccccc-ddddd",
                    "310001",
                    &["readOnly", "trade"],
                )
                .sub_of("300000"),
            ]
        },
        no_extra,
        // `api-signature-not-valid` (key, signature, time, IP), no auth
        // parameters, malformed ones.
        |r| {
            matches!(
                r.body["err-code"].as_str(),
                Some("api-signature-not-valid" | "login-required" | "api-signature-check-failed")
            )
        },
    )
    .await;
    assert_all(&answered, |r| r.status == 200 && r.body["code"] == 200);
}
