//! The Bybit dialect, driven by hand-built requests that follow the v5 docs
//! (not keyrevoke's connector): the simulator must accept what the docs
//! describe and refuse what they forbid, with the documented codes.

use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::KeyState;
use keyrevoke_sim::testkit::{self, Answer, hmac_sha256_hex as sign, key, now_ms, secret_of};
use serde_json::Value;

async fn sim(faults: Faults) -> SimHandle {
    testkit::start(
        ExchangeId::Bybit,
        faults,
        [
            key(
                "MASTERKEY00000001",
                "1000",
                &["AccountTransfer", "SubMemberTransfer"],
            ),
            key("TRADEONLY00000001", "1001", &["SpotTrade"]),
            key("SUBKEY00000000001", "2000", &["SpotTrade"]).sub_of("1000"),
            key("SUBKEY00000000002", "2000", &["AccountTransfer"]).sub_of("1000"),
        ],
    )
    .await
}

/// A request built straight from the v5 guide: prehash = timestamp +
/// api_key + recv_window + (query string | body).
async fn call(
    h: &SimHandle,
    api_key: &str,
    method: &str,
    path: &str,
    payload: &str,
    ts: i64,
) -> (u16, Value) {
    let signature = sign(&secret_of(api_key), &format!("{ts}{api_key}5000{payload}"));
    signed(h, api_key, method, path, payload, ts, &signature).await
}

async fn signed(
    h: &SimHandle,
    api_key: &str,
    method: &str,
    path: &str,
    payload: &str,
    ts: i64,
    signature: &str,
) -> (u16, Value) {
    let base = &h.urls[&ExchangeId::Bybit];
    let client = reqwest::Client::new();
    let req = if method == "GET" {
        let url = if payload.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{payload}")
        };
        client.get(url)
    } else {
        client
            .post(format!("{base}{path}"))
            .body(payload.to_string())
    };
    let resp = req
        .header("X-BAPI-API-KEY", api_key)
        .header("X-BAPI-TIMESTAMP", ts.to_string())
        .header("X-BAPI-RECV-WINDOW", "5000")
        .header("X-BAPI-SIGN", signature)
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    let a = Answer::read(resp).await;
    (a.status, a.body)
}

#[tokio::test]
async fn a_correctly_signed_query_is_answered_with_the_keys_permissions() {
    let h = sim(Faults::default()).await;
    let (status, body) = call(
        &h,
        "MASTERKEY00000001",
        "GET",
        "/v5/user/query-api",
        "",
        now_ms(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["retCode"], 0, "{body}");
    assert_eq!(body["result"]["isMaster"], true);
    assert_eq!(
        body["result"]["permissions"]["Wallet"],
        serde_json::json!(["AccountTransfer", "SubMemberTransfer"])
    );
}

#[tokio::test]
async fn a_bad_signature_or_a_stale_timestamp_is_refused_with_the_documented_code() {
    let h = sim(Faults::default()).await;
    let (_, body) = signed(
        &h,
        "MASTERKEY00000001",
        "GET",
        "/v5/user/query-api",
        "",
        now_ms(),
        &"0".repeat(64),
    )
    .await;
    assert_eq!(body["retCode"], 10004, "{body}");
    let (_, body) = call(
        &h,
        "MASTERKEY00000001",
        "GET",
        "/v5/user/query-api",
        "",
        now_ms() - 6_000,
    )
    .await;
    assert_eq!(body["retCode"], 10002, "older than the recv window: {body}");
    let (_, body) = call(
        &h,
        "MASTERKEY00000001",
        "GET",
        "/v5/user/query-api",
        "",
        now_ms() + 1_500,
    )
    .await;
    assert_eq!(body["retCode"], 10002, "more than 1 s ahead: {body}");
    let (_, body) = call(
        &h,
        "NOSUCHKEY00000000",
        "GET",
        "/v5/user/query-api",
        "",
        now_ms(),
    )
    .await;
    assert_eq!(body["retCode"], 10003, "{body}");
    let stats = h.exchange(ExchangeId::Bybit).stats.snapshot();
    assert_eq!(stats.bad_signature, 1);
    assert_eq!(stats.stale_timestamp, 2);
}

#[tokio::test]
async fn missing_auth_headers_get_http_401_and_unknown_paths_404() {
    let h = sim(Faults::default()).await;
    let base = &h.urls[&ExchangeId::Bybit];
    let r = reqwest::get(format!("{base}/v5/user/query-api"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = reqwest::get(format!("{base}/v5/user/delete-everything"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        h.exchange(ExchangeId::Bybit)
            .stats
            .snapshot()
            .unknown_endpoint,
        1
    );
}

#[tokio::test]
async fn a_key_with_a_transfer_permission_deletes_itself_once() {
    let h = sim(Faults::default()).await;
    let (_, body) = call(
        &h,
        "MASTERKEY00000001",
        "POST",
        "/v5/user/delete-api",
        "{}",
        now_ms(),
    )
    .await;
    assert_eq!(body["retCode"], 0, "{body}");
    let (_, body) = call(
        &h,
        "MASTERKEY00000001",
        "POST",
        "/v5/user/delete-api",
        "{}",
        now_ms(),
    )
    .await;
    assert_eq!(body["retCode"], 10003, "a deleted key is invalid: {body}");
    let (_, body) = call(
        &h,
        "TRADEONLY00000001",
        "POST",
        "/v5/user/delete-api",
        "{}",
        now_ms(),
    )
    .await;
    assert_eq!(
        body["retCode"], 10005,
        "trade-only keys cannot delete themselves: {body}"
    );
}

#[tokio::test]
async fn a_master_deletes_its_sub_key_and_a_sub_key_may_not_name_one() {
    let h = sim(Faults::default()).await;
    let (_, body) = call(
        &h,
        "SUBKEY00000000002",
        "POST",
        "/v5/user/delete-sub-api",
        r#"{"apikey":"SUBKEY00000000001"}"#,
        now_ms(),
    )
    .await;
    assert_eq!(
        body["retCode"], 10001,
        "a sub key cannot pass apikey: {body}"
    );
    let (_, body) = call(
        &h,
        "MASTERKEY00000001",
        "POST",
        "/v5/user/delete-sub-api",
        r#"{"apikey":"SUBKEY00000000001"}"#,
        now_ms(),
    )
    .await;
    assert_eq!(body["retCode"], 0, "{body}");
    let s = h.exchange(ExchangeId::Bybit);
    assert_eq!(
        s.keys.get("SUBKEY00000000001").unwrap().state,
        KeyState::Deleted
    );
    // Listing the sub account's keys shows only the live one.
    let query = "subMemberId=2000&limit=20";
    let (_, body) = call(
        &h,
        "MASTERKEY00000001",
        "GET",
        "/v5/user/sub-apikeys",
        query,
        now_ms(),
    )
    .await;
    let keys: Vec<&str> = body["result"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["apiKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["SUBKEY00000000002"]);
}

#[tokio::test]
async fn the_per_uid_limit_answers_10006_with_its_headers() {
    let h = sim(Faults::default()).await;
    let mut limited = 0;
    for _ in 0..11 {
        let (_, body) = call(
            &h,
            "MASTERKEY00000001",
            "POST",
            "/v5/user/update-sub-api",
            r#"{"apikey":"SUBKEY00000000002","readOnly":0}"#,
            now_ms(),
        )
        .await;
        if body["retCode"] == 10006 {
            limited += 1;
        }
    }
    assert!(
        limited >= 1,
        "11 writes to one endpoint within about a second exceed 5 per rolling second"
    );
}

/// Eleven writes by one master: the tiers in `/__sim/stats`.
async fn tiers_after_eleven_writes(h: &SimHandle) -> (usize, Vec<Value>) {
    let mut limited = 0;
    for _ in 0..11 {
        let (_, body) = call(
            h,
            "MASTERKEY00000001",
            "POST",
            "/v5/user/update-sub-api",
            r#"{"apikey":"SUBKEY00000000002","readOnly":0}"#,
            now_ms(),
        )
        .await;
        if body["retCode"] == 10006 {
            limited += 1;
        }
    }
    let stats: Value = reqwest::get(format!("{}/__sim/stats", h.urls[&ExchangeId::Bybit]))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (limited, stats["tiers"].as_array().unwrap().clone())
}

#[tokio::test]
async fn the_stats_count_each_limits_accepted_hits_per_bucket() {
    let h = sim(Faults::default()).await;
    let (limited, tiers) = tiers_after_eleven_writes(&h).await;
    let tier = |name: &str| {
        tiers
            .iter()
            .find(|t| t["tier"] == name)
            .unwrap_or_else(|| panic!("no {name} tier in {tiers:?}"))
    };
    let writes = tier("uid_key_write");
    assert_eq!(
        writes["bucket"], "1000:UpdateSubKey",
        "per UID and endpoint"
    );
    assert_eq!(
        writes["hits"],
        11 - limited as u64,
        "refused writes are not hits"
    );
    assert_eq!(
        (writes["capacity"].as_u64(), writes["period_ms"].as_u64()),
        (Some(5), Some(1000))
    );
    assert!(writes["first_ms"].as_i64() <= writes["last_ms"].as_i64());
    let ip = tier("ip");
    assert_eq!(ip["hits"], 11, "every request passed the per-IP window");
    assert_eq!(
        (ip["capacity"].as_u64(), ip["period_ms"].as_u64()),
        (Some(600), Some(5000))
    );
}

#[tokio::test]
async fn with_limits_off_the_stats_record_no_tier() {
    let h = keyrevoke_sim::start(keyrevoke_sim::SimConfig {
        exchanges: vec![ExchangeId::Bybit],
        limits: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let sim = h.exchange(ExchangeId::Bybit);
    sim.keys.insert(key(
        "MASTERKEY00000001",
        "1000",
        &["AccountTransfer", "SubMemberTransfer"],
    ));
    sim.keys
        .insert(key("SUBKEY00000000002", "2000", &["AccountTransfer"]).sub_of("1000"));
    let (limited, tiers) = tiers_after_eleven_writes(&h).await;
    assert_eq!(limited, 0);
    assert!(tiers.is_empty(), "nothing recorded: {tiers:?}");
}

#[tokio::test]
async fn exceeding_the_ip_limit_bans_with_http_403() {
    let h = sim(Faults::default()).await;
    let base = h.urls[&ExchangeId::Bybit].clone();
    let client = reqwest::Client::new();
    let mut forbidden = 0;
    for _ in 0..610 {
        let r = client
            .get(format!("{base}/v5/market/time"))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 403 {
            forbidden += 1;
        }
    }
    assert!(
        forbidden >= 10,
        "after 600 requests in 5 s the IP is banned ({forbidden})"
    );
}

#[tokio::test]
async fn a_504_after_acting_leaves_the_key_deleted() {
    let h = sim(Faults {
        gateway_timeout_after: 1.0,
        ..Faults::default()
    })
    .await;
    let (status, _) = call(
        &h,
        "MASTERKEY00000001",
        "POST",
        "/v5/user/delete-api",
        "{}",
        now_ms(),
    )
    .await;
    assert_eq!(status, 504);
    assert_eq!(
        h.exchange(ExchangeId::Bybit)
            .keys
            .get("MASTERKEY00000001")
            .unwrap()
            .state,
        KeyState::Deleted
    );
}

#[tokio::test]
async fn a_503_before_acting_changes_nothing() {
    let h = sim(Faults {
        unavailable_before: 1.0,
        ..Faults::default()
    })
    .await;
    let (status, _) = call(
        &h,
        "MASTERKEY00000001",
        "POST",
        "/v5/user/delete-api",
        "{}",
        now_ms(),
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        h.exchange(ExchangeId::Bybit)
            .keys
            .get("MASTERKEY00000001")
            .unwrap()
            .is_alive()
    );
}

#[tokio::test]
async fn a_reset_after_acting_breaks_the_connection_but_the_delete_happened() {
    let h = sim(Faults {
        reset_after: 1.0,
        ..Faults::default()
    })
    .await;
    let base = &h.urls[&ExchangeId::Bybit];
    let ts = now_ms();
    let api_key = "MASTERKEY00000001";
    let signature = sign(&secret_of(api_key), &format!("{ts}{api_key}5000{{}}"));
    let result = reqwest::Client::new()
        .post(format!("{base}/v5/user/delete-api"))
        .header("X-BAPI-API-KEY", api_key)
        .header("X-BAPI-TIMESTAMP", ts.to_string())
        .header("X-BAPI-RECV-WINDOW", "5000")
        .header("X-BAPI-SIGN", signature)
        .body("{}")
        .send()
        .await;
    let broken = match result {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(broken, "the client sees a broken reply");
    assert_eq!(
        h.exchange(ExchangeId::Bybit)
            .keys
            .get(api_key)
            .unwrap()
            .state,
        KeyState::Deleted
    );
}
