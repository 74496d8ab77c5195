//! The OKX dialect, driven by hand-built requests that follow the v5 docs
//! (https://www.okx.com/docs-v5/en/, not keyrevoke's connector): the
//! simulator must accept what the docs describe and refuse what they
//! forbid, with the documented codes and HTTP statuses.

mod common;

use common::{always_rate_limited, reply_lost_after_acting, unavailable_before_acting};
use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::dialects::{self, okx::ND_BROKER};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{
    self, Answer, hmac_sha256_base64 as sign, iso8601 as iso, now_ms, secret_of,
};
use serde_json::{Value, json};

const OKX: ExchangeId = ExchangeId::new("okx");

/// A test key with OKX's passphrase, bound to `ips`.
fn key(api_key: &str, uid: &str, perms: &[&str], ips: &[&str]) -> SimKey {
    testkit::key(api_key, uid, perms)
        .with_passphrase(format!("{api_key}-Pass1!"))
        .bound_to(ips)
}

async fn sim(faults: Faults) -> SimHandle {
    testkit::start(
        OKX,
        faults,
        [
            // A master bound to our IP, with Trade: it may manage its sub-accounts' keys.
            key(
                "MASTER-BOUND",
                "1000",
                &["read_only", "trade"],
                &["127.0.0.1"],
            ),
            // Another master whose key is bound to no IP.
            key("MASTER-UNBOUND", "1100", &["read_only", "trade"], &["*"]),
            // A master key without Trade.
            key("MASTER-READER", "1200", &["read_only"], &["127.0.0.1"]),
            key("SUB-A-1", "2000", &["read_only", "trade"], &["*"])
                .sub_of("1000")
                .in_sub_account("subalpha1"),
            key("SUB-A-2", "2000", &["read_only", "trade"], &["*"])
                .sub_of("1000")
                .in_sub_account("subalpha1"),
            key("SUB-A-3", "2000", &["read_only"], &["*"])
                .sub_of("1000")
                .in_sub_account("subalpha1"),
            key("SUB-U-1", "2100", &["read_only", "trade"], &["*"])
                .sub_of("1100")
                .in_sub_account("subunbound"),
            // An ND broker and one of its sub-accounts.
            key(
                "BROKER",
                "3000",
                &["read_only", "trade", ND_BROKER],
                &["127.0.0.1"],
            ),
            key(
                "ND-SUB-1",
                "3100",
                &["read_only", "trade", "withdraw"],
                &["*"],
            )
            .sub_of("3000")
            .in_sub_account("ndsub0001"),
        ],
    )
    .await
}

/// How a hand-built request is put together.
struct Req<'a> {
    api_key: &'a str,
    method: &'a str,
    /// Path, with `?query` for a GET.
    path: &'a str,
    body: &'a str,
    ts: String,
    signature: Option<String>,
    passphrase: Option<String>,
}

impl<'a> Req<'a> {
    fn new(api_key: &'a str, method: &'a str, path: &'a str, body: &'a str) -> Self {
        Req {
            api_key,
            method,
            path,
            body,
            ts: iso(now_ms()),
            signature: None,
            passphrase: None,
        }
    }

    async fn send(self, h: &SimHandle) -> (u16, Value) {
        let secret = secret_of(self.api_key);
        let signature = self.signature.unwrap_or_else(|| {
            sign(
                &secret,
                &format!("{}{}{}{}", self.ts, self.method, self.path, self.body),
            )
        });
        let passphrase = self
            .passphrase
            .unwrap_or_else(|| format!("{}-Pass1!", self.api_key));
        let url = format!("{}{}", h.urls[&OKX], self.path);
        let client = reqwest::Client::new();
        let req = if self.method == "GET" {
            client.get(url)
        } else {
            client.post(url).body(self.body.to_string())
        };
        let resp = req
            .header("OK-ACCESS-KEY", self.api_key)
            .header("OK-ACCESS-SIGN", signature)
            .header("OK-ACCESS-TIMESTAMP", self.ts)
            .header("OK-ACCESS-PASSPHRASE", passphrase)
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap();
        let a = Answer::read(resp).await;
        (a.status, a.body)
    }
}

async fn call(h: &SimHandle, api_key: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    Req::new(api_key, method, path, body).send(h).await
}

/// A signed GET of `path` (with its `?query`) by `api_key`.
async fn get(h: &SimHandle, api_key: &str, path: &str) -> (u16, Value) {
    call(h, api_key, "GET", path, "").await
}

/// `api_key` reads its own account config.
async fn config(h: &SimHandle, api_key: &str) -> (u16, Value) {
    get(h, api_key, CONFIG).await
}

/// `caller` deletes the key `api_key` of the sub-account `sub_acct` through
/// the delete endpoint at `path`.
async fn delete_via(
    h: &SimHandle,
    caller: &str,
    path: &str,
    sub_acct: &str,
    api_key: &str,
) -> (u16, Value) {
    let body = format!(r#"{{"subAcct":"{sub_acct}","apiKey":"{api_key}"}}"#);
    call(h, caller, "POST", path, &body).await
}

/// `caller` deletes a sub-account's key through the ordinary endpoint.
async fn delete_sub_key(
    h: &SimHandle,
    caller: &str,
    sub_acct: &str,
    api_key: &str,
) -> (u16, Value) {
    delete_via(h, caller, DELETE, sub_acct, api_key).await
}

/// The reply has HTTP `status` and OKX `code`.
#[track_caller]
fn assert_reply((status, body): &(u16, Value), want_status: u16, code: &str, context: &str) {
    assert_eq!(
        (*status, body["code"].as_str()),
        (want_status, Some(code)),
        "{context}: {body}"
    );
}

/// The server time in a `/api/v5/public/time` reply: a Unix ms string.
fn server_ts(body: &Value) -> i64 {
    body["data"][0]["ts"].as_str().unwrap().parse().unwrap()
}

fn state(h: &SimHandle, k: &str) -> KeyState {
    testkit::state(h, OKX, k)
}

const CONFIG: &str = "/api/v5/account/config";
const DELETE: &str = "/api/v5/users/subaccount/delete-apikey";
const MODIFY: &str = "/api/v5/users/subaccount/modify-apikey";
const SUB_KEYS: &str = "/api/v5/users/subaccount/apikey";
const ND_DELETE: &str = "/api/v5/broker/nd/subaccount/delete-apikey";
const PUBLIC_TIME: &str = "/api/v5/public/time";

/// OKX's sub-account endpoints allow one call per second per User ID.
async fn wait_out_the_one_per_second_limit() {
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
}

#[tokio::test]
async fn a_correctly_signed_account_config_read_returns_the_keys_permissions() {
    let h = sim(Faults::default()).await;
    let (status, body) = config(&h, "SUB-A-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "0", "{body}");
    let cfg = &body["data"][0];
    assert_eq!(cfg["perm"], "read_only,trade");
    assert_eq!(cfg["uid"], "2000");
    assert_eq!(
        cfg["mainUid"], "1000",
        "a sub-account's mainUid is its master's"
    );
    let (_, body) = config(&h, "MASTER-BOUND").await;
    assert_eq!(
        body["data"][0]["uid"], body["data"][0]["mainUid"],
        "uid = mainUid for a master"
    );
    assert_eq!(body["data"][0]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_and_wrong_passphrases_get_their_documented_codes() {
    let h = sim(Faults::default()).await;
    let probe = || Req::new("SUB-A-1", "GET", CONFIG, "");
    let mut r = probe();
    r.signature = Some(sign("not-the-secret", &format!("{}GET{CONFIG}", r.ts)));
    let reply = r.send(&h).await;
    assert_reply(&reply, 401, "50113", "a signature made with another secret");
    for (offset_ms, status, code, why) in [
        (-31_000, 401, "50102", "31 s behind the server"),
        (31_000, 401, "50102", "31 s ahead of the server"),
        (-20_000, 200, "0", "20 s is within the 30 s tolerance"),
    ] {
        let r = Req {
            ts: iso(now_ms() + offset_ms),
            ..probe()
        };
        assert_reply(&r.send(&h).await, status, code, why);
    }
    let wrong_passphrase = Req {
        passphrase: Some("Wrong-Pass1!".into()),
        ..probe()
    };
    assert_reply(
        &wrong_passphrase.send(&h).await,
        401,
        "50105",
        "a wrong passphrase",
    );
    let unix_ms = Req {
        ts: now_ms().to_string(),
        ..probe()
    };
    assert_reply(
        &unix_ms.send(&h).await,
        401,
        "50112",
        "Unix ms instead of ISO 8601",
    );
    assert_reply(
        &config(&h, "NEVER-EXISTED").await,
        401,
        "50111",
        "a key that never existed",
    );
    let stats = common::stats(&h, OKX);
    assert_eq!(
        stats.bad_signature, 2,
        "the bad signature and the wrong passphrase"
    );
    assert_eq!(
        stats.stale_timestamp, 3,
        "two stale timestamps and one malformed"
    );
}

#[tokio::test]
async fn the_query_string_is_part_of_the_signed_request_path() {
    let h = sim(Faults::default()).await;
    let path = format!("{SUB_KEYS}?subAcct=subalpha1&apiKey=SUB-A-1");
    let (_, body) = get(&h, "MASTER-BOUND", &path).await;
    assert_eq!(body["code"], "0", "{body}");
    // Signed without the query: refused.
    let mut r = Req::new("MASTER-BOUND", "GET", &path, "");
    r.signature = Some(sign(
        "MASTER-BOUND-secret",
        &format!("{}GET{SUB_KEYS}", r.ts),
    ));
    assert_reply(&r.send(&h).await, 401, "50113", "signed without the query");
}

#[tokio::test]
async fn missing_auth_headers_unknown_paths_and_wrong_methods() {
    let h = sim(Faults::default()).await;
    let a = common::get_unsigned(&h, OKX, CONFIG).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.body["code"], "50103",
        "OK-ACCESS-KEY cannot be empty: {}",
        a.body
    );
    let a = common::get_unsigned(&h, OKX, "/api/v5/users/subaccount/delete-everything").await;
    assert_eq!(a.status, 404);
    let a = common::get_unsigned(&h, OKX, DELETE).await;
    assert_eq!(a.status, 405, "delete-apikey is a POST");
    assert_eq!(a.body["code"], "50115");
    let stats = common::stats(&h, OKX);
    assert_eq!((stats.unknown_endpoint, stats.missing_auth), (1, 1));
}

#[tokio::test]
async fn a_master_bound_to_an_ip_deletes_its_sub_accounts_key_once() {
    let h = sim(Faults::default()).await;
    let reply = delete_sub_key(&h, "MASTER-BOUND", "subalpha1", "SUB-A-1").await;
    assert_reply(&reply, 200, "0", "the delete");
    assert_eq!(reply.1["data"][0]["subAcct"], "subalpha1");
    assert_eq!(state(&h, "SUB-A-1"), KeyState::Deleted);
    // The deleted key can no longer sign: OKX reports it gone.
    assert_reply(
        &config(&h, "SUB-A-1").await,
        200,
        "50119",
        "the deleted key signs",
    );
    // Deleting it again, or querying it, names the missing key.
    wait_out_the_one_per_second_limit().await;
    let (_, reply) = delete_sub_key(&h, "MASTER-BOUND", "subalpha1", "SUB-A-1").await;
    assert_eq!(reply["code"], "59506", "the second delete: {reply}");
    let (_, reply) = get(
        &h,
        "MASTER-BOUND",
        &format!("{SUB_KEYS}?subAcct=subalpha1&apiKey=SUB-A-1"),
    )
    .await;
    assert_eq!(reply["code"], "59506", "{reply}");
    let (_, reply) = get(&h, "MASTER-BOUND", &format!("{SUB_KEYS}?subAcct=subalpha1")).await;
    assert_eq!(
        common::api_keys(&reply["data"]),
        vec!["SUB-A-2", "SUB-A-3"],
        "only the live keys are listed"
    );
}

#[tokio::test]
async fn who_may_manage_sub_keys_is_enforced_as_documented() {
    let h = sim(Faults::default()).await;
    assert_reply(
        &delete_sub_key(&h, "MASTER-UNBOUND", "subunbound", "SUB-U-1").await,
        403,
        "50035",
        "a master key bound to no IP",
    );
    let (_, reply) = delete_sub_key(&h, "MASTER-READER", "subalpha1", "SUB-A-1").await;
    assert_eq!(reply["code"], "50120", "a read-only master key: {reply}");
    let (_, reply) = delete_sub_key(&h, "SUB-A-2", "subalpha1", "SUB-A-1").await;
    assert_eq!(reply["code"], "59500", "a sub-account's own key: {reply}");
    let (_, reply) = delete_sub_key(&h, "MASTER-BOUND", "nosuchsub", "SUB-A-1").await;
    assert_eq!(reply["code"], "59510", "an unknown sub-account: {reply}");
    wait_out_the_one_per_second_limit().await;
    let reply = call(
        &h,
        "MASTER-BOUND",
        "POST",
        DELETE,
        r#"{"subAcct":"subalpha1"}"#,
    )
    .await;
    assert_reply(&reply, 400, "50014", "apiKey is required");
    assert_eq!(state(&h, "SUB-A-1"), KeyState::Alive, "nothing was deleted");
    assert_eq!(state(&h, "SUB-U-1"), KeyState::Alive, "nothing was deleted");
}

#[tokio::test]
async fn modify_apikey_resets_permissions_and_ip_binding() {
    let h = sim(Faults::default()).await;
    let body = r#"{"subAcct":"subalpha1","apiKey":"SUB-A-2","perm":"read_only","ip":"192.0.2.1"}"#;
    let (_, reply) = call(&h, "MASTER-BOUND", "POST", MODIFY, body).await;
    assert_eq!(reply["code"], "0", "{reply}");
    assert_eq!(reply["data"][0]["perm"], "read_only");
    assert_eq!(reply["data"][0]["ip"], "192.0.2.1");
    let k = h.exchange(OKX).keys.get("SUB-A-2").unwrap();
    assert!(k.read_only);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
    // From loopback the key is now refused: bound to an address no one owns.
    assert_reply(
        &config(&h, "SUB-A-2").await,
        401,
        "50110",
        "bound to 192.0.2.1",
    );
    // withdraw is not a sub-account permission on this endpoint.
    wait_out_the_one_per_second_limit().await;
    let reply = call(
        &h,
        "MASTER-BOUND",
        "POST",
        MODIFY,
        r#"{"subAcct":"subalpha1","apiKey":"SUB-A-3","perm":"withdraw"}"#,
    )
    .await;
    assert_reply(&reply, 400, "51000", "perm withdraw");
}

#[tokio::test]
async fn an_nd_broker_manages_its_sub_accounts_through_the_broker_endpoints() {
    let h = sim(Faults::default()).await;
    let (_, reply) = delete_sub_key(&h, "BROKER", "ndsub0001", "ND-SUB-1").await;
    assert_eq!(
        reply["code"], "59619",
        "the ordinary endpoint refuses ND sub-accounts: {reply}"
    );
    let (_, reply) = delete_via(&h, "MASTER-BOUND", ND_DELETE, "subalpha1", "SUB-A-1").await;
    assert_eq!(
        reply["code"], "59608",
        "only brokers may use the broker endpoints: {reply}"
    );
    let (_, reply) = get(
        &h,
        "BROKER",
        "/api/v5/broker/nd/subaccount/apikey?subAcct=ndsub0001&apiKey=ND-SUB-1",
    )
    .await;
    assert_eq!(
        reply["data"][0]["perm"], "read_only,trade,withdraw",
        "{reply}"
    );
    let (_, reply) = delete_via(&h, "BROKER", ND_DELETE, "ndsub0001", "ND-SUB-1").await;
    assert_eq!(reply["code"], "0", "{reply}");
    assert_eq!(state(&h, "ND-SUB-1"), KeyState::Deleted);
    let (_, reply) = config(&h, "BROKER").await;
    assert_eq!(
        reply["data"][0]["perm"], "read_only,trade",
        "the simulator's broker marker is not an OKX permission"
    );
}

#[tokio::test]
async fn per_user_limits_answer_50011_in_an_http_200_body() {
    let h = sim(Faults::default()).await;
    // delete-apikey: 1 request per second per User ID. Six calls within
    // less than five seconds span at most five one-second windows.
    let mut limited = 0;
    for k in [
        "SUB-A-1", "SUB-A-2", "SUB-A-3", "SUB-A-1", "SUB-A-2", "SUB-A-3",
    ] {
        let (status, reply) = delete_sub_key(&h, "MASTER-BOUND", "subalpha1", k).await;
        if reply["code"] == "50011" {
            assert_eq!(status, 200, "{reply}");
            assert!(
                reply["msg"]
                    .as_str()
                    .unwrap()
                    .starts_with("Rate limit reached"),
                "{reply}"
            );
            limited += 1;
        }
    }
    assert!(
        limited >= 1,
        "six deletes within five seconds exceed 1 per second"
    );
    // account/config: 5 requests per 2 seconds per User ID.
    let mut limited = 0;
    for _ in 0..16 {
        let (_, reply) = config(&h, "SUB-U-1").await;
        if reply["code"] == "50011" {
            limited += 1;
        }
    }
    assert!(
        limited >= 1,
        "16 reads within three 2-second windows exceed 5 per 2 s"
    );
}

#[tokio::test]
async fn the_public_time_limit_answers_http_429_with_50011() {
    let h = sim(Faults::default()).await;
    let mut too_many = 0;
    for a in common::flood(&h, OKX, PUBLIC_TIME, 16).await {
        if a.status == 429 {
            assert_eq!(a.body["code"], "50011", "{}", a.body);
            too_many += 1;
        } else {
            assert!(
                (server_ts(&a.body) - now_ms()).abs() < 5_000,
                "the server time is a Unix ms string"
            );
        }
    }
    assert!(
        too_many >= 1,
        "16 requests in quick succession exceed 10 per 2 s per IP"
    );
}

#[tokio::test]
async fn a_clock_ahead_of_ours_refuses_our_timestamps_and_says_so_in_public_time() {
    let h = sim(Faults {
        clock_skew_ms: 60_000,
        ..Faults::default()
    })
    .await;
    assert_reply(
        &config(&h, "SUB-A-1").await,
        401,
        "50102",
        "signed by our clock",
    );
    let ts = server_ts(&common::get_unsigned(&h, OKX, PUBLIC_TIME).await.body);
    let at_server_time = Req {
        ts: iso(ts),
        ..Req::new("SUB-A-1", "GET", CONFIG, "")
    };
    let (_, reply) = at_server_time.send(&h).await;
    assert_eq!(reply["code"], "0", "signed at the server's time: {reply}");
}

#[tokio::test]
async fn a_504_after_acting_leaves_the_key_deleted_and_a_503_before_changes_nothing() {
    let h = sim(reply_lost_after_acting()).await;
    let (status, _) = delete_sub_key(&h, "MASTER-BOUND", "subalpha1", "SUB-A-1").await;
    assert_eq!(status, 504);
    assert_eq!(state(&h, "SUB-A-1"), KeyState::Deleted);

    let h = sim(unavailable_before_acting()).await;
    let (status, _) = delete_sub_key(&h, "MASTER-BOUND", "subalpha1", "SUB-A-1").await;
    assert_eq!(status, 503);
    assert_eq!(state(&h, "SUB-A-1"), KeyState::Alive);
}

#[tokio::test]
async fn an_injected_rate_limit_is_the_documented_50011_reply() {
    let h = sim(always_rate_limited()).await;
    assert_reply(
        &delete_sub_key(&h, "MASTER-BOUND", "subalpha1", "SUB-A-1").await,
        200,
        "50011",
        "an injected rate limit",
    );
    assert_eq!(state(&h, "SUB-A-1"), KeyState::Alive);
}

#[test]
fn inventories_name_okx_sub_accounts_by_their_subacct_name() {
    let k = key("SUB-A-1", "2000", &["read_only"], &["*"])
        .sub_of("1000")
        .in_sub_account("subalpha1");
    assert_eq!(dialects::sub_account_id(OKX, &k), "subalpha1");
    assert!(dialects::needs_passphrase(OKX));
    assert_eq!(
        dialects::ip_limit(OKX),
        (10, std::time::Duration::from_secs(2))
    );
}

#[tokio::test]
async fn a_synthetic_breach_population_gives_okx_masters_that_may_manage_their_sub_accounts() {
    let pop = keyrevoke_sim::generate::Population::breach(&[OKX], 40, 5);
    let keys = &pop.keys[&OKX];
    let master = pop.credentials.first().expect("a master credential");
    let master_key = keys.iter().find(|k| k.api_key == master.api_key).unwrap();
    assert_eq!(
        master_key.ips,
        vec!["127.0.0.1".to_string()],
        "OKX masters must be IP-bound (50035)"
    );
    assert!(
        master.passphrase.is_some(),
        "every OKX key has a passphrase"
    );
    let row = pop
        .rows
        .iter()
        .find(|r| r.via.as_deref() == Some(master.name.as_str()))
        .expect("a sub key managed by that master");
    let sub = keys.iter().find(|k| k.api_key == row.api_key).unwrap();
    assert_eq!(
        row.account.as_deref(),
        sub.sub_name.as_deref(),
        "the inventory names the sub-account"
    );

    let h = testkit::start(OKX, Faults::default(), []).await;
    pop.load_into(&h);
    // Signed by hand with the master's own secret and passphrase.
    let body = json!({ "subAcct": row.account, "apiKey": row.api_key }).to_string();
    let ts = iso(now_ms());
    let signature = sign(&master.api_secret, &format!("{ts}POST{DELETE}{body}"));
    let reply: Value = reqwest::Client::new()
        .post(format!("{}{DELETE}", h.urls[&OKX]))
        .header("OK-ACCESS-KEY", &master.api_key)
        .header("OK-ACCESS-SIGN", signature)
        .header("OK-ACCESS-TIMESTAMP", ts)
        .header(
            "OK-ACCESS-PASSPHRASE",
            master.passphrase.as_deref().unwrap(),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["code"], "0", "{reply}");
    assert_eq!(state(&h, &row.api_key), KeyState::Deleted);
}

#[tokio::test]
async fn every_request_to_delete_a_key_is_counted_even_once_it_is_gone() {
    let h = sim(Faults::default()).await;
    let reply = delete_sub_key(&h, "MASTER-BOUND", "subalpha1", "SUB-A-1").await;
    assert_reply(&reply, 200, "0", "the delete");
    wait_out_the_one_per_second_limit().await;
    let (_, reply) = delete_sub_key(&h, "MASTER-BOUND", "subalpha1", "SUB-A-1").await;
    assert_eq!(reply["code"], "59506", "the second delete: {reply}");
    common::assert_deleted_once_after(&h, OKX, "SUB-A-1", 2);
}

#[tokio::test]
async fn a_master_creates_a_sub_account_key_and_the_reply_shows_its_secret_once() {
    let h = sim(Faults::default()).await;
    let body = r#"{"subAcct":"subalpha1","label":"bot-17","passphrase":"Rot4ted!Pass","perm":"read_only,trade","ip":"127.0.0.1,10.0.0.7"}"#;
    let (status, reply) = call(&h, "MASTER-BOUND", "POST", SUB_KEYS, body).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (200, Some("0")),
        "{reply}"
    );
    let data = reply["data"][0].as_object().expect("data[0]");
    let mut fields: Vec<&str> = data.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "apiKey",
            "ip",
            "label",
            "passphrase",
            "perm",
            "secretKey",
            "subAcct",
            "ts"
        ],
        "the documented response parameters"
    );
    assert_eq!(data["perm"], "read_only,trade");
    assert_eq!(data["ip"], "127.0.0.1,10.0.0.7");
    let api_key = data["apiKey"].as_str().unwrap();
    let held = h.exchange(OKX).keys.get(api_key).expect("a real key");
    assert_eq!(data["secretKey"], held.secret.as_str());
    assert_eq!(held.passphrase.as_deref(), Some("Rot4ted!Pass"));
    assert_eq!(held.sub_name.as_deref(), Some("subalpha1"));
    assert_eq!(data["ts"], held.created_at_ms.to_string());
    // The sub-key query shows it under its label, without its secret.
    let (_, listed) = get(
        &h,
        "MASTER-BOUND",
        &format!("{SUB_KEYS}?subAcct=subalpha1&apiKey={api_key}"),
    )
    .await;
    assert_eq!(listed["data"][0]["label"], "bot-17", "{listed}");
    assert!(listed["data"][0].get("secretKey").is_none(), "{listed}");
}

#[tokio::test]
async fn a_create_the_docs_refuse_creates_nothing() {
    let h = testkit::start_unlimited(
        OKX,
        [
            key(
                "MASTER-BOUND",
                "1000",
                &["read_only", "trade"],
                &["127.0.0.1"],
            ),
            key("MASTER-UNBOUND", "1000", &["read_only", "trade"], &["*"]),
            key("MASTER-READER", "1000", &["read_only"], &["127.0.0.1"]),
            key("SUB-A-1", "2000", &["read_only", "trade"], &["*"])
                .sub_of("1000")
                .in_sub_account("subalpha1"),
        ],
    )
    .await;
    let create = |label: &str, pass: &str, extra: &str| {
        format!(r#"{{"subAcct":"subalpha1","label":"{label}","passphrase":"{pass}"{extra}}}"#)
    };
    for (caller, body, code) in [
        ("MASTER-BOUND", create("", "Rot4ted!Pass", ""), "50014"),
        ("MASTER-BOUND", create("bot", "", ""), "50014"),
        // 8 to 32 characters, with lower, upper, digit and special.
        ("MASTER-BOUND", create("bot", "rotated4pass", ""), "51000"),
        ("MASTER-BOUND", create("bot", "R0t!", ""), "51000"),
        (
            "MASTER-BOUND",
            create("bot", "Rot4ted!Pass", r#","perm":"withdraw""#),
            "51000",
        ),
        (
            "MASTER-BOUND",
            create("bot", "Rot4ted!Pass", r#","ip":"203.**.1""#),
            "51000",
        ),
        (
            "MASTER-BOUND",
            r#"{"subAcct":"nosuchsub","label":"bot","passphrase":"Rot4ted!Pass"}"#.to_string(),
            "59510",
        ),
        ("MASTER-UNBOUND", create("bot", "Rot4ted!Pass", ""), "50035"),
        ("MASTER-READER", create("bot", "Rot4ted!Pass", ""), "50120"),
        ("SUB-A-1", create("bot", "Rot4ted!Pass", ""), "59500"),
    ] {
        let (_, reply) = call(&h, caller, "POST", SUB_KEYS, &body).await;
        assert_eq!(reply["code"], code, "{caller} {body}: {reply}");
    }
    assert_eq!(common::stats(&h, OKX).creates, 0);
}
