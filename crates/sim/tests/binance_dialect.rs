//! The Binance dialect, driven by hand-built requests that follow Binance's
//! docs (rest-api.md "SIGNED Endpoint security", the sub-account and Binance
//! Link API pages), not keyrevoke's connector: the simulator must accept
//! what the docs describe and refuse what they forbid, with the documented
//! codes, statuses and headers.

mod common;

use common::{always_rate_limited, reply_lost_after_acting, unavailable_before_acting};
use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::dialects::binance::BROKER_ACCOUNT;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::KeyState;
use keyrevoke_sim::testkit::{self, Answer, hmac_sha256_hex as sign, key, now_ms, secret_of};

const BINANCE: ExchangeId = ExchangeId::new("binance");
const MASTER: &str = "MASTERKEY00000001";
const TRADELESS_MASTER: &str = "READONLYMASTER001";
const BROKER: &str = "BROKERKEY00000001";
const SUB_KEY: &str = "SUBKEY00000000001";
const SUB_KEY_2: &str = "SUBKEY00000000002";
const BROKER_SUB_KEY: &str = "BROKERSUBKEY00001";
const SUB_EMAIL: &str = "bot001@virtual.example";

async fn sim(faults: Faults) -> SimHandle {
    let trade = "enableSpotAndMarginTrading";
    testkit::start(
        BINANCE,
        faults,
        [
            key(
                MASTER,
                "1000",
                &["enableReading", trade, "enableWithdrawals"],
            ),
            key(TRADELESS_MASTER, "1100", &["enableReading"]),
            key(BROKER, "3000", &["enableReading", trade, BROKER_ACCOUNT]),
            key(
                SUB_KEY,
                "2000",
                &["enableReading", trade, "permitsUniversalTransfer"],
            )
            .sub_of("1000")
            .in_sub_account(SUB_EMAIL),
            key(SUB_KEY_2, "2000", &["enableReading"])
                .sub_of("1000")
                .in_sub_account(SUB_EMAIL),
            key("OTHERSUBKEY000001", "2100", &["enableReading"])
                .sub_of("1100")
                .in_sub_account("other@virtual.example"),
            key(
                BROKER_SUB_KEY,
                "4000",
                &["enableReading", trade, "enableFutures"],
            )
            .sub_of("3000"),
        ],
    )
    .await
}

/// Send `query` (already encoded) and `body` as the docs describe: the
/// signature covers the query string followed directly by the body.
async fn send_raw(
    h: &SimHandle,
    method: &str,
    path: &str,
    api_key: Option<&str>,
    query: &str,
    body: &str,
) -> Answer {
    let base = &h.urls[&BINANCE];
    let url = if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    };
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), url);
    if let Some(k) = api_key {
        req = req.header("X-MBX-APIKEY", k);
    }
    if !body.is_empty() {
        req = req
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string());
    }
    Answer::read(req.send().await.unwrap()).await
}

/// `query` followed by its signature with `api_key`'s secret.
fn signed_query(api_key: &str, query: &str) -> String {
    format!("{query}&signature={}", sign(&secret_of(api_key), query))
}

/// `api_key` reads its own restrictions with `query` as it stands (signed
/// or not, with or without a timestamp).
async fn read_restrictions(h: &SimHandle, api_key: &str, query: &str) -> Answer {
    send_raw(h, "GET", RESTRICTIONS, Some(api_key), query, "").await
}

/// A signed request with every parameter in the query string.
async fn call(h: &SimHandle, api_key: &str, method: &str, path: &str, params: &str) -> Answer {
    call_at(h, api_key, method, path, params, now_ms()).await
}

async fn call_at(
    h: &SimHandle,
    api_key: &str,
    method: &str,
    path: &str,
    params: &str,
    ts: i64,
) -> Answer {
    let sep = if params.is_empty() { "" } else { "&" };
    let query = format!("{params}{sep}recvWindow=5000&timestamp={ts}");
    send_raw(
        h,
        method,
        path,
        Some(api_key),
        &signed_query(api_key, &query),
        "",
    )
    .await
}

const RESTRICTIONS: &str = "/sapi/v1/account/apiRestrictions";
const SUB_KEYS: &str = "/sapi/v1/sub-account/subAccountApi";
const SUB_KEY_IP: &str = "/sapi/v2/sub-account/subAccountApi/ipRestriction";
const SUB_KEY_PERMISSION: &str = "/sapi/v1/sub-account/subAccountApiPermission";
const BROKER_KEYS: &str = "/sapi/v1/broker/subAccountApi";
const BROKER_KEY_PERMISSION: &str = "/sapi/v1/broker/subAccountApi/permission";

fn sub_params(key: &str) -> String {
    format!("email=bot001%40virtual.example&subAccountApiKey={key}")
}

/// `caller` deletes `key` of the sub account `SUB_EMAIL`.
async fn delete_sub_key(h: &SimHandle, caller: &str, key: &str) -> Answer {
    call(h, caller, "DELETE", SUB_KEYS, &sub_params(key)).await
}

/// The master lists the keys of the sub account `SUB_EMAIL`; `params`
/// follow the email.
async fn list_sub_keys(h: &SimHandle, params: &str) -> Answer {
    call(
        h,
        MASTER,
        "GET",
        SUB_KEYS,
        &format!("email=bot001%40virtual.example{params}"),
    )
    .await
}

/// The broker sets `flags` on its sub account's key `BROKER_SUB_KEY`.
async fn set_broker_sub_key_permissions(h: &SimHandle, flags: &str) -> Answer {
    let params = format!("subAccountId=4000&subAccountApiKey={BROKER_SUB_KEY}&{flags}");
    call(h, BROKER, "POST", BROKER_KEY_PERMISSION, &params).await
}

/// The reply has HTTP `status` and Binance `code`.
#[track_caller]
fn assert_reply(a: &Answer, status: u16, code: i64, context: &str) {
    assert_eq!(
        (a.status, a.body["code"].as_i64()),
        (status, Some(code)),
        "{context}: {}",
        a.body
    );
}

fn state(h: &SimHandle, api_key: &str) -> KeyState {
    testkit::state(h, BINANCE, api_key)
}

#[tokio::test]
async fn a_correctly_signed_request_reads_the_keys_restrictions() {
    let h = sim(Faults::default()).await;
    let a = call(&h, MASTER, "GET", RESTRICTIONS, "").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["enableWithdrawals"], true, "{}", a.body);
    assert_eq!(a.body["enableSpotAndMarginTrading"], true);
    assert_eq!(a.body["enableInternalTransfer"], false);
    assert_eq!(a.body["ipRestrict"], false);
    assert_eq!(
        a.header("X-SAPI-USED-IP-WEIGHT-1M"),
        Some("1"),
        "apiRestrictions weighs 1 (IP)"
    );
    // "The signature is not case sensitive."
    let ts = now_ms();
    let query = format!("recvWindow=5000&timestamp={ts}");
    let upper = sign(&secret_of(MASTER), &query).to_uppercase();
    let a = read_restrictions(&h, MASTER, &format!("{query}&signature={upper}")).await;
    assert_eq!(
        a.status, 200,
        "an upper-case HMAC signature is accepted: {}",
        a.body
    );
}

#[tokio::test]
async fn parameters_may_be_split_between_query_and_body_as_in_the_docs_third_example() {
    let h = sim(Faults::default()).await;
    let ts = now_ms();
    let query = sub_params(SUB_KEY);
    let body = format!("status=2&ipAddress=192.0.2.1&recvWindow=5000&timestamp={ts}");
    // No `&` between the query string and the body in totalParams.
    let signature = sign(&secret_of(MASTER), &format!("{query}{body}"));
    let a = send_raw(
        &h,
        "POST",
        SUB_KEY_IP,
        Some(MASTER),
        &query,
        &format!("{body}&signature={signature}"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "2");
    assert_eq!(a.body["ipList"], serde_json::json!(["192.0.2.1"]));
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_unknown_keys_get_the_documented_codes() {
    let h = sim(Faults::default()).await;
    let ts = now_ms();
    let a = read_restrictions(
        &h,
        MASTER,
        &format!(
            "recvWindow=5000&timestamp={ts}&signature={}",
            "0".repeat(64)
        ),
    )
    .await;
    assert_reply(&a, 400, -1022, "bad signature");
    let a = call_at(&h, MASTER, "GET", RESTRICTIONS, "", now_ms() - 6_000).await;
    assert_eq!(a.body["code"], -1021, "older than recvWindow: {}", a.body);
    let a = call_at(&h, MASTER, "GET", RESTRICTIONS, "", now_ms() + 1_500).await;
    assert_eq!(
        a.body["code"], -1021,
        "more than 1 s ahead of the server: {}",
        a.body
    );
    let a = call(&h, "NOSUCHKEY00000000", "GET", RESTRICTIONS, "").await;
    assert_reply(&a, 401, -2015, "unknown key");
    let stats = common::stats(&h, BINANCE);
    assert_eq!(stats.bad_signature, 1);
    assert_eq!(stats.stale_timestamp, 2);
}

#[tokio::test]
async fn the_receive_window_defaults_to_5000_and_may_not_exceed_60000() {
    let h = sim(Faults::default()).await;
    // Without recvWindow, 5000 applies: 4 s old passes, 6 s old does not.
    for (age, accepted) in [(4_000, true), (6_000, false)] {
        let q = signed_query(MASTER, &format!("timestamp={}", now_ms() - age));
        let a = read_restrictions(&h, MASTER, &q).await;
        assert_eq!(
            a.status == 200,
            accepted,
            "{age} ms old without recvWindow: {}",
            a.body
        );
    }
    // A larger window is honoured up to its maximum.
    let q = signed_query(
        MASTER,
        &format!("recvWindow=20000&timestamp={}", now_ms() - 15_000),
    );
    assert_eq!(read_restrictions(&h, MASTER, &q).await.status, 200);
    let q = signed_query(MASTER, &format!("recvWindow=70000&timestamp={}", now_ms()));
    let a = read_restrictions(&h, MASTER, &q).await;
    assert_eq!(
        a.status, 400,
        "recvWindow over 60000 is refused: {}",
        a.body
    );
}

#[tokio::test]
async fn missing_key_header_or_timestamp_are_refused_and_unknown_paths_are_404() {
    let h = sim(Faults::default()).await;
    let a = send_raw(
        &h,
        "GET",
        RESTRICTIONS,
        None,
        "timestamp=1&signature=00",
        "",
    )
    .await;
    assert_reply(&a, 401, -2014, "no X-MBX-APIKEY");
    let a = read_restrictions(&h, MASTER, &signed_query(MASTER, "recvWindow=5000")).await;
    assert_eq!(a.body["code"], -1102, "timestamp is mandatory: {}", a.body);
    let a = send_raw(
        &h,
        "GET",
        "/sapi/v1/account/deleteEverything",
        Some(MASTER),
        "",
        "",
    )
    .await;
    assert_eq!(a.status, 404);
    let time = send_raw(&h, "GET", "/api/v3/time", None, "", "").await;
    assert!(
        time.body["serverTime"].as_i64().unwrap() > 1_600_000_000_000,
        "{}",
        time.body
    );
    assert!(time.header("X-MBX-USED-WEIGHT-1M").is_some());
    assert_eq!(common::stats(&h, BINANCE).unknown_endpoint, 1);
}

#[tokio::test]
async fn a_master_deletes_a_sub_key_named_by_email_once() {
    let h = sim(Faults::default()).await;
    let a = delete_sub_key(&h, MASTER, SUB_KEY).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, serde_json::json!({}));
    assert_eq!(
        a.header("X-SAPI-USED-UID-WEIGHT-1M"),
        Some("3000"),
        "the delete weighs 3000 (UID)"
    );
    assert_eq!(state(&h, SUB_KEY), KeyState::Deleted);
    // Deleting it again names a key the sub account no longer holds.
    let a = delete_sub_key(&h, MASTER, SUB_KEY).await;
    assert_reply(&a, 400, -1130, "the second delete");
    // The deleted key itself is rejected like any invalid key.
    let a = call(&h, SUB_KEY, "GET", RESTRICTIONS, "").await;
    assert_eq!(a.body["code"], -2015, "{}", a.body);
}

#[tokio::test]
async fn only_the_sub_accounts_own_master_may_act_on_its_keys() {
    let h = sim(Faults::default()).await;
    let a = delete_sub_key(&h, SUB_KEY_2, SUB_KEY).await;
    assert_eq!(
        a.body["code"], -2015,
        "a sub key cannot call a master endpoint: {}",
        a.body
    );
    let a = delete_sub_key(&h, TRADELESS_MASTER, SUB_KEY).await;
    assert_eq!(
        a.body["code"], -1130,
        "another master's sub account is not found: {}",
        a.body
    );
    let a = call(
        &h,
        MASTER,
        "DELETE",
        SUB_KEYS,
        "email=bot001%40virtual.example",
    )
    .await;
    assert_eq!(
        a.body["code"], -1102,
        "subAccountApiKey is mandatory: {}",
        a.body
    );
    assert_eq!(state(&h, SUB_KEY), KeyState::Alive);
}

#[tokio::test]
async fn the_masters_listing_shows_live_keys_and_filters_by_exact_key() {
    let h = sim(Faults::default()).await;
    let a = list_sub_keys(&h, "&page=1&size=100").await;
    assert_eq!(a.body["total"], 2, "{}", a.body);
    let only_sub_key = format!("&subAccountApiKey={SUB_KEY}&page=1&size=100");
    let a = list_sub_keys(&h, &only_sub_key).await;
    assert_eq!(a.body["total"], 1, "{}", a.body);
    assert_eq!(a.body["rows"][0]["apikey"], SUB_KEY);
    assert_eq!(a.body["rows"][0]["canUniversalTransfer"], true);
    delete_sub_key(&h, MASTER, SUB_KEY).await;
    let a = list_sub_keys(&h, &only_sub_key).await;
    assert_eq!(
        (
            a.body["total"].as_u64(),
            a.body["rows"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0)),
        "{}",
        a.body
    );
    let a = list_sub_keys(&h, "&size=101").await;
    assert_eq!(a.body["code"], -1130, "size is at most 100: {}", a.body);
}

#[tokio::test]
async fn a_master_binds_a_sub_key_to_an_ip_and_strips_its_permissions() {
    let h = sim(Faults::default()).await;
    let a = call(
        &h,
        MASTER,
        "POST",
        SUB_KEY_IP,
        &format!("{}&status=2&ipAddress=192.0.2.1", sub_params(SUB_KEY)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = call(
        &h,
        MASTER,
        "GET",
        "/sapi/v1/sub-account/subAccountApi/ipRestriction",
        &sub_params(SUB_KEY),
    )
    .await;
    assert_eq!(
        (a.body["ipRestrict"].as_str(), &a.body["ipList"]),
        (Some("true"), &serde_json::json!(["192.0.2.1"]))
    );
    // Bound elsewhere, the key is refused from here with the same -2015.
    let a = call(&h, SUB_KEY, "GET", RESTRICTIONS, "").await;
    assert_eq!(a.body["code"], -2015, "{}", a.body);
    let strip = "canTrade=false&canMarginLoanRepay=false&canFuturesTrade=false&canUniversalTransfer=false&canVanillaOptions=false";
    let a = call(
        &h,
        MASTER,
        "POST",
        SUB_KEY_PERMISSION,
        &format!("{}&{strip}", sub_params(SUB_KEY)),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (
            a.body["canTrade"].as_bool(),
            a.body["canUniversalTransfer"].as_bool()
        ),
        (Some(false), Some(false))
    );
    let k = h.exchange(BINANCE).keys.get(SUB_KEY).unwrap();
    assert_eq!(k.permissions, vec!["enableReading".to_string()]);
    assert!(k.read_only);
}

#[tokio::test]
async fn ip_restriction_needs_a_master_key_with_spot_and_margin_trading() {
    let h = sim(Faults::default()).await;
    let other = "email=other%40virtual.example&subAccountApiKey=OTHERSUBKEY000001&status=2&ipAddress=192.0.2.1";
    let a = call(&h, TRADELESS_MASTER, "POST", SUB_KEY_IP, other).await;
    assert_eq!(a.body["code"], -2015, "{}", a.body);
    let k = h.exchange(BINANCE).keys.get("OTHERSUBKEY000001").unwrap();
    assert_eq!(k.ips, vec!["*".to_string()], "nothing changed");
}

#[tokio::test]
async fn a_broker_manages_its_sub_accounts_keys_by_sub_account_id() {
    let h = sim(Faults::default()).await;
    let params = format!("subAccountId=4000&subAccountApiKey={BROKER_SUB_KEY}");
    let a = call(&h, MASTER, "DELETE", BROKER_KEYS, &params).await;
    assert_eq!(
        a.body["code"], -2015,
        "a plain master is no broker: {}",
        a.body
    );
    let a = set_broker_sub_key_permissions(&h, "canTrade=false").await;
    assert_eq!(
        a.body["code"], -1102,
        "marginTrade and futuresTrade are mandatory: {}",
        a.body
    );
    let a =
        set_broker_sub_key_permissions(&h, "canTrade=false&marginTrade=false&futuresTrade=false")
            .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (
            a.body["subaccountId"].as_str(),
            a.body["futuresTrade"].as_bool()
        ),
        (Some("4000"), Some(false))
    );
    let a = call(
        &h,
        BROKER,
        "POST",
        "/sapi/v2/broker/subAccountApi/ipRestriction",
        &format!("{params}&status=2&ipAddress=192.0.2.1"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("X-SAPI-USED-UID-WEIGHT-1M"), Some("3000"));
    let a = call(&h, BROKER, "DELETE", BROKER_KEYS, &params).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(state(&h, BROKER_SUB_KEY), KeyState::Deleted);
}

#[tokio::test]
async fn a_broker_deletes_at_most_one_key_per_sub_account_per_second() {
    let h = sim(Faults::default()).await;
    let s = h.exchange(BINANCE);
    for i in 0..3 {
        s.keys.insert(
            key(&format!("BROKERSUBKEYX000{i}"), "4000", &["enableReading"]).sub_of("3000"),
        );
    }
    let mut limited = 0;
    for i in 0..3 {
        let a = call(
            &h,
            BROKER,
            "DELETE",
            BROKER_KEYS,
            &format!("subAccountId=4000&subAccountApiKey=BROKERSUBKEYX000{i}"),
        )
        .await;
        if a.status == 429 {
            assert_eq!(a.body["code"], -1003, "{}", a.body);
            assert!(a.header("Retry-After").is_some());
            limited += 1;
        }
    }
    assert!(
        limited >= 1,
        "three deletes on one sub account within at most two seconds: one is refused"
    );
}

#[tokio::test]
async fn the_per_uid_limit_of_a_key_endpoint_is_60_calls_a_minute_answered_with_429() {
    let h = sim(Faults::default()).await;
    let mut first_refusal = None;
    // 121 calls span at most two one-minute windows: one must be refused.
    for i in 0..121 {
        let a = list_sub_keys(&h, "").await;
        if a.status == 429 {
            first_refusal = Some((i, a));
            break;
        }
    }
    let (i, a) = first_refusal.expect("180,000 weight per minute at 3000 a call allows 60 calls");
    assert!(i >= 60, "refused after {i} calls");
    assert_eq!(a.body["code"], -1003, "{}", a.body);
    let retry: u64 = a
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(a.header("X-SAPI-USED-UID-WEIGHT-1M"), Some("180000"));
    // Another endpoint has its own budget.
    let a = delete_sub_key(&h, MASTER, SUB_KEY_2).await;
    assert_eq!(
        a.status, 200,
        "the delete endpoint is counted apart: {}",
        a.body
    );
    assert_eq!(common::stats(&h, BINANCE).rate_limited, 1);
}

#[tokio::test]
async fn exceeding_the_api_ip_limit_answers_429_then_bans_with_418() {
    let h = sim(Faults::default()).await;
    let answers = common::flood(&h, BINANCE, "/api/v3/time", 6_002).await;
    for a in answers.iter().filter(|a| a.status != 200) {
        assert!(
            a.header("Retry-After").is_some(),
            "{} carries Retry-After",
            a.status
        );
        assert_eq!(a.body["code"], -1003, "{}", a.body);
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        6_000,
        "6,000 weight per minute per IP"
    );
    assert_eq!(
        &statuses[6_000..],
        &[429, 418],
        "first 429, then the IP ban"
    );
}

#[tokio::test]
async fn a_504_after_acting_leaves_the_key_deleted() {
    let h = sim(reply_lost_after_acting()).await;
    let a = delete_sub_key(&h, MASTER, SUB_KEY).await;
    assert_eq!(a.status, 504);
    assert_eq!(state(&h, SUB_KEY), KeyState::Deleted);
}

#[tokio::test]
async fn a_503_before_acting_changes_nothing_and_injected_limits_are_429s() {
    let h = sim(unavailable_before_acting()).await;
    let a = delete_sub_key(&h, MASTER, SUB_KEY).await;
    assert_eq!(a.status, 503);
    assert_eq!(state(&h, SUB_KEY), KeyState::Alive);
    let h = sim(always_rate_limited()).await;
    let a = delete_sub_key(&h, MASTER, SUB_KEY).await;
    assert_reply(&a, 429, -1003, "an injected rate limit");
    assert!(a.header("Retry-After").is_some());
}

#[tokio::test]
async fn every_request_to_delete_a_key_is_counted_even_once_it_is_gone() {
    let h = sim(Faults::default()).await;
    assert_eq!(delete_sub_key(&h, MASTER, SUB_KEY).await.status, 200);
    let a = delete_sub_key(&h, MASTER, SUB_KEY).await;
    assert_reply(&a, 400, -1130, "the second delete");
    common::assert_deleted_once_after(&h, BINANCE, SUB_KEY, 2);
}

/// `GET /sapi/v1/sub-account/list` (Query-Sub-account-List): optional
/// `email`, `isFreeze`, `page` (default 1), `limit` (default 1, max 200).
const SUB_ACCOUNT_LIST: &str = "/sapi/v1/sub-account/list";

#[tokio::test]
async fn a_master_lists_its_sub_accounts_by_email_a_page_at_a_time() {
    let extra = key("SUBKEY00000000003", "2001", &["enableReading"])
        .sub_of("1000")
        .in_sub_account("bot002@virtual.example");
    let h = sim(Faults::default()).await;
    h.exchange(BINANCE).keys.insert(extra);
    // The default limit is 1: one sub account, the first by email.
    let a = call(&h, MASTER, "GET", SUB_ACCOUNT_LIST, "").await;
    let emails = |a: &Answer| -> Vec<String> {
        a.body["subAccounts"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", a.body))
            .iter()
            .map(|s| s["email"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(emails(&a), vec![SUB_EMAIL]);
    let a = call(&h, MASTER, "GET", SUB_ACCOUNT_LIST, "page=2&limit=1").await;
    assert_eq!(emails(&a), vec!["bot002@virtual.example"]);
    let a = call(&h, MASTER, "GET", SUB_ACCOUNT_LIST, "page=1&limit=200").await;
    assert_eq!(
        emails(&a).len(),
        2,
        "another master's sub accounts are not listed"
    );
    let a = call(&h, MASTER, "GET", SUB_ACCOUNT_LIST, "limit=201").await;
    assert_reply(&a, 400, -1130, "limit is at most 200");
    let a = call(&h, SUB_KEY, "GET", SUB_ACCOUNT_LIST, "").await;
    assert_reply(&a, 401, -2015, "a sub key has no sub accounts to list");
}

#[tokio::test]
async fn a_master_creates_a_sub_key_and_the_reply_shows_its_secret_once() {
    let h = sim(Faults::default()).await;
    // Create-Sub-account-API-Key's parameters, as a form body.
    let ts = now_ms();
    let body = format!(
        "email=bot001%40virtual.example&apiName=bot-17&status=2&ipAddress=127.0.0.1%2C10.0.0.7&canTrade=true&canFuturesTrade=true&recvWindow=5000&timestamp={ts}"
    );
    let a = send_raw(
        &h,
        "POST",
        SUB_KEYS,
        Some(MASTER),
        "",
        &signed_query(MASTER, &body),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let reply = a.body.as_object().expect("an object");
    let mut fields: Vec<&str> = reply.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "apiKey",
            "apiName",
            "canFuturesTrade",
            "canMarginLoanRepay",
            "canTrade",
            "canUniversalTransfer",
            "canVanillaOptions",
            "ipList",
            "secretKey",
            "status"
        ],
        "CreateSubAccountApiKeyResponse's fields"
    );
    assert_eq!(reply["status"], 2);
    assert_eq!(
        reply["ipList"],
        serde_json::json!(["127.0.0.1", "10.0.0.7"])
    );
    assert_eq!(
        (
            reply["canTrade"].as_bool(),
            reply["canVanillaOptions"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let api_key = reply["apiKey"].as_str().unwrap();
    let held = h.exchange(BINANCE).keys.get(api_key).expect("a real key");
    assert_eq!(reply["secretKey"], held.secret.as_str());
    // The new key signs its own read, and the master's listing shows it by
    // name with its creation time.
    let query = format!("recvWindow=5000&timestamp={}", now_ms());
    let query = format!("{query}&signature={}", sign(&held.secret, &query));
    let own = read_restrictions(&h, api_key, &query).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let listed = call(
        &h,
        MASTER,
        "GET",
        SUB_KEYS,
        &format!("email=bot001%40virtual.example&subAccountApiKey={api_key}"),
    )
    .await;
    assert_eq!(
        listed.body["rows"][0]["apiName"], "bot-17",
        "{}",
        listed.body
    );
    assert_eq!(listed.body["rows"][0]["timestamp"], held.created_at_ms);
}

#[tokio::test]
async fn a_create_the_docs_refuse_creates_nothing() {
    let h = sim(Faults::default()).await;
    for (caller, params, code) in [
        (MASTER, "apiName=bot&status=1", -1102),
        (MASTER, "email=bot001%40virtual.example&status=1", -1102),
        (MASTER, "email=bot001%40virtual.example&apiName=bot", -1102),
        // status 2 needs ipAddress, of addresses.
        (
            MASTER,
            "email=bot001%40virtual.example&apiName=bot&status=2",
            -1102,
        ),
        (
            MASTER,
            "email=bot001%40virtual.example&apiName=bot&status=2&ipAddress=127.%2A%2A.1",
            -1130,
        ),
        (
            MASTER,
            "email=bot001%40virtual.example&apiName=bot&status=9",
            -1130,
        ),
        (
            MASTER,
            "email=nobody%40virtual.example&apiName=bot&status=1",
            -1130,
        ),
        // TRADE: the master's key must hold Enable Spot & Margin Trading.
        (
            TRADELESS_MASTER,
            "email=other%40virtual.example&apiName=bot&status=1",
            -2015,
        ),
        (
            SUB_KEY,
            "email=bot001%40virtual.example&apiName=bot&status=1",
            -2015,
        ),
    ] {
        let a = call(&h, caller, "POST", SUB_KEYS, params).await;
        assert_eq!(a.body["code"], code, "{caller} {params}: {}", a.body);
    }
    assert_eq!(common::stats(&h, BINANCE).creates, 0);
}
