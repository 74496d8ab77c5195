//! The Deribit dialect, driven by hand-built requests that follow
//! Deribit's docs (docs.deribit.com articles/authentication: the
//! `deri-hmac-sha256` header and the `client_signature` grant;
//! api-reference: `public/exchange_token`, `private/list_api_keys`,
//! `private/remove_api_key`; articles/rate-limits), not keyrevoke's
//! connector: the simulator must accept what the docs describe and refuse
//! what they forbid, with the documented codes.

use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::dialects::deribit::key_id;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::KeyState;
use keyrevoke_sim::testkit::{self, Answer, hmac_sha256_hex, key, now_ms, secret_of};

const DERIBIT: ExchangeId = ExchangeId::new("deribit");
const MAIN: &str = "deribitMAIN00001";
const SUB: &str = "deribitSUB000001";
const SUB_ADMIN: &str = "deribitSUBADM001";
const OTHER_MAIN: &str = "deribitMAIN00002";

fn keys() -> Vec<keyrevoke_sim::keys::SimKey> {
    vec![
        key(MAIN, "900", &["account:read_write", "wallet:read_write"]),
        key(SUB, "901", &["trade:read_write"]).sub_of("900"),
        key(SUB_ADMIN, "901", &["account:read_write"]).sub_of("900"),
        key(OTHER_MAIN, "800", &["account:read_write"]),
    ]
}

async fn sim() -> SimHandle {
    testkit::start_unlimited(DERIBIT, keys()).await
}

/// `GET path_and_query`, with `authorization` when given.
async fn get(h: &SimHandle, path_and_query: &str, authorization: Option<String>) -> Answer {
    let mut request = reqwest::Client::new().get(format!("{}{path_and_query}", h.urls[&DERIBIT]));
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    Answer::read(request.send().await.expect("the simulator answers")).await
}

/// The `deri-hmac-sha256` header for a GET of `uri` (path and query) by
/// `client_id` at `ts`, as articles/authentication defines it.
fn header(client_id: &str, uri: &str, ts: i64, nonce: &str) -> String {
    let sig = hmac_sha256_hex(
        &secret_of(client_id),
        &format!("{ts}\n{nonce}\nGET\n{uri}\n\n"),
    );
    format!("deri-hmac-sha256 id={client_id},ts={ts},sig={sig},nonce={nonce}")
}

async fn signed(h: &SimHandle, client_id: &str, uri: &str) -> Answer {
    let ts = now_ms();
    get(h, uri, Some(header(client_id, uri, ts, "abcd1234"))).await
}

fn code(a: &Answer) -> Option<i64> {
    a.body["error"]["code"].as_i64()
}

/// `public/auth` with grant `client_signature`, over `data`.
async fn auth(h: &SimHandle, client_id: &str, data: &str) -> Answer {
    let ts = now_ms();
    let nonce = "n0nce";
    let sig = hmac_sha256_hex(&secret_of(client_id), &format!("{ts}\n{nonce}\n{data}"));
    get(
        h,
        &format!(
            "/api/v2/public/auth?grant_type=client_signature&client_id={client_id}&timestamp={ts}&signature={sig}&nonce={nonce}&data={data}"
        ),
        None,
    )
    .await
}

fn result_str<'a>(a: &'a Answer, field: &str) -> &'a str {
    a.body["result"][field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}: {:?}", a.body))
}

#[tokio::test]
async fn a_header_signed_call_is_checked_over_its_uri_timestamp_and_key() {
    let h = sim().await;
    let list = "/api/v2/private/list_api_keys";
    let a = signed(&h, MAIN, list).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        a.body["result"].as_array().unwrap().len(),
        1,
        "its own account's keys"
    );
    // Signed over its query, a call that takes parameters is accepted...
    let own = format!("/api/v2/private/remove_api_key?id={}", key_id(OTHER_MAIN));
    let a = signed(&h, OTHER_MAIN, &own).await;
    assert_eq!(a.body["result"], "ok", "{:?}", a.body);
    // ...and signed for another query, refused.
    let uri = format!("/api/v2/private/remove_api_key?id={}", key_id(SUB));
    let ts = now_ms();
    let wrong = header(MAIN, "/api/v2/private/remove_api_key?id=1", ts, "x");
    let a = get(&h, &uri, Some(wrong)).await;
    assert_eq!(code(&a), Some(13009), "{:?}", a.body);
    assert_eq!(a.body["error"]["data"]["reason"], "invalid signature");
    // Over 60 s old.
    let stale = now_ms() - 61_000;
    let a = get(&h, list, Some(header(MAIN, list, stale, "x"))).await;
    assert_eq!(code(&a), Some(13009));
    assert_eq!(a.body["error"]["data"]["reason"], "invalid timestamp");
    // An unknown client id, and no auth at all.
    let a = signed(&h, "deribitNOBODY001", list).await;
    assert_eq!(code(&a), Some(13004));
    let a = get(&h, list, None).await;
    assert_eq!(code(&a), Some(10000));
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn the_client_signature_grant_signs_its_data_and_gives_bearer_tokens() {
    let h = sim().await;
    let a = auth(&h, MAIN, "some-data").await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(result_str(&a, "token_type"), "bearer");
    let token = result_str(&a, "access_token").to_string();
    let listed = get(
        &h,
        "/api/v2/private/list_api_keys",
        Some(format!("Bearer {token}")),
    )
    .await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    // The signature is over the data sent: another data is refused.
    let ts = now_ms();
    let sig = hmac_sha256_hex(&secret_of(MAIN), &format!("{ts}\nn\nsigned-data"));
    let a = get(
        &h,
        &format!("/api/v2/public/auth?grant_type=client_signature&client_id={MAIN}&timestamp={ts}&signature={sig}&nonce=n&data=sent-data"),
        None,
    )
    .await;
    assert_eq!(code(&a), Some(13009), "{:?}", a.body);
    let a = get(
        &h,
        "/api/v2/private/list_api_keys",
        Some("Bearer not-a-token".into()),
    )
    .await;
    assert_eq!(code(&a), Some(13009));
}

#[tokio::test]
async fn the_main_account_removes_a_sub_key_with_an_exchanged_token() {
    let h = sim().await;
    let a = auth(&h, MAIN, "").await;
    let refresh = result_str(&a, "refresh_token").to_string();
    let a = get(
        &h,
        &format!("/api/v2/public/exchange_token?refresh_token={refresh}&subject_id=901"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let bearer = Some(format!("Bearer {}", result_str(&a, "access_token")));
    let listed = get(&h, "/api/v2/private/list_api_keys", bearer.clone()).await;
    let ids: Vec<i64> = listed.body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_i64().unwrap())
        .collect();
    assert!(ids.contains(&key_id(SUB)), "{:?}", listed.body);
    let removed = get(
        &h,
        &format!("/api/v2/private/remove_api_key?id={}", key_id(SUB)),
        bearer.clone(),
    )
    .await;
    assert_eq!(removed.body["result"], "ok", "{:?}", removed.body);
    assert_eq!(testkit::state(&h, DERIBIT, SUB), KeyState::Deleted);
    // A refresh token is no access token.
    let a = get(
        &h,
        "/api/v2/private/list_api_keys",
        Some(format!("Bearer {refresh}")),
    )
    .await;
    assert_eq!(code(&a), Some(13009));
}

#[tokio::test]
async fn no_one_reaches_an_account_that_is_not_theirs() {
    let h = sim().await;
    // Another main account's sub account.
    let a = auth(&h, OTHER_MAIN, "").await;
    let refresh = result_str(&a, "refresh_token").to_string();
    let a = get(
        &h,
        &format!("/api/v2/public/exchange_token?refresh_token={refresh}&subject_id=901"),
        None,
    )
    .await;
    assert_eq!(code(&a), Some(13020), "{:?}", a.body);
    // A sub account's key cannot switch to its main account.
    let a = auth(&h, SUB_ADMIN, "").await;
    let refresh = result_str(&a, "refresh_token").to_string();
    let a = get(
        &h,
        &format!("/api/v2/public/exchange_token?refresh_token={refresh}&subject_id=900"),
        None,
    )
    .await;
    assert_eq!(code(&a), Some(13020), "{:?}", a.body);
    // An id of another account's key is not found in the caller's.
    let a = signed(
        &h,
        OTHER_MAIN,
        &format!("/api/v2/private/remove_api_key?id={}", key_id(SUB)),
    )
    .await;
    assert_eq!(code(&a), Some(13020), "{:?}", a.body);
    // The remove needs account:read_write.
    let a = signed(
        &h,
        SUB,
        &format!("/api/v2/private/remove_api_key?id={}", key_id(SUB)),
    )
    .await;
    assert_eq!(code(&a), Some(13021), "{:?}", a.body);
    assert_eq!(testkit::state(&h, DERIBIT, SUB), KeyState::Alive);
}

/// 50,000 credits at 500 a call: 100 calls at once, then 10028, and the
/// refused call acts on nothing.
#[tokio::test]
async fn the_credit_pool_allows_a_burst_of_100_then_refuses_with_10028() {
    let h = testkit::start(DERIBIT, Faults::default(), keys()).await;
    for i in 0..100 {
        let a = signed(&h, MAIN, "/api/v2/private/list_api_keys").await;
        assert_eq!(a.status, 200, "call {i}: {:?}", a.body);
    }
    let uri = format!("/api/v2/private/remove_api_key?id={}", key_id(MAIN));
    let a = signed(&h, MAIN, &uri).await;
    assert_eq!(code(&a), Some(10028), "{:?}", a.body);
    assert_eq!(testkit::state(&h, DERIBIT, MAIN), KeyState::Alive);
    let stats = h.exchange(DERIBIT).stats.snapshot();
    assert_eq!(stats.rate_limited, 1);
    // Another account's pool is its own.
    let a = signed(&h, OTHER_MAIN, "/api/v2/private/list_api_keys").await;
    assert_eq!(a.status, 200, "{:?}", a.body);
}
