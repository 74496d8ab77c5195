//! The Bybit dialect, driven by hand-built requests that follow the v5 docs
//! (not keyrevoke's connector): the simulator must accept what the docs
//! describe and refuse what they forbid, with the documented codes.

mod common;

use common::{reply_lost_after_acting, unavailable_before_acting};
use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::KeyState;
use keyrevoke_sim::testkit::{self, Answer, hmac_sha256_hex as sign, key, now_ms, secret_of};
use serde_json::Value;

const BYBIT: ExchangeId = ExchangeId::new("bybit");
const MASTER: &str = "MASTERKEY00000001";
const SUB_KEY: &str = "SUBKEY00000000001";
const SUB_KEY_2: &str = "SUBKEY00000000002";

const QUERY_API: &str = "/v5/user/query-api";
const DELETE_API: &str = "/v5/user/delete-api";

fn keys() -> Vec<keyrevoke_sim::keys::SimKey> {
    vec![
        key(MASTER, "1000", &["AccountTransfer", "SubMemberTransfer"]),
        key("TRADEONLY00000001", "1001", &["SpotTrade"]),
        key(SUB_KEY, "2000", &["SpotTrade"]).sub_of("1000"),
        key(SUB_KEY_2, "2000", &["AccountTransfer"]).sub_of("1000"),
    ]
}

async fn sim(faults: Faults) -> SimHandle {
    testkit::start(BYBIT, faults, keys()).await
}

/// A request built straight from the v5 guide: prehash = timestamp +
/// api_key + recv_window + (query string | body), signed at `ts`.
async fn call_at(
    h: &SimHandle,
    api_key: &str,
    method: &str,
    path: &str,
    payload: &str,
    ts: i64,
) -> Answer {
    let signature = sign(&secret_of(api_key), &format!("{ts}{api_key}5000{payload}"));
    signed(h, api_key, method, path, payload, ts, &signature).await
}

/// The same, signed now.
async fn call(h: &SimHandle, api_key: &str, method: &str, path: &str, payload: &str) -> Answer {
    call_at(h, api_key, method, path, payload, now_ms()).await
}

async fn signed(
    h: &SimHandle,
    api_key: &str,
    method: &str,
    path: &str,
    payload: &str,
    ts: i64,
    signature: &str,
) -> Answer {
    let base = &h.urls[&BYBIT];
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
    Answer::read(resp).await
}

/// `api_key` reads its own key's details, signed at `ts`.
async fn query_api_at(h: &SimHandle, api_key: &str, ts: i64) -> Answer {
    call_at(h, api_key, "GET", QUERY_API, "", ts).await
}

/// `api_key` deletes itself.
async fn delete_itself(h: &SimHandle, api_key: &str) -> Answer {
    call(h, api_key, "POST", DELETE_API, "{}").await
}

fn state(h: &SimHandle, api_key: &str) -> KeyState {
    testkit::state(h, BYBIT, api_key)
}

#[tokio::test]
async fn a_correctly_signed_query_is_answered_with_the_keys_permissions() {
    let h = sim(Faults::default()).await;
    let a = query_api_at(&h, MASTER, now_ms()).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["retCode"], 0, "{}", a.body);
    assert_eq!(a.body["result"]["isMaster"], true);
    assert_eq!(
        a.body["result"]["permissions"]["Wallet"],
        serde_json::json!(["AccountTransfer", "SubMemberTransfer"])
    );
}

#[tokio::test]
async fn a_bad_signature_or_a_stale_timestamp_is_refused_with_the_documented_code() {
    let h = sim(Faults::default()).await;
    let a = signed(&h, MASTER, "GET", QUERY_API, "", now_ms(), &"0".repeat(64)).await;
    assert_eq!(a.body["retCode"], 10004, "{}", a.body);
    let a = query_api_at(&h, MASTER, now_ms() - 6_000).await;
    assert_eq!(
        a.body["retCode"], 10002,
        "older than the recv window: {}",
        a.body
    );
    let a = query_api_at(&h, MASTER, now_ms() + 1_500).await;
    assert_eq!(a.body["retCode"], 10002, "more than 1 s ahead: {}", a.body);
    let a = query_api_at(&h, "NOSUCHKEY00000000", now_ms()).await;
    assert_eq!(a.body["retCode"], 10003, "{}", a.body);
    let stats = common::stats(&h, BYBIT);
    assert_eq!(stats.bad_signature, 1);
    assert_eq!(stats.stale_timestamp, 2);
}

#[tokio::test]
async fn missing_auth_headers_get_http_401_and_unknown_paths_404() {
    let h = sim(Faults::default()).await;
    assert_eq!(common::get_unsigned(&h, BYBIT, QUERY_API).await.status, 401);
    let a = common::get_unsigned(&h, BYBIT, "/v5/user/delete-everything").await;
    assert_eq!(a.status, 404);
    assert_eq!(common::stats(&h, BYBIT).unknown_endpoint, 1);
}

#[tokio::test]
async fn a_key_with_a_transfer_permission_deletes_itself_once() {
    let h = sim(Faults::default()).await;
    let a = delete_itself(&h, MASTER).await;
    assert_eq!(a.body["retCode"], 0, "{}", a.body);
    let a = delete_itself(&h, MASTER).await;
    assert_eq!(
        a.body["retCode"], 10003,
        "a deleted key is invalid: {}",
        a.body
    );
    let a = delete_itself(&h, "TRADEONLY00000001").await;
    assert_eq!(
        a.body["retCode"], 10005,
        "trade-only keys cannot delete themselves: {}",
        a.body
    );
}

#[tokio::test]
async fn a_master_deletes_its_sub_key_and_a_sub_key_may_not_name_one() {
    let h = sim(Faults::default()).await;
    let delete_sub = format!(r#"{{"apikey":"{SUB_KEY}"}}"#);
    let a = call(
        &h,
        SUB_KEY_2,
        "POST",
        "/v5/user/delete-sub-api",
        &delete_sub,
    )
    .await;
    assert_eq!(
        a.body["retCode"], 10001,
        "a sub key cannot pass apikey: {}",
        a.body
    );
    let a = call(&h, MASTER, "POST", "/v5/user/delete-sub-api", &delete_sub).await;
    assert_eq!(a.body["retCode"], 0, "{}", a.body);
    assert_eq!(state(&h, SUB_KEY), KeyState::Deleted);
    // Listing the sub account's keys shows only the live one.
    let query = "subMemberId=2000&limit=20";
    let a = call(&h, MASTER, "GET", "/v5/user/sub-apikeys", query).await;
    assert_eq!(
        common::api_keys(&a.body["result"]["result"]),
        vec![SUB_KEY_2]
    );
}

/// Eleven writes by one master to one endpoint within about a second: how
/// many were answered (retCode 0), and the refusals (retCode 10006).
async fn eleven_writes(h: &SimHandle) -> (usize, Vec<Answer>) {
    let mut answered = 0;
    let mut limited = Vec::new();
    for _ in 0..11 {
        let a = call(
            h,
            MASTER,
            "POST",
            "/v5/user/update-sub-api",
            &format!(r#"{{"apikey":"{SUB_KEY_2}","readOnly":0}}"#),
        )
        .await;
        if a.body["retCode"] == 0 {
            answered += 1;
        } else if a.body["retCode"] == 10006 {
            limited.push(a);
        }
    }
    (answered, limited)
}

#[tokio::test]
async fn the_per_uid_limit_answers_10006_with_its_headers() {
    let h = sim(Faults::default()).await;
    let started = now_ms();
    let (_, limited) = eleven_writes(&h).await;
    assert!(
        !limited.is_empty(),
        "11 writes to one endpoint within about a second exceed 5 per rolling second"
    );
    let a = &limited[0];
    assert_eq!(a.header("X-Bapi-Limit"), Some("5"), "5 per second");
    assert_eq!(a.header("X-Bapi-Limit-Status"), Some("0"), "none left");
    let reset: i64 = a
        .header("X-Bapi-Limit-Reset-Timestamp")
        .expect("a reset timestamp")
        .parse()
        .unwrap();
    assert!(
        reset > started && reset <= now_ms() + 1_000,
        "when the oldest write leaves the rolling second: {reset}"
    );
}

/// Eleven writes by one master: how many were refused, and the tiers in
/// `/__sim/stats`.
async fn tiers_after_eleven_writes(h: &SimHandle) -> (usize, Vec<Value>) {
    let (answered, limited) = eleven_writes(h).await;
    assert_eq!(
        answered + limited.len(),
        11,
        "every write is answered or refused by the limit"
    );
    let stats = common::get_unsigned(h, BYBIT, "/__sim/stats").await.body;
    (limited.len(), stats["tiers"].as_array().unwrap().clone())
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
        exchanges: vec![BYBIT],
        limits: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let sim = h.exchange(BYBIT);
    sim.keys.insert(key(
        MASTER,
        "1000",
        &["AccountTransfer", "SubMemberTransfer"],
    ));
    sim.keys
        .insert(key(SUB_KEY_2, "2000", &["AccountTransfer"]).sub_of("1000"));
    let (limited, tiers) = tiers_after_eleven_writes(&h).await;
    assert_eq!(limited, 0);
    assert!(tiers.is_empty(), "nothing recorded: {tiers:?}");
}

#[tokio::test]
async fn exceeding_the_ip_limit_bans_with_http_403() {
    let h = sim(Faults::default()).await;
    let forbidden = common::flood(&h, BYBIT, "/v5/market/time", 610)
        .await
        .iter()
        .filter(|a| a.status == 403)
        .count();
    assert!(
        forbidden >= 10,
        "after 600 requests in 5 s the IP is banned ({forbidden})"
    );
}

#[tokio::test]
async fn a_504_after_acting_leaves_the_key_deleted() {
    let h = sim(reply_lost_after_acting()).await;
    assert_eq!(delete_itself(&h, MASTER).await.status, 504);
    assert_eq!(state(&h, MASTER), KeyState::Deleted);
}

#[tokio::test]
async fn a_503_before_acting_changes_nothing() {
    let h = sim(unavailable_before_acting()).await;
    assert_eq!(delete_itself(&h, MASTER).await.status, 503);
    assert_eq!(state(&h, MASTER), KeyState::Alive);
}

#[tokio::test]
async fn a_reset_after_acting_breaks_the_connection_but_the_delete_happened() {
    let h = sim(Faults {
        reset_after: 1.0,
        ..Faults::default()
    })
    .await;
    let base = &h.urls[&BYBIT];
    let ts = now_ms();
    let signature = sign(&secret_of(MASTER), &format!("{ts}{MASTER}5000{{}}"));
    let result = reqwest::Client::new()
        .post(format!("{base}{DELETE_API}"))
        .header("X-BAPI-API-KEY", MASTER)
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
    assert_eq!(state(&h, MASTER), KeyState::Deleted);
}

#[tokio::test]
async fn a_request_to_delete_a_key_already_deleted_is_counted() {
    let h = sim(Faults::default()).await;
    assert_eq!(delete_itself(&h, MASTER).await.body["retCode"], 0);
    assert_eq!(delete_itself(&h, MASTER).await.body["retCode"], 10003);
    common::assert_deleted_once_after(&h, BYBIT, MASTER, 2);
    // A refusal that deleted nothing, of a key no request had deleted, asked
    // nothing twice: the gone master naming its live sub key.
    let delete_sub = format!(r#"{{"apikey":"{SUB_KEY}"}}"#);
    let a = call(&h, MASTER, "POST", "/v5/user/delete-sub-api", &delete_sub).await;
    assert_eq!(a.body["retCode"], 10003, "the master is gone: {}", a.body);
    assert_eq!(h.exchange(BYBIT).stats.delete_requests.of(SUB_KEY), 0);
}

/// `GET /v5/user/query-sub-members`, no parameters (subuid-list.mdx).
const SUB_MEMBERS: &str = "/v5/user/query-sub-members";

#[tokio::test]
async fn a_master_with_a_transfer_permission_lists_its_sub_uids_and_no_one_else_does() {
    let h = sim(Faults::default()).await;
    let a = call(&h, MASTER, "GET", SUB_MEMBERS, "").await;
    assert_eq!(a.body["retCode"], 0, "{}", a.body);
    let members = &a.body["result"]["subMembers"];
    assert_eq!(members.as_array().map(Vec::len), Some(1), "{}", a.body);
    assert_eq!(members[0]["uid"], "2000");
    assert_eq!(members[0]["memberType"], 1);
    // "Use master user's api key only", with Account Transfer, Subaccount
    // Transfer or Withdrawal.
    for caller in [SUB_KEY, "TRADEONLY00000001"] {
        let a = call(&h, caller, "GET", SUB_MEMBERS, "").await;
        assert_eq!(a.body["retCode"], 10005, "{caller}: {}", a.body);
    }
}

#[tokio::test]
async fn a_sub_uids_keys_are_listed_twenty_a_page_with_their_notes_and_a_cursor() {
    let keys = (0..25).map(|i| {
        key(&format!("PAGEDSUBKEY{i:06}"), "3000", &["SpotTrade"])
            .sub_of("1000")
            .labelled(&format!("bot-{i}"))
    });
    let h = testkit::start(
        BYBIT,
        Faults::default(),
        [key(MASTER, "1000", &["AccountTransfer"])]
            .into_iter()
            .chain(keys),
    )
    .await;
    // list-sub-apikeys.mdx: subMemberId, limit [1, 20], cursor.
    let first = call(
        &h,
        MASTER,
        "GET",
        "/v5/user/sub-apikeys",
        "subMemberId=3000&limit=20",
    )
    .await;
    assert_eq!(first.body["retCode"], 0, "{}", first.body);
    let page = first.body["result"]["result"].as_array().unwrap();
    assert_eq!(page.len(), 20);
    assert_eq!(page[0]["note"], "bot-0");
    assert_eq!(page[0]["secret"], "******", "secrets are never listed");
    let cursor = first.body["result"]["nextPageCursor"].as_str().unwrap();
    assert!(!cursor.is_empty(), "{}", first.body);
    let query = format!("subMemberId=3000&limit=20&cursor={cursor}");
    let second = call(&h, MASTER, "GET", "/v5/user/sub-apikeys", &query).await;
    assert_eq!(
        second.body["result"]["result"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(second.body["result"]["nextPageCursor"], "", "the last page");
}

const CREATE_SUB_API: &str = "/v5/user/create-sub-api";

#[tokio::test]
async fn a_master_creates_a_sub_key_and_the_reply_shows_its_secret_once() {
    let h = sim(Faults::default()).await;
    // The request example of create-subuid-apikey.mdx, for sub UID 2000,
    // with IPs bound.
    let body = r#"{"subuid":2000,"note":"testxxx","readOnly":0,"ips":"127.0.0.1,10.0.0.7","permissions":{"Wallet":["AccountTransfer"],"Spot":["SpotTrade"]}}"#;
    let a = call(&h, MASTER, "POST", CREATE_SUB_API, body).await;
    assert_eq!(a.body["retCode"], 0, "{}", a.body);
    let result = a.body["result"].as_object().expect("a result object");
    let mut fields: Vec<&str> = result.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["apiKey", "id", "note", "permissions", "readOnly", "secret"],
        "the documented response parameters"
    );
    assert_eq!(result["note"], "testxxx");
    assert_eq!(result["readOnly"], 0);
    assert_eq!(
        result["permissions"]["Wallet"],
        serde_json::json!(["AccountTransfer"])
    );
    let api_key = result["apiKey"].as_str().unwrap();
    let held = h.exchange(BYBIT).keys.get(api_key).expect("a real key");
    assert_eq!(result["secret"], held.secret.as_str());
    assert_eq!(held.parent_uid.as_deref(), Some("1000"));
    assert_eq!(held.uid, "2000");
    assert_eq!(held.ips, ["127.0.0.1", "10.0.0.7"]);
    // The master's listing of sub UID 2000 shows it, with its note and
    // creation time, and never its secret.
    let listed = call(
        &h,
        MASTER,
        "GET",
        "/v5/user/sub-apikeys",
        "subMemberId=2000",
    )
    .await;
    let entry = listed.body["result"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["apiKey"] == api_key)
        .expect("listed")
        .clone();
    assert_eq!(entry["note"], "testxxx");
    assert_eq!(entry["secret"], "******");
    assert!(
        entry["createdAt"].as_str().unwrap().ends_with('Z'),
        "{entry}"
    );
}

#[tokio::test]
async fn a_create_missing_a_required_parameter_or_from_a_sub_key_creates_nothing() {
    // Without limits: back-to-back refusals would meet the 1 per second.
    let h = testkit::start_unlimited(BYBIT, keys()).await;
    for body in [
        r#"{"readOnly":0,"permissions":{"Spot":["SpotTrade"]}}"#,
        r#"{"subuid":2000,"permissions":{"Spot":["SpotTrade"]}}"#,
        r#"{"subuid":2000,"readOnly":0}"#,
        r#"{"subuid":2000,"readOnly":0,"permissions":{}}"#,
        r#"{"subuid":2000,"readOnly":0,"permissions":{"Spot":["Order"]}}"#,
        r#"{"subuid":2000,"readOnly":0,"ips":"203.**.1","permissions":{"Spot":["SpotTrade"]}}"#,
        r#"{"subuid":9999,"readOnly":0,"permissions":{"Spot":["SpotTrade"]}}"#,
    ] {
        let a = call(&h, MASTER, "POST", CREATE_SUB_API, body).await;
        assert_eq!(a.body["retCode"], 10001, "{body}: {}", a.body);
    }
    // "Use master user's api key only", and one holding a transfer
    // permission.
    let body = r#"{"subuid":2000,"readOnly":0,"permissions":{"Spot":["SpotTrade"]}}"#;
    for caller in [SUB_KEY_2, "TRADEONLY00000001"] {
        let a = call(&h, caller, "POST", CREATE_SUB_API, body).await;
        assert_eq!(a.body["retCode"], 10005, "{caller}: {}", a.body);
    }
    assert_eq!(common::stats(&h, BYBIT).creates, 0);
}
