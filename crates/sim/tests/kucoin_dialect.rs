//! The KuCoin dialect, driven by hand-built requests that follow KuCoin's
//! docs (not keyrevoke's connector): the simulator must accept what the docs
//! describe and refuse what they forbid, with the documented codes.
//! (docs-new "Authentication", "Rate Limit", the sub-account API pages.)

mod common;

use common::{reply_lost_after_acting, unavailable_before_acting};
use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::KeyState;
use keyrevoke_sim::testkit::{
    self, Answer, hmac_sha256_base64 as hmac_b64, key, now_ms, secret_of,
};

const KUCOIN: ExchangeId = ExchangeId::new("kucoin");
const MASTER: &str = "5c2db93503aa674c74a31734";
const NO_GENERAL: &str = "5c2db93503aa674c74a39999";
const SUB: &str = "5e1b5c1d2f3a4b5c6d7e8f90";
const SUB2: &str = "5e1b5c1d2f3a4b5c6d7e8f91";
const OTHER: &str = "600000000000000000000001";

const API_KEY_INFO: &str = "/api/v1/user/api-key";
const SUB_KEYS: &str = "/api/v1/sub/api-key";
const SUB_KEY_UPDATE: &str = "/api/v1/sub/api-key/update";

/// The query naming the key `api_key` of the sub account `kcsub001` and
/// the passphrase given for it.
const fn sub_key_params<'a>(api_key: &'a str, passphrase: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("apiKey", api_key),
        ("subName", "kcsub001"),
        ("passphrase", passphrase),
    ]
}

/// The query deleting `SUB` with its own passphrase.
const DELETE_SUB: [(&str, &str); 3] = sub_key_params(SUB, "subPass123");

async fn sim(faults: Faults) -> SimHandle {
    testkit::start(
        KUCOIN,
        faults,
        [
            key(MASTER, "1000", &["General", "Spot"]).with_passphrase("masterPass1"),
            key(NO_GENERAL, "1001", &["Spot"]).with_passphrase("tradePass1"),
            key(SUB, "2000", &["General", "Spot"])
                .sub_of("1000")
                .in_sub_account("kcsub001")
                .with_passphrase("subPass123"),
            key(SUB2, "2000", &["General"])
                .sub_of("1000")
                .in_sub_account("kcsub001")
                .with_passphrase("abc!@#11"),
            key(OTHER, "3000", &["General"]).with_passphrase("otherPass1"),
        ],
    )
    .await
}

/// Form-encode a query value as a browser would (`!` -> `%21`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A request as the docs build it.
struct Req<'a> {
    api_key: &'a str,
    passphrase: &'a str,
    method: &'a str,
    path: &'a str,
    params: &'a [(&'a str, &'a str)],
    body: &'a str,
    ts: i64,
}

impl<'a> Req<'a> {
    fn get(
        api_key: &'a str,
        passphrase: &'a str,
        path: &'a str,
        params: &'a [(&'a str, &'a str)],
    ) -> Self {
        Req {
            api_key,
            passphrase,
            method: "GET",
            path,
            params,
            body: "",
            ts: now_ms(),
        }
    }

    /// Get Apikey Info: the caller's own key.
    fn probe(api_key: &'a str, passphrase: &'a str) -> Self {
        Req::get(api_key, passphrase, API_KEY_INFO, &[])
    }

    /// Delete Sub-Account API: `params` name the key and its passphrase.
    fn delete_sub_key(
        api_key: &'a str,
        passphrase: &'a str,
        params: &'a [(&'a str, &'a str)],
    ) -> Self {
        Req {
            method: "DELETE",
            ..Req::get(api_key, passphrase, SUB_KEYS, params)
        }
    }

    /// Modify Sub-Account API, by the master, with the JSON `body`.
    fn update_sub_key(body: &'a str) -> Self {
        Req {
            method: "POST",
            body,
            ..Req::get(MASTER, "masterPass1", SUB_KEY_UPDATE, &[])
        }
    }

    /// Create Sub-Account API, by `api_key`, with the JSON `body`.
    fn create_sub_key(api_key: &'a str, passphrase: &'a str, body: &'a str) -> Self {
        Req {
            method: "POST",
            body,
            ..Req::get(api_key, passphrase, SUB_KEYS, &[])
        }
    }

    /// Prehash = timestamp + METHOD + path(?query, not URL-encoded) + body.
    fn prehash(&self) -> String {
        let raw: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let q = if raw.is_empty() {
            String::new()
        } else {
            format!("?{}", raw.join("&"))
        };
        format!("{}{}{}{q}{}", self.ts, self.method, self.path, self.body)
    }
}

async fn send(h: &SimHandle, r: &Req<'_>) -> Answer {
    let secret = secret_of(r.api_key);
    let sign = hmac_b64(&secret, &r.prehash());
    send_with(h, r, &sign, &hmac_b64(&secret, r.passphrase), Some("2")).await
}

async fn send_with(
    h: &SimHandle,
    r: &Req<'_>,
    sign: &str,
    passphrase_header: &str,
    version: Option<&str>,
) -> Answer {
    let base = &h.urls[&KUCOIN];
    let query: Vec<String> = r
        .params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let url = if query.is_empty() {
        format!("{base}{}", r.path)
    } else {
        format!("{base}{}?{}", r.path, query.join("&"))
    };
    let mut req = reqwest::Client::new()
        .request(r.method.parse().unwrap(), url)
        .header("KC-API-KEY", r.api_key)
        .header("KC-API-SIGN", sign)
        .header("KC-API-TIMESTAMP", r.ts.to_string())
        .header("KC-API-PASSPHRASE", passphrase_header)
        .header("Content-Type", "application/json");
    if let Some(v) = version {
        req = req.header("KC-API-KEY-VERSION", v);
    }
    if !r.body.is_empty() {
        req = req.body(r.body.to_string());
    }
    Answer::read(req.send().await.unwrap()).await
}

/// The reply has HTTP `status` and KuCoin `code`.
#[track_caller]
fn assert_reply(a: &Answer, status: u16, code: &str, context: &str) {
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (status, Some(code)),
        "{context}: {}",
        a.body
    );
}

fn header(a: &Answer, name: &str) -> Option<i64> {
    a.header(name).and_then(|v| v.parse().ok())
}

fn state(h: &SimHandle, k: &str) -> KeyState {
    testkit::state(h, KUCOIN, k)
}

#[tokio::test]
async fn a_correctly_signed_probe_is_answered_with_the_keys_permissions_and_pool_usage() {
    let h = sim(Faults::default()).await;
    let a = send(&h, &Req::probe(MASTER, "masterPass1")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["code"], "200000", "{}", a.body);
    assert_eq!(a.body["data"]["permission"], "General,Spot");
    assert_eq!(a.body["data"]["isMaster"], true);
    assert_eq!(
        header(&a, "gw-ratelimit-limit"),
        Some(2000),
        "the Management pool of VIP0"
    );
    assert_eq!(
        header(&a, "gw-ratelimit-remaining"),
        Some(1980),
        "Get Apikey Info weighs 20"
    );
    let reset = header(&a, "gw-ratelimit-reset").expect("a reset countdown in ms");
    assert!((0..=30_000).contains(&reset), "{reset}");
    let sub = send(&h, &Req::probe(SUB, "subPass123")).await;
    assert_eq!(sub.body["data"]["isMaster"], false);
    assert_eq!(sub.body["data"]["subName"], "kcsub001");
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_wrong_passphrases_get_the_documented_codes() {
    let h = sim(Faults::default()).await;
    let probe = Req::probe(MASTER, "masterPass1");
    let secret = secret_of(MASTER);
    let good_passphrase = hmac_b64(&secret, "masterPass1");

    let a = send_with(&h, &probe, &"A".repeat(44), &good_passphrase, Some("2")).await;
    assert_reply(&a, 401, "400005", "a wrong signature");

    let a = send_with(
        &h,
        &probe,
        &hmac_b64(&secret, &probe.prehash()),
        "masterPass1",
        Some("2"),
    )
    .await;
    assert_reply(&a, 401, "400004", "a v2 key's passphrase must be the HMAC");

    let stale = Req {
        ts: now_ms() - 6_000,
        ..Req::probe(MASTER, "masterPass1")
    };
    assert_reply(&send(&h, &stale).await, 400, "400002", "6 s old");
    let ahead = Req {
        ts: now_ms() + 6_000,
        ..Req::probe(MASTER, "masterPass1")
    };
    assert_eq!(send(&h, &ahead).await.body["code"], "400002", "6 s ahead");

    let a = send(&h, &Req::probe("nosuchkey000000000000000", "x")).await;
    assert_reply(&a, 401, "400003", "an unknown key");

    let a = send_with(
        &h,
        &probe,
        &hmac_b64(&secret, &probe.prehash()),
        &good_passphrase,
        None,
    )
    .await;
    assert_eq!(
        a.body["code"], "400009",
        "KC-API-KEY-VERSION is required: {}",
        a.body
    );

    let a = common::get_unsigned(&h, KUCOIN, API_KEY_INFO).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["code"], "400001", "no auth headers at all");

    let stats = common::stats(&h, KUCOIN);
    assert_eq!(stats.bad_signature, 1);
    assert_eq!(stats.stale_timestamp, 2);
    assert_eq!(stats.missing_auth, 1);
    assert_eq!(stats.unknown_key, 1);
}

#[tokio::test]
async fn the_query_is_signed_as_it_reads_before_url_encoding() {
    let h = sim(Faults::default()).await;
    let params = sub_key_params(SUB2, "abc!@#11");
    let del = Req::delete_sub_key(MASTER, "masterPass1", &params);
    // Signed over the encoded query instead: refused.
    let secret = secret_of(MASTER);
    let encoded_prehash = format!(
        "{}DELETE/api/v1/sub/api-key?apiKey={SUB2}&subName=kcsub001&passphrase=abc%21%40%2311",
        del.ts
    );
    let a = send_with(
        &h,
        &del,
        &hmac_b64(&secret, &encoded_prehash),
        &hmac_b64(&secret, "masterPass1"),
        Some("2"),
    )
    .await;
    assert_eq!(a.body["code"], "400005", "{}", a.body);
    assert_eq!(state(&h, SUB2), KeyState::Alive);
    // Signed over the raw query, sent encoded: accepted.
    let a = send(&h, &del).await;
    assert_eq!(a.body["code"], "200000", "{}", a.body);
    assert_eq!(state(&h, SUB2), KeyState::Deleted);
}

#[tokio::test]
async fn a_master_deletes_a_sub_key_only_with_the_sub_keys_own_passphrase() {
    let h = sim(Faults::default()).await;
    let wrong = sub_key_params(SUB, "notThePass");
    let a = send(&h, &Req::delete_sub_key(MASTER, "masterPass1", &wrong)).await;
    assert_reply(&a, 200, "400100", "a wrong passphrase");
    assert_eq!(
        state(&h, SUB),
        KeyState::Alive,
        "a wrong passphrase deletes nothing"
    );

    let delete = Req::delete_sub_key(MASTER, "masterPass1", &DELETE_SUB);
    let a = send(&h, &delete).await;
    assert_eq!(a.body["code"], "200000", "{}", a.body);
    assert_eq!(
        a.body["data"],
        serde_json::json!({ "subName": "kcsub001", "apiKey": SUB })
    );
    assert_eq!(
        header(&a, "gw-ratelimit-remaining"),
        Some(1940),
        "each delete, refused or not, weighs 30"
    );
    assert_eq!(state(&h, SUB), KeyState::Deleted);

    let again = send(
        &h,
        &Req {
            ts: now_ms(),
            ..delete
        },
    )
    .await;
    assert_eq!(
        again.body["code"], "400100",
        "a deleted key cannot be deleted again: {}",
        again.body
    );
    let own = send(&h, &Req::probe(SUB, "subPass123")).await;
    assert_eq!(
        own.body["code"], "400003",
        "the deleted key no longer exists: {}",
        own.body
    );

    // The master's listing shows only the live key.
    let list = send(
        &h,
        &Req::get(MASTER, "masterPass1", SUB_KEYS, &[("subName", "kcsub001")]),
    )
    .await;
    assert_eq!(common::api_keys(&list.body["data"]), vec![SUB2]);
    let filtered = send(
        &h,
        &Req::get(
            MASTER,
            "masterPass1",
            SUB_KEYS,
            &[("subName", "kcsub001"), ("apiKey", SUB)],
        ),
    )
    .await;
    assert_eq!(
        filtered.body["data"],
        serde_json::json!([]),
        "filtering by the deleted key finds nothing"
    );
}

#[tokio::test]
async fn only_a_master_with_general_permission_manages_sub_keys() {
    let h = sim(Faults::default()).await;
    for (caller, pass) in [(NO_GENERAL, "tradePass1"), (SUB2, "abc!@#11")] {
        let a = send(&h, &Req::delete_sub_key(caller, pass, &DELETE_SUB)).await;
        assert_reply(&a, 403, "400007", caller);
    }
    let a = send(&h, &Req::delete_sub_key(OTHER, "otherPass1", &DELETE_SUB)).await;
    assert_eq!(
        a.body["code"], "400100",
        "another master's sub key is not found: {}",
        a.body
    );
    assert_eq!(state(&h, SUB), KeyState::Alive);
}

#[tokio::test]
async fn a_master_strips_a_sub_key_to_read_only_and_binds_it_to_an_unroutable_ip() {
    let h = sim(Faults::default()).await;
    let body = format!(
        r#"{{"subName":"kcsub001","apiKey":"{SUB}","passphrase":"subPass123","permission":"General","ipWhitelist":"192.0.2.1"}}"#
    );
    let a = send(&h, &Req::update_sub_key(&body)).await;
    assert_eq!(a.body["code"], "200000", "{}", a.body);
    assert_eq!(a.body["data"]["permission"], "General");
    let k = h.exchange(KUCOIN).keys.get(SUB).unwrap();
    assert!(k.read_only);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
    let own = send(&h, &Req::probe(SUB, "subPass123")).await;
    assert_reply(&own, 403, "400006", "now bound elsewhere");

    let transfer = format!(
        r#"{{"subName":"kcsub001","apiKey":"{SUB2}","passphrase":"abc!@#11","permission":"General,Transfer"}}"#
    );
    let a = send(&h, &Req::update_sub_key(&transfer)).await;
    assert_eq!(
        a.body["code"], "400100",
        "Transfer cannot be granted here: {}",
        a.body
    );
}

#[tokio::test]
async fn the_management_pool_answers_429000_once_a_uid_spent_its_2000() {
    let h = sim(Faults::default()).await;
    for i in 0..100 {
        let a = send(&h, &Req::probe(MASTER, "masterPass1")).await;
        assert_eq!(
            a.body["code"], "200000",
            "probe {i} of 100 at weight 20 fits 2000: {}",
            a.body
        );
    }
    let a = send(&h, &Req::probe(MASTER, "masterPass1")).await;
    assert_reply(&a, 429, "429000", "the 101st probe");
    assert_eq!(header(&a, "gw-ratelimit-remaining"), Some(0));
    let reset = header(&a, "gw-ratelimit-reset").unwrap();
    assert!(
        (1..=30_000).contains(&reset),
        "wait until the window ends: {reset}"
    );
    let other = send(&h, &Req::probe(OTHER, "otherPass1")).await;
    assert_eq!(other.body["code"], "200000", "another UID has its own pool");
    assert_eq!(common::stats(&h, KUCOIN).rate_limited, 1);
}

#[tokio::test]
async fn the_front_limit_blocks_an_ip_with_error_1015_beyond_500_requests_in_10_s() {
    let h = sim(Faults::default()).await;
    let mut answers = common::flood(&h, KUCOIN, "/api/v1/timestamp", 510).await;
    let first = answers.remove(0).body;
    assert_eq!(first["code"], "200000");
    assert!(
        first["data"]
            .as_i64()
            .is_some_and(|t| (t - now_ms()).abs() < 5_000),
        "server time in ms: {first}"
    );
    let mut blocked = 0;
    for a in answers.iter().filter(|a| a.status == 429) {
        assert!(a.headers.contains_key("retry-after"));
        assert!(
            a.body.as_str().is_some_and(|text| text.contains("1015")),
            "Cloudflare's plain-text page: {}",
            a.body
        );
        blocked += 1;
    }
    assert!(
        blocked >= 9,
        "after 500 requests in 10 s the IP is blocked ({blocked})"
    );
}

#[tokio::test]
async fn unknown_paths_get_404_and_are_counted() {
    let h = sim(Faults::default()).await;
    let a = common::get_unsigned(&h, KUCOIN, "/api/v1/delete-everything").await;
    assert_eq!(a.status, 404);
    assert_eq!(common::stats(&h, KUCOIN).unknown_endpoint, 1);
}

#[tokio::test]
async fn a_504_after_acting_leaves_the_sub_key_deleted() {
    let h = sim(reply_lost_after_acting()).await;
    let a = send(&h, &Req::delete_sub_key(MASTER, "masterPass1", &DELETE_SUB)).await;
    assert_eq!(a.status, 504);
    assert_eq!(state(&h, SUB), KeyState::Deleted);
}

#[tokio::test]
async fn a_503_before_acting_changes_nothing() {
    let h = sim(unavailable_before_acting()).await;
    let a = send(&h, &Req::delete_sub_key(MASTER, "masterPass1", &DELETE_SUB)).await;
    assert_eq!(a.status, 503);
    assert_eq!(state(&h, SUB), KeyState::Alive);
}

#[tokio::test]
async fn every_request_to_delete_a_key_is_counted_even_once_it_is_gone() {
    let h = sim(Faults::default()).await;
    let delete = Req::delete_sub_key(MASTER, "masterPass1", &DELETE_SUB);
    assert_eq!(send(&h, &delete).await.body["code"], "200000");
    let again = Req {
        ts: now_ms(),
        ..Req::delete_sub_key(MASTER, "masterPass1", &DELETE_SUB)
    };
    let a = send(&h, &again).await;
    assert_ne!(a.body["code"], "200000", "the key is gone: {}", a.body);
    common::assert_deleted_once_after(&h, KUCOIN, SUB, 2);
}

#[tokio::test]
async fn a_master_creates_a_sub_key_and_the_reply_shows_its_secret_once() {
    let h = sim(Faults::default()).await;
    // Create Sub-Account API's documented fields.
    let body = r#"{"subName":"kcsub001","passphrase":"Rotated-Pass-17","remark":"bot-17","permission":"General,Spot","ipWhitelist":"127.0.0.1,10.0.0.7"}"#;
    let a = send(&h, &Req::create_sub_key(MASTER, "masterPass1", body)).await;
    assert_reply(&a, 200, "200000", "create");
    let data = a.body["data"].as_object().expect("data");
    let mut fields: Vec<&str> = data.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "apiKey",
            "apiSecret",
            "createdAt",
            "ipWhitelist",
            "passphrase",
            "permission",
            "remark",
            "subName"
        ],
        "the documented response fields"
    );
    let api_key = data["apiKey"].as_str().unwrap();
    let held = h.exchange(KUCOIN).keys.get(api_key).expect("a real key");
    assert_eq!(data["apiSecret"], held.secret.as_str());
    assert_eq!(data["createdAt"], held.created_at_ms);
    assert_eq!(held.passphrase.as_deref(), Some("Rotated-Pass-17"));
    assert_eq!(held.ips, ["127.0.0.1", "10.0.0.7"]);
    // The master's list shows it, its remark, its IPs masked as the docs'
    // examples show them.
    let params = [("subName", "kcsub001"), ("apiKey", api_key)];
    let listed = send(&h, &Req::get(MASTER, "masterPass1", SUB_KEYS, &params)).await;
    assert_eq!(
        listed.body["data"][0]["remark"], "bot-17",
        "{}",
        listed.body
    );
    assert_eq!(listed.body["data"][0]["ipWhitelist"], "127.**.1,10.**.7");
}

#[tokio::test]
async fn a_create_the_docs_refuse_creates_nothing() {
    let h = sim(Faults::default()).await;
    for body in [
        // subName, passphrase and remark are required.
        r#"{"passphrase":"Rotated-Pass-17","remark":"bot"}"#,
        r#"{"subName":"kcsub001","remark":"bot"}"#,
        r#"{"subName":"kcsub001","passphrase":"Rotated-Pass-17"}"#,
        // A passphrase of 7 to 32 characters without spaces; a remark of 1
        // to 24.
        r#"{"subName":"kcsub001","passphrase":"short","remark":"bot"}"#,
        r#"{"subName":"kcsub001","passphrase":"with space 17","remark":"bot"}"#,
        r#"{"subName":"kcsub001","passphrase":"Rotated-Pass-17","remark":"a-remark-of-25-characters"}"#,
        // Only General, Spot, Futures, Margin, InnerTransfer can be set.
        r#"{"subName":"kcsub001","passphrase":"Rotated-Pass-17","remark":"bot","permission":"General,Transfer"}"#,
        r#"{"subName":"kcsub001","passphrase":"Rotated-Pass-17","remark":"bot","ipWhitelist":"127.**.1"}"#,
        r#"{"subName":"nosuchsub","passphrase":"Rotated-Pass-17","remark":"bot"}"#,
    ] {
        let a = send(&h, &Req::create_sub_key(MASTER, "masterPass1", body)).await;
        assert_reply(&a, 200, "400100", body);
    }
    // The create needs "General".
    let body = r#"{"subName":"kcsub001","passphrase":"Rotated-Pass-17","remark":"bot"}"#;
    let a = send(&h, &Req::create_sub_key(NO_GENERAL, "tradePass1", body)).await;
    assert_reply(&a, 403, "400007", "a key without General");
    assert_eq!(common::stats(&h, KUCOIN).creates, 0);
}
