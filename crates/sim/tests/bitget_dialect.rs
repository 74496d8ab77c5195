//! The Bitget dialect, driven by hand-built requests that follow Bitget's
//! docs (bitget.com/api-doc: common/signature, common/vsubaccount
//! Modify-Virtual-Subaccount-ApiKey, uta/account/sub-account
//! SubAccount-API-Delete; the official SDK's `utils.py`; the project's
//! notes `exchanges/bitget.md`), not keyrevoke's connector: the simulator
//! must accept what the docs describe and refuse what they forbid, with
//! the documented codes.

use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::dialects::bitget::UTA_MGT;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, Answer, hmac_sha256_base64, key, now_ms, secret_of};
use serde_json::json;

const BITGET: ExchangeId = ExchangeId::new("bitget");
const MAIN: &str = "bg_MAIN00000000000000000000000001";
const UNBOUND_MAIN: &str = "bg_MAIN00000000000000000000000002";
const OTHER_MAIN: &str = "bg_MAIN00000000000000000000000003";
const SUB: &str = "bg_SUB000000000000000000000000001";
const MODIFY: &str = "/api/v2/user/modify-virtual-subaccount-apikey";
const DELETE: &str = "/api/v3/user/delete-sub-api";

fn pass(api_key: &str) -> String {
    format!("{}Pass1", &api_key[3..8])
}

async fn sim() -> SimHandle {
    let k = |api_key: &str, uid: &str, perms: &[&str]| {
        key(api_key, uid, perms).with_passphrase(pass(api_key))
    };
    testkit::start_unlimited(
        BITGET,
        [
            k(MAIN, "600000", &[UTA_MGT, "read"]).bound_to(&["127.0.0.1"]),
            k(UNBOUND_MAIN, "600000", &[UTA_MGT, "read"]),
            k(OTHER_MAIN, "700000", &[UTA_MGT]).bound_to(&["127.0.0.1"]),
            k(SUB, "610001", &["read", "spot_trade", "wallet_withdraw"])
                .sub_of("600000")
                .labelled("bot")
                .bound_to(&["127.0.0.1", "203.0.113.9"]),
        ],
    )
    .await
}

/// A request signed as the signature page describes, at `ts` (Unix ms),
/// with the signer's passphrase `passphrase`.
async fn send_as(
    h: &SimHandle,
    signer: &str,
    passphrase: &str,
    method: &str,
    path_and_query: &str,
    body: &str,
    ts: i64,
) -> Answer {
    let prehash = format!("{ts}{method}{path_and_query}{body}");
    let sign = hmac_sha256_base64(&secret_of(signer), &prehash);
    let url = format!("{}{path_and_query}", h.urls[&BITGET]);
    let request = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("ACCESS-KEY", signer)
        .header("ACCESS-SIGN", sign)
        .header("ACCESS-TIMESTAMP", ts.to_string())
        .header("ACCESS-PASSPHRASE", passphrase)
        .header("Content-Type", "application/json")
        .header("locale", "en-US")
        .body(body.to_string());
    Answer::read(request.send().await.expect("the simulator answers")).await
}

async fn send(h: &SimHandle, signer: &str, method: &str, path: &str, body: &str) -> Answer {
    send_as(h, signer, &pass(signer), method, path, body, now_ms()).await
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(BITGET).keys.get(api_key).expect("held")
}

fn modify_body(extra: serde_json::Value) -> String {
    let mut body = json!({
        "subAccountUid": "610001",
        "subAccountApiKey": SUB,
        "passphrase": pass(SUB),
        "label": "bot",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string()
}

#[tokio::test]
async fn a_modify_that_omits_the_ip_list_empties_the_whitelist() {
    let h = sim().await;
    let a = send(&h, MAIN, "POST", MODIFY, &modify_body(json!({}))).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["code"], "00000");
    let k = held(&h, SUB);
    assert_eq!(
        k.bound_ips(),
        Vec::<String>::new(),
        "bound to no IP: open to every address"
    );
    assert_eq!(
        k.permissions,
        vec!["read", "spot_trade", "wallet_withdraw"],
        "an omitted permList keeps the permissions"
    );
}

#[tokio::test]
async fn an_empty_permission_list_removes_them_all_and_the_ips_given_are_bound() {
    let h = sim().await;
    let body = modify_body(json!({ "permList": [], "ipList": ["192.0.2.1"] }));
    let a = send(&h, MAIN, "POST", MODIFY, &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["data"]["secretKey"], "", "no secret echoed");
    let k = held(&h, SUB);
    assert!(k.permissions.is_empty(), "{:?}", k.permissions);
    assert_eq!(k.ips, vec!["192.0.2.1"]);
    let listed = send(
        &h,
        MAIN,
        "GET",
        "/api/v2/user/virtual-subaccount-apikey-list?subAccountUid=610001",
        "",
    )
    .await;
    assert_eq!(listed.body["data"][0]["permList"], json!([]));
    assert_eq!(listed.body["data"][0]["ipList"], json!(["192.0.2.1"]));
    assert_eq!(listed.body["data"][0]["label"], "bot");
}

#[tokio::test]
async fn a_modify_without_its_required_fields_or_with_the_wrong_passphrase_changes_nothing() {
    let h = sim().await;
    let mut no_label: serde_json::Value = serde_json::from_str(&modify_body(json!({}))).unwrap();
    no_label.as_object_mut().unwrap().remove("label");
    let a = send(&h, MAIN, "POST", MODIFY, &no_label.to_string()).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["code"], "40019");
    let wrong = modify_body(json!({ "passphrase": "notThePass123", "ipList": [] }));
    let a = send(&h, MAIN, "POST", MODIFY, &wrong).await;
    assert_eq!(a.body["code"], "40012");
    // The v2 calls need a main key bound to an IP.
    let a = send(&h, UNBOUND_MAIN, "POST", MODIFY, &modify_body(json!({}))).await;
    assert_eq!(a.body["code"], "40018");
    assert_eq!(held(&h, SUB).ips, vec!["127.0.0.1", "203.0.113.9"]);
}

#[tokio::test]
async fn the_signature_covers_the_query_and_the_body_exactly_and_the_passphrase_is_checked() {
    let h = sim().await;
    let body = json!({ "apiKey": SUB }).to_string();
    // Signed over another body than the one sent.
    let ts = now_ms();
    let sign = hmac_sha256_base64(&secret_of(MAIN), &format!("{ts}POST{DELETE}{{}}"));
    let a = Answer::read(
        reqwest::Client::new()
            .post(format!("{}{DELETE}", h.urls[&BITGET]))
            .header("ACCESS-KEY", MAIN)
            .header("ACCESS-SIGN", sign)
            .header("ACCESS-TIMESTAMP", ts.to_string())
            .header("ACCESS-PASSPHRASE", pass(MAIN))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["code"], "40009");
    // A GET signed without its query string.
    let path = "/api/v2/user/virtual-subaccount-apikey-list";
    let sign = hmac_sha256_base64(&secret_of(MAIN), &format!("{ts}GET{path}"));
    let a = Answer::read(
        reqwest::Client::new()
            .get(format!("{}{path}?subAccountUid=610001", h.urls[&BITGET]))
            .header("ACCESS-KEY", MAIN)
            .header("ACCESS-SIGN", sign)
            .header("ACCESS-TIMESTAMP", ts.to_string())
            .header("ACCESS-PASSPHRASE", pass(MAIN))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.body["code"], "40009");
    let a = send_as(&h, MAIN, "wrongPass123", "POST", DELETE, &body, ts).await;
    assert_eq!(a.body["code"], "40012");
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn a_timestamp_beyond_thirty_seconds_is_expired() {
    let h = sim().await;
    let body = json!({ "apiKey": SUB }).to_string();
    for ts in [now_ms() - 31_000, now_ms() + 31_000] {
        let a = send_as(&h, MAIN, &pass(MAIN), "POST", DELETE, &body, ts).await;
        assert_eq!(a.status, 400);
        assert_eq!(a.body["code"], "40008");
    }
    let a = send_as(
        &h,
        MAIN,
        &pass(MAIN),
        "GET",
        "/api/v2/spot/account/info",
        "",
        now_ms() - 25_000,
    )
    .await;
    assert_eq!(a.status, 200, "within the window: {:?}", a.body);
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn only_the_owning_main_account_deletes_and_a_dead_key_is_an_invalid_access_key() {
    let h = sim().await;
    let body = json!({ "apiKey": SUB }).to_string();
    let a = send(&h, OTHER_MAIN, "POST", DELETE, &body).await;
    assert_eq!(a.body["code"], "40037");
    let a = send(&h, SUB, "POST", DELETE, &body).await;
    assert_eq!(
        a.body["code"], "40014",
        "a sub key cannot delete itself: {:?}",
        a.body
    );
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
    let a = send(&h, MAIN, "POST", DELETE, &body).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["code"], "00000");
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    let a = send(&h, MAIN, "POST", DELETE, &body).await;
    assert_eq!(a.body["code"], "40037", "deleted already");
    let dead = send(&h, SUB, "GET", "/api/v2/spot/account/info", "").await;
    assert_eq!(dead.status, 400);
    assert_eq!(dead.body["code"], "40006");
}

/// Each endpoint has its own budget per UID per second: the sub-account
/// list's second call within a second is a 429, while the account
/// information, a budget of its own, still answers.
#[tokio::test]
async fn each_endpoint_spends_its_own_per_second_budget_per_uid() {
    let h = testkit::start(
        BITGET,
        keyrevoke_sim::faults::Faults::default(),
        [key(MAIN, "600000", &[UTA_MGT])
            .with_passphrase(pass(MAIN))
            .bound_to(&["127.0.0.1"])],
    )
    .await;
    // Early in a second of the simulator's clock: a window boundary between
    // the two calls would refill it.
    while now_ms() % 1000 > 200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let path = "/api/v2/user/virtual-subaccount-list";
    let first = send(&h, MAIN, "GET", path, "").await;
    let second = send(&h, MAIN, "GET", path, "").await;
    assert_eq!((first.status, second.status), (200, 429), "1 per second");
    assert_eq!(second.body["code"], "429");
    let a = send(&h, MAIN, "GET", "/api/v2/spot/account/info", "").await;
    assert_eq!(a.status, 200, "{:?}", a.body);
}
