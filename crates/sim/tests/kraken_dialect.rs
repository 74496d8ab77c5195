//! The Kraken dialect, driven by hand-built requests that follow Kraken's
//! docs ("Spot REST Authentication", "Get API Key Info", "Spot REST Rate
//! Limits", "API Error Codes"), not keyrevoke's connector: the simulator
//! must accept what the docs describe and refuse what they forbid, with the
//! documented errors.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use keyrevoke_core::ExchangeId;
use keyrevoke_core::sign::{hmac_sha512, sha256};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::dialects::kraken;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, Answer, key, now_ms};
use std::net::IpAddr;

const KRAKEN: ExchangeId = ExchangeId::new("kraken");
const PATH: &str = "/0/private/GetApiKeyInfo";
const ALIVE: &str = "krakenALIVE0000000000000000000000000000000000000000000001";
const OTHER: &str = "krakenOTHER0000000000000000000000000000000000000000000001";
const BOUND: &str = "krakenBOUND0000000000000000000000000000000000000000000001";

/// The docs' published example secret; each test key gets its own variant.
const DOC_SECRET: &str =
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==";

fn secret(api_key: &str) -> String {
    STANDARD.encode(sha256(format!("{DOC_SECRET}{api_key}").as_bytes()))
}

fn keys() -> Vec<SimKey> {
    vec![
        key(ALIVE, "900001", &["query-funds", "withdraw-funds"])
            .with_secret(secret(ALIVE))
            .labelled("bot"),
        key(OTHER, "900002", &["query-funds"]).with_secret(secret(OTHER)),
        key(BOUND, "900003", &["query-funds"])
            .with_secret(secret(BOUND))
            .bound_to(&["203.0.113.9"]),
    ]
}

/// `API-Sign` exactly as the docs define it.
fn api_sign(secret: &str, path: &str, nonce: u64, post_data: &str) -> String {
    let key = STANDARD.decode(secret).unwrap();
    let digest = sha256(format!("{nonce}{post_data}").as_bytes());
    STANDARD.encode(hmac_sha512(&key, &[path.as_bytes(), &digest].concat()))
}

/// A probe of `api_key` signed with `secret`, from `from`, form-encoded
/// unless `json`.
async fn probe_from(
    h: &SimHandle,
    from: IpAddr,
    api_key: &str,
    secret: &str,
    nonce: u64,
    json: bool,
) -> Answer {
    let (body, content_type) = if json {
        (format!(r#"{{"nonce":{nonce}}}"#), "application/json")
    } else {
        (
            format!("nonce={nonce}"),
            "application/x-www-form-urlencoded",
        )
    };
    let client = reqwest::Client::builder()
        .local_address(from)
        .build()
        .unwrap();
    let request = client
        .post(format!("{}{PATH}", h.urls[&KRAKEN]))
        .header("API-Key", api_key)
        .header("API-Sign", api_sign(secret, PATH, nonce, &body))
        .header("Content-Type", content_type)
        .body(body);
    Answer::read(request.send().await.expect("the simulator answers")).await
}

async fn probe(h: &SimHandle, api_key: &str, nonce: u64) -> Answer {
    let loopback = IpAddr::from([127, 0, 0, 1]);
    probe_from(h, loopback, api_key, &secret(api_key), nonce, false).await
}

fn first_error(a: &Answer) -> Option<&str> {
    a.body["error"].as_array()?.first()?.as_str()
}

#[test]
fn the_dialect_signs_the_docs_published_example() {
    assert_eq!(
        kraken::api_sign(
            DOC_SECRET,
            "/0/private/AddOrder",
            1_616_492_376_594,
            "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25",
        )
        .as_deref(),
        Some(
            "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="
        )
    );
}

#[tokio::test]
async fn a_key_reads_its_own_info_signed_form_or_json_and_a_nonce_is_used_once() {
    let h = testkit::start_unlimited(KRAKEN, keys()).await;
    let nonce = now_ms() as u64;
    let a = probe(&h, ALIVE, nonce).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["error"], serde_json::json!([]));
    assert_eq!(a.body["result"]["apiKeyName"], "bot");
    assert_eq!(
        a.body["result"]["permissions"],
        serde_json::json!(["query-funds", "withdraw-funds"])
    );
    let replay = probe(&h, ALIVE, nonce).await;
    assert_eq!(first_error(&replay), Some("EAPI:Invalid nonce"));
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let json = probe_from(&h, loopback, ALIVE, &secret(ALIVE), nonce + 1, true).await;
    assert_eq!(json.body["error"], serde_json::json!([]), "{:?}", json.body);
}

#[tokio::test]
async fn wrong_signatures_dead_keys_and_foreign_ips_are_refused_as_documented() {
    let h = testkit::start_unlimited(KRAKEN, keys()).await;
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let n = now_ms() as u64;
    let a = probe_from(&h, loopback, ALIVE, &secret(OTHER), n, false).await;
    assert_eq!(first_error(&a), Some("EAPI:Invalid signature"));
    assert_eq!(h.exchange(KRAKEN).stats.snapshot().bad_signature, 1);
    h.exchange(KRAKEN)
        .keys
        .update(OTHER, |k| k.state = KeyState::Deleted);
    assert_eq!(
        first_error(&probe(&h, OTHER, n).await),
        Some("EAPI:Invalid key")
    );
    assert_eq!(
        first_error(&probe(&h, "krakenNEVERISSUED", n).await),
        Some("EAPI:Invalid key")
    );
    assert_eq!(
        first_error(&probe(&h, BOUND, n).await),
        Some("EGeneral:Permission denied")
    );
}

#[tokio::test]
async fn a_keys_counter_holds_fifteen_calls_then_refuses_that_key_only() {
    let h = testkit::start(KRAKEN, Faults::default(), keys()).await;
    let n = now_ms() as u64;
    for i in 0..15 {
        let a = probe(&h, ALIVE, n + i).await;
        assert_eq!(a.body["error"], serde_json::json!([]), "call {i}");
    }
    assert_eq!(
        first_error(&probe(&h, ALIVE, n + 15).await),
        Some("EAPI:Rate limit exceeded")
    );
    assert_eq!(
        probe(&h, OTHER, n).await.body["error"],
        serde_json::json!([])
    );
}

/// Failed calls fill the IP's counter; past it the IP is locked out, for
/// every key, valid ones included, while another IP is not.
#[tokio::test]
async fn failed_calls_lock_the_ip_out_for_every_key() {
    let h = testkit::start(KRAKEN, Faults::default(), keys()).await;
    let n = now_ms() as u64;
    for i in 0..15 {
        let a = probe(&h, &format!("krakenGONE{i}"), n).await;
        assert_eq!(first_error(&a), Some("EAPI:Invalid key"), "call {i}");
    }
    assert_eq!(
        first_error(&probe(&h, "krakenGONE15", n).await),
        Some(kraken::LOCKOUT)
    );
    assert_eq!(
        first_error(&probe(&h, ALIVE, n).await),
        Some(kraken::LOCKOUT),
        "a valid key from the locked IP too"
    );
    let elsewhere = IpAddr::from([127, 0, 0, 2]);
    let a = probe_from(&h, elsewhere, ALIVE, &secret(ALIVE), n + 1, false).await;
    assert_eq!(a.body["error"], serde_json::json!([]), "{:?}", a.body);
    assert_eq!(h.exchange(KRAKEN).stats.snapshot().ip_banned, 2);
}
