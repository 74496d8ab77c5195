//! The HTX dialect, driven by hand-built requests that follow HTX's docs
//! ("Authentication", "Signature Method"; "Sub-account Management";
//! HuobiRDCenter/huobi_Python `api_signature.py`; the project's notes
//! `exchanges/htx.md`), not keyrevoke's connector: the simulator must
//! accept what the docs describe and refuse what they forbid, in HTX's
//! words.

use keyrevoke_core::ExchangeId;
use keyrevoke_core::sign::{hmac_sha256_base64, percent_encode};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::dialects::htx::{
    INCORRECT_ACCESS_KEY, INVALID_TIME, NO_PERMISSION, VERIFICATION_FAILURE,
};
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, Answer, key, now_ms, secret_of};
use serde_json::json;

const HTX: ExchangeId = ExchangeId::new("htx");
const PARENT: &str = "htxPARENT0-0000000-0000000-00001";
const OTHER_PARENT: &str = "htxPARENT0-0000000-0000000-00002";
const READER: &str = "htxREADER0-0000000-0000000-00001";
const SUB: &str = "htxSUBKEY0-0000000-0000000-00001";
const DELETE: &str = "/v2/sub-user/api-key-deletion";
const MODIFY: &str = "/v2/sub-user/api-key-modification";

fn keys() -> Vec<SimKey> {
    vec![
        key(PARENT, "600000", &["readOnly", "trade"]),
        key(OTHER_PARENT, "700000", &["readOnly", "trade"]),
        key(READER, "800000", &["readOnly"]),
        key(SUB, "610001", &["readOnly", "trade"])
            .sub_of("600000")
            .labelled("bot")
            .bound_to(&["127.0.0.1", "203.0.113.9"]),
        key("htxSUBKEY0-0000000-0000000-00009", "710001", &["readOnly"]).sub_of("700000"),
    ]
}

async fn sim() -> SimHandle {
    testkit::start_unlimited(HTX, keys()).await
}

/// `YYYY-MM-DDThh:mm:ss`, UTC.
fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// What one request signs: the pairs as the client orders them, and the
/// host it names.
struct Signing<'a> {
    signer: &'a str,
    method: &'a str,
    path: &'a str,
    params: Vec<(&'a str, String)>,
    timestamp: String,
    host: Option<String>,
    sort: bool,
}

impl<'a> Signing<'a> {
    fn new(signer: &'a str, method: &'a str, path: &'a str) -> Self {
        Signing {
            signer,
            method,
            path,
            params: Vec::new(),
            timestamp: timestamp(now_ms()),
            host: None,
            sort: true,
        }
    }

    /// The query the docs describe: the four auth pairs and the GET's
    /// own, each value encoded (upper-case hex), sorted by name, then
    /// `Signature`.
    fn query(&self, h: &SimHandle) -> String {
        let mut pairs = vec![
            ("AccessKeyId", self.signer.to_string()),
            ("SignatureMethod", "HmacSHA256".to_string()),
            ("SignatureVersion", "2".to_string()),
            ("Timestamp", self.timestamp.clone()),
        ];
        pairs.extend(self.params.iter().cloned());
        if self.sort {
            pairs.sort_by(|a, b| a.0.cmp(b.0));
        }
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let host = self.host.clone().unwrap_or_else(|| host_of(h));
        let prehash = format!("{}\n{host}\n{}\n{query}", self.method, self.path);
        let signature = hmac_sha256_base64(&secret_of(self.signer), &prehash);
        format!("{query}&Signature={}", percent_encode(&signature))
    }

    async fn send(&self, h: &SimHandle, body: &str) -> Answer {
        let url = format!("{}{}?{}", h.urls[&HTX], self.path, self.query(h));
        let request = reqwest::Client::new()
            .request(self.method.parse().unwrap(), url)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        Answer::read(request.send().await.expect("the simulator answers")).await
    }
}

/// `127.0.0.1:PORT`: the Host the simulator's URL sends.
fn host_of(h: &SimHandle) -> String {
    h.urls[&HTX].trim_start_matches("http://").to_string()
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(HTX).keys.get(api_key).expect("held")
}

fn deletion(sub_uid: u64, access_key: &str) -> String {
    json!({ "subUid": sub_uid, "accessKey": access_key }).to_string()
}

#[tokio::test]
async fn a_request_signed_as_the_docs_describe_is_accepted_and_its_body_is_not_signed() {
    let h = sim().await;
    // The body is sent as it is: nothing of it is in the signature.
    let a = Signing::new(PARENT, "POST", DELETE)
        .send(&h, &deletion(610001, SUB))
        .await;
    assert_eq!(a.body, json!({ "code": 200, "data": null }));
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    let a = Signing::new(PARENT, "GET", "/v2/user/uid")
        .send(&h, "")
        .await;
    assert_eq!(a.body, json!({ "code": 200, "data": 600000 }));
}

#[tokio::test]
async fn the_signature_covers_the_host_the_path_and_the_sorted_encoded_query() {
    let h = sim().await;
    let refused = |a: &Answer| {
        assert_eq!(a.body["status"], "error", "{:?}", a.body);
        assert_eq!(a.body["err-code"], "api-signature-not-valid");
        assert_eq!(a.body["err-msg"], VERIFICATION_FAILURE);
    };
    // Signed for the production host, sent to this one.
    let mut other_host = Signing::new(PARENT, "POST", DELETE);
    other_host.host = Some("api.huobi.pro".into());
    refused(&other_host.send(&h, &deletion(610001, SUB)).await);
    // Signed without the port the request's Host carries.
    let mut no_port = Signing::new(PARENT, "POST", DELETE);
    no_port.host = Some("127.0.0.1".into());
    refused(&no_port.send(&h, &deletion(610001, SUB)).await);
    // A GET's own parameters signed in the order given, not sorted.
    let mut unsorted = Signing::new(PARENT, "GET", "/v2/user/api-key");
    unsorted.params = vec![("uid", "610001".into()), ("accessKey", SUB.into())];
    unsorted.sort = false;
    refused(&unsorted.send(&h, "").await);
    // Sorted, the same query is accepted.
    unsorted.sort = true;
    let a = unsorted.send(&h, "").await;
    assert_eq!(a.body["code"], 200, "{:?}", a.body);
    assert_eq!(a.body["data"][0]["accessKey"], SUB);
    assert_eq!(a.body["data"][0]["permission"], "readOnly,trade");
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn a_timestamp_beyond_sixty_seconds_or_not_in_the_documented_format_is_refused() {
    let h = sim().await;
    let mut stale = Signing::new(PARENT, "POST", DELETE);
    stale.timestamp = timestamp(now_ms() - 61_000);
    let a = stale.send(&h, &deletion(610001, SUB)).await;
    assert_eq!(a.body["err-msg"], INVALID_TIME, "{:?}", a.body);
    let mut with_ms = Signing::new(PARENT, "GET", "/v2/user/uid");
    with_ms.timestamp = format!("{}.123Z", timestamp(now_ms()));
    let a = with_ms.send(&h, "").await;
    assert_eq!(a.body["err-msg"], INVALID_TIME, "{:?}", a.body);
    let mut early = Signing::new(PARENT, "GET", "/v2/user/uid");
    early.timestamp = timestamp(now_ms() + 55_000);
    let a = early.send(&h, "").await;
    assert_eq!(a.body["code"], 200, "within the window: {:?}", a.body);
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn only_the_owning_parent_with_trade_deletes_and_a_deleted_key_is_unknown() {
    let h = sim().await;
    let body = deletion(610001, SUB);
    let a = Signing::new(OTHER_PARENT, "POST", DELETE)
        .send(&h, &body)
        .await;
    assert_eq!(a.body["code"], 2002, "not its sub user: {:?}", a.body);
    let a = Signing::new(SUB, "POST", DELETE).send(&h, &body).await;
    assert_eq!(
        a.body["code"], 1002,
        "a sub user manages no keys: {:?}",
        a.body
    );
    let a = Signing::new(READER, "POST", DELETE).send(&h, &body).await;
    assert_eq!(a.body["err-msg"], NO_PERMISSION, "{:?}", a.body);
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
    let a = Signing::new(PARENT, "POST", DELETE).send(&h, &body).await;
    assert_eq!(a.body["code"], 200, "{:?}", a.body);
    let a = Signing::new(PARENT, "POST", DELETE).send(&h, &body).await;
    assert_eq!(a.body["code"], 2002, "deleted already: {:?}", a.body);
    let a = Signing::new(SUB, "GET", "/v2/user/uid").send(&h, "").await;
    assert_eq!(a.body["err-msg"], INCORRECT_ACCESS_KEY, "{:?}", a.body);
    let unsigned = reqwest::get(format!("{}/v2/user/uid", h.urls[&HTX]))
        .await
        .unwrap();
    let a = Answer::read(unsigned).await;
    assert_eq!(a.body["err-code"], "login-required");
}

#[tokio::test]
async fn the_modification_needs_read_only_and_leaves_what_it_omits() {
    let h = sim().await;
    let send = |body: serde_json::Value| {
        let h = &h;
        async move {
            Signing::new(PARENT, "POST", MODIFY)
                .send(h, &body.to_string())
                .await
        }
    };
    let base = json!({ "subUid": 610001, "accessKey": SUB });
    let with = |extra: serde_json::Value| {
        let mut b = base.clone();
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let a = send(with(json!({ "permission": "trade" }))).await;
    assert_eq!(a.body["code"], 2002, "readOnly is required: {:?}", a.body);
    let many = vec!["10.0.0.1"; 21].join(",");
    let a = send(with(json!({ "ipAddresses": many }))).await;
    assert_eq!(a.body["code"], 2002, "at most 20 IPs: {:?}", a.body);
    // Only the note: the permission and the IPs stay.
    let a = send(with(json!({ "note": "renamed" }))).await;
    assert_eq!(a.body["code"], 200, "{:?}", a.body);
    let k = held(&h, SUB);
    assert_eq!(k.permissions, vec!["readOnly", "trade"]);
    assert_eq!(k.ips, vec!["127.0.0.1", "203.0.113.9"]);
    assert_eq!(k.label.as_deref(), Some("renamed"));
    let a = send(with(
        json!({ "permission": "readOnly", "ipAddresses": "192.0.2.1,198.51.100.0/24" }),
    ))
    .await;
    assert_eq!(
        a.body["data"],
        json!({ "note": "renamed", "permission": "readOnly", "ipAddresses": "192.0.2.1,198.51.100.0/24" })
    );
    let k = held(&h, SUB);
    assert!(k.read_only);
    assert!(!k.allows_loopback());
}

#[tokio::test]
async fn sub_users_are_listed_and_queried_by_their_parent_only() {
    let h = sim().await;
    let a = Signing::new(PARENT, "GET", "/v2/sub-user/user-list")
        .send(&h, "")
        .await;
    assert_eq!(
        a.body,
        json!({ "code": 200, "data": [{ "uid": 610001, "userState": "normal" }] })
    );
    let a = Signing::new(SUB, "GET", "/v2/sub-user/user-list")
        .send(&h, "")
        .await;
    assert_eq!(a.body["code"], 1002, "{:?}", a.body);
    let mut foreign = Signing::new(PARENT, "GET", "/v2/user/api-key");
    foreign.params = vec![("uid", "710001".into())];
    let a = foreign.send(&h, "").await;
    assert_eq!(
        a.body["code"], 2002,
        "another parent's sub user: {:?}",
        a.body
    );
}

/// 10 requests per second per key: a burst of 25 within two seconds at
/// most has 20 accepted, and each refusal is HTTP 429 with the usage
/// headers at zero.
#[tokio::test]
async fn a_key_over_ten_requests_a_second_is_refused_with_the_usage_headers() {
    let h = testkit::start(HTX, keyrevoke_sim::faults::Faults::default(), keys()).await;
    let mut accepted = 0;
    let mut refused = Vec::new();
    for _ in 0..25 {
        let a = Signing::new(PARENT, "GET", "/v2/user/uid")
            .send(&h, "")
            .await;
        if a.status == 429 {
            refused.push(a);
        } else {
            assert_eq!(a.body["code"], 200, "{:?}", a.body);
            accepted += 1;
        }
    }
    assert!(accepted <= 20, "{accepted} accepted");
    assert!(refused.len() >= 5, "{} refused", refused.len());
    let r = &refused[0];
    assert_eq!(r.body["err-code"], "base-request-exceed-frequency-limit");
    assert_eq!(r.header("X-HB-RateLimit-Requests-Remain"), Some("0"));
    let expire: i64 = r
        .header("X-HB-RateLimit-Requests-Expire")
        .unwrap()
        .parse()
        .unwrap();
    assert!(expire > now_ms() - 1000, "Unix ms: {expire}");
}
