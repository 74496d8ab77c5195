//! The Gate dialect, driven by hand-built requests that follow Gate's docs
//! (gateapi-python `gen_sign`, `docs/SubAccountApi.md`, `SubAccountKey.md`;
//! the project's notes `exchanges/gate.md`), not keyrevoke's connector: the
//! simulator must accept what the docs describe and refuse what they
//! forbid, with the documented labels.

use keyrevoke_core::ExchangeId;
use keyrevoke_core::sign::{hmac_sha512_hex, sha512_hex};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, Answer, key, now_s, secret_of};
use serde_json::json;

const GATE: ExchangeId = ExchangeId::new("gate");
const MAIN: &str = "gateMAIN000000000000000000000001";
const OTHER_MAIN: &str = "gateMAIN000000000000000000000002";
const SUB: &str = "gateSUB0000000000000000000000001";
const SUB_PATH: &str = "/api/v4/sub_accounts/610001/keys/gateSUB0000000000000000000000001";

async fn sim() -> SimHandle {
    testkit::start_unlimited(
        GATE,
        [
            key(MAIN, "600000", &["account", "wallet"]),
            key(OTHER_MAIN, "700000", &["account"]),
            key(SUB, "610001", &["spot", "wallet"])
                .sub_of("600000")
                .labelled("bot")
                .bound_to(&["127.0.0.1", "203.0.113.9"]),
        ],
    )
    .await
}

/// A request signed as `gen_sign` signs it, at `ts` (Unix seconds).
async fn send(
    h: &SimHandle,
    signer: &str,
    method: &str,
    path: &str,
    body: &str,
    ts: i64,
) -> Answer {
    let prehash = format!("{method}\n{path}\n\n{}\n{ts}", sha512_hex(body));
    let sign = hmac_sha512_hex(&secret_of(signer), &prehash);
    let url = format!("{}{path}", h.urls[&GATE]);
    let request = reqwest::Client::new()
        .request(method.parse().unwrap(), url)
        .header("KEY", signer)
        .header("Timestamp", ts.to_string())
        .header("SIGN", sign)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    Answer::read(request.send().await.expect("the simulator answers")).await
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(GATE).keys.get(api_key).expect("held")
}

#[tokio::test]
async fn a_put_replaces_both_lists_and_clears_what_it_omits() {
    let h = sim().await;
    let full = json!({
        "name": "bot",
        "perms": [{"name": "spot", "read_only": true}, {"name": "wallet", "read_only": true}],
        "ip_whitelist": ["192.0.2.1"],
    })
    .to_string();
    let a = send(&h, MAIN, "PUT", SUB_PATH, &full, now_s()).await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    let k = held(&h, SUB);
    assert_eq!(k.ips, vec!["192.0.2.1"]);
    assert!(k.read_only);
    // A body without the lists clears them: the key is open to every
    // address and holds no permission.
    let bare = json!({ "name": "bot" }).to_string();
    let a = send(&h, MAIN, "PUT", SUB_PATH, &bare, now_s()).await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    let k = held(&h, SUB);
    assert!(k.allows_loopback(), "{:?}", k.ips);
    assert!(k.permissions.is_empty(), "{:?}", k.permissions);
    let read = send(&h, MAIN, "GET", SUB_PATH, "", now_s()).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["ip_whitelist"], json!([]));
    assert_eq!(read.body["perms"], json!([]));
}

#[tokio::test]
async fn the_signature_covers_the_exact_path_and_body() {
    let h = sim().await;
    let body = json!({ "name": "bot", "perms": [], "ip_whitelist": [] }).to_string();
    // Signed over one body, sent with another.
    let ts = now_s();
    let prehash = format!("PUT\n{SUB_PATH}\n\n{}\n{ts}", sha512_hex("{}"));
    let sign = hmac_sha512_hex(&secret_of(MAIN), &prehash);
    let a = Answer::read(
        reqwest::Client::new()
            .put(format!("{}{SUB_PATH}", h.urls[&GATE]))
            .header("KEY", MAIN)
            .header("Timestamp", ts.to_string())
            .header("SIGN", sign)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["label"], "INVALID_SIGNATURE");
    // Signed without the /api/v4 prefix.
    let prehash = format!(
        "DELETE\n/sub_accounts/610001/keys/{SUB}\n\n{}\n{ts}",
        sha512_hex("")
    );
    let a = Answer::read(
        reqwest::Client::new()
            .delete(format!("{}{SUB_PATH}", h.urls[&GATE]))
            .header("KEY", MAIN)
            .header("Timestamp", ts.to_string())
            .header("SIGN", hmac_sha512_hex(&secret_of(MAIN), &prehash))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.body["label"], "INVALID_SIGNATURE");
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn a_timestamp_beyond_sixty_seconds_is_expired() {
    let h = sim().await;
    let a = send(&h, MAIN, "DELETE", SUB_PATH, "", now_s() - 61).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["label"], "REQUEST_EXPIRED");
    let a = send(&h, MAIN, "GET", SUB_PATH, "", now_s() + 55).await;
    assert_eq!(a.status, 200, "within the window: {:?}", a.body);
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn only_the_owning_main_account_deletes_and_a_delete_is_204() {
    let h = sim().await;
    let a = send(&h, OTHER_MAIN, "DELETE", SUB_PATH, "", now_s()).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["label"], "SUB_ACCOUNT_NOT_FOUND");
    let a = send(&h, SUB, "DELETE", SUB_PATH, "", now_s()).await;
    assert_eq!(a.status, 403, "a sub key cannot manage keys: {:?}", a.body);
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
    let a = send(&h, MAIN, "DELETE", SUB_PATH, "", now_s()).await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    let a = send(&h, MAIN, "DELETE", SUB_PATH, "", now_s()).await;
    assert_eq!(a.status, 404, "deleted already");
    let dead = send(&h, SUB, "GET", "/api/v4/account/detail", "", now_s()).await;
    assert_eq!(dead.status, 401);
    assert_eq!(dead.body["label"], "INVALID_KEY");
}
