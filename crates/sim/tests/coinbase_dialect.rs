//! The Coinbase dialect, driven by hand-built requests that follow Coinbase's
//! CDP JWT documentation (not keyrevoke's connector): the simulator must
//! accept what the docs describe and refuse what they forbid, with HTTP 401
//! for anything wrong with the token and 429 past the documented limits.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{always_rate_limited, reply_lost_after_acting, unavailable_before_acting};
use keyrevoke_core::ExchangeId;
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::KeyState;
use keyrevoke_sim::testkit::{self, Answer, key, now_s};
use p256::ecdsa::signature::Signer as _;
use serde_json::{Value, json};

const PERMISSIONS: &str = "/api/v3/brokerage/key_permissions";
const TIME: &str = "/api/v3/brokerage/time";
const EC_KEY: &str = "organizations/3f1c0d2e-org/apiKeys/0a1b2c3d-ec";
const ED_KEY: &str = "organizations/3f1c0d2e-org/apiKeys/4e5f6a7b-ed";
const TRADE_KEY: &str = "organizations/3f1c0d2e-org/apiKeys/8c9d0e1f-trade";

/// The test keys' private halves.
enum Private {
    Ec(p256::ecdsa::SigningKey),
    Ed(ed25519_dalek::SigningKey),
}

impl Private {
    fn ec(fill: u8) -> Private {
        let scalar = [fill; 32];
        Private::Ec(p256::ecdsa::SigningKey::from_bytes(&scalar.into()).unwrap())
    }

    fn ed(fill: u8) -> Private {
        Private::Ed(ed25519_dalek::SigningKey::from_bytes(&[fill; 32]))
    }

    /// The secret as Coinbase hands it out: SEC1 PEM for EC, base64 of seed
    /// and public key for Ed25519.
    fn secret(&self) -> String {
        match self {
            Private::Ec(k) => p256::SecretKey::from(k)
                .to_sec1_pem(p256::pkcs8::LineEnding::LF)
                .unwrap()
                .to_string(),
            Private::Ed(k) => {
                STANDARD.encode([k.to_bytes().as_slice(), k.verifying_key().as_bytes()].concat())
            }
        }
    }

    fn alg(&self) -> &'static str {
        match self {
            Private::Ec(_) => "ES256",
            Private::Ed(_) => "EdDSA",
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Private::Ec(k) => {
                let s: p256::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            Private::Ed(k) => ed25519_dalek::Signer::sign(k, input).to_bytes().to_vec(),
        }
    }
}

/// A JWT exactly as the docs build it: header {alg, kid, nonce, typ},
/// claims {sub, iss, nbf, exp, uri}, compact JWS.
fn jwt(private: &Private, header: Value, claims: Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(private.sign(input.as_bytes()))
    )
}

/// The documented claims: `sub` issued by `iss`, valid for two minutes
/// from `now_s`, naming `uri`.
fn claims(sub: &str, iss: &str, now_s: i64, uri: &str) -> Value {
    json!({ "sub": sub, "iss": iss, "nbf": now_s, "exp": now_s + 120, "uri": uri })
}

/// The documented token for `kid` at `now_s`, naming `uri`.
fn token(private: &Private, kid: &str, now_s: i64, uri: &str) -> String {
    jwt(
        private,
        json!({ "alg": private.alg(), "kid": kid, "nonce": "9f86d081884c7d659a2feaa0c55ad015", "typ": "JWT" }),
        claims(kid, "cdp", now_s, uri),
    )
}

async fn sim(faults: Faults) -> SimHandle {
    // As a CDP JSON download carries it: newlines written as `\n`.
    let trade_pem = Private::ec(11).secret().replace('\n', "\\n");
    testkit::start(
        ExchangeId::new("coinbase"),
        faults,
        [
            key(EC_KEY, "u1", &["can_view", "can_trade", "can_transfer"])
                .with_secret(Private::ec(7).secret()),
            key(ED_KEY, "u2", &["can_view", "can_trade", "can_transfer"])
                .with_secret(Private::ed(9).secret()),
            key(TRADE_KEY, "u3", &["can_view", "can_trade"]).with_secret(trade_pem),
        ],
    )
    .await
}

/// `host:port` of the simulator, the host a token must name.
fn host(h: &SimHandle) -> String {
    h.urls[&ExchangeId::new("coinbase")]
        .trim_start_matches("http://")
        .to_string()
}

fn permissions_uri(h: &SimHandle) -> String {
    format!("GET {}{PERMISSIONS}", host(h))
}

async fn get(h: &SimHandle, path: &str, bearer: Option<&str>) -> Answer {
    get_at(
        reqwest::Client::new(),
        h.urls[&ExchangeId::new("coinbase")].clone(),
        path.to_string(),
        bearer.map(str::to_string),
    )
    .await
}

/// One GET per bearer (or none), all sent at once. One client for all: a
/// client per request builds its TLS setup each time, which on a busy
/// machine spread the "simultaneous" requests over several seconds.
async fn all_at_once(h: &SimHandle, path: &str, bearers: Vec<Option<String>>) -> Vec<Answer> {
    let base = h.urls[&ExchangeId::new("coinbase")].clone();
    let client = reqwest::Client::new();
    let tasks: Vec<_> = bearers
        .into_iter()
        .map(|b| tokio::spawn(get_at(client.clone(), base.clone(), path.to_string(), b)))
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers
}

async fn get_at(
    client: reqwest::Client,
    base: String,
    path: String,
    bearer: Option<String>,
) -> Answer {
    let mut req = client.get(format!("{base}{path}"));
    if let Some(t) = bearer {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    Answer::read(req.send().await.unwrap()).await
}

/// The HTTP status of a permissions read presenting `token`.
async fn permissions_status(h: &SimHandle, token: &str) -> u16 {
    get(h, PERMISSIONS, Some(token)).await.status
}

/// `kid`'s permissions, read with a token `private` signs now.
async fn probe(h: &SimHandle, private: &Private, kid: &str) -> Answer {
    let t = token(private, kid, now_s(), &permissions_uri(h));
    get(h, PERMISSIONS, Some(&t)).await
}

fn stats(h: &SimHandle) -> keyrevoke_sim::stats::StatsSnapshot {
    common::stats(h, ExchangeId::new("coinbase"))
}

#[tokio::test]
async fn an_es256_token_naming_the_requests_own_host_is_answered_with_the_keys_permissions() {
    let h = sim(Faults::default()).await;
    let a = probe(&h, &Private::ec(7), EC_KEY).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["can_view"], true);
    assert_eq!(a.body["can_trade"], true);
    assert_eq!(a.body["can_transfer"], true);
    assert_eq!(a.body["portfolio_type"], "DEFAULT");
    assert_eq!(
        a.body["portfolio_uuid"].as_str().unwrap().len(),
        36,
        "a UUID: {}",
        a.body
    );
    assert_eq!(a.headers["x-ratelimit-limit"], "30");
    assert_eq!(a.headers["x-ratelimit-remaining"], "29");
    assert!(a.headers.contains_key("x-ratelimit-reset"));
    assert_eq!(stats(&h).probes, 1);
}

#[tokio::test]
async fn an_eddsa_token_and_a_pem_kept_with_escaped_newlines_are_accepted() {
    let h = sim(Faults::default()).await;
    let a = probe(&h, &Private::ed(9), ED_KEY).await;
    assert_eq!(a.status, 200, "Ed25519: {}", a.body);
    let a = probe(&h, &Private::ec(11), TRADE_KEY).await;
    assert_eq!(a.status, 200, "an escaped PEM: {}", a.body);
    assert_eq!(
        a.body["can_transfer"], false,
        "a view+trade key cannot transfer"
    );
}

#[tokio::test]
async fn a_token_signed_by_another_key_or_with_the_wrong_algorithm_is_refused_with_401() {
    let h = sim(Faults::default()).await;
    let forged = probe(&h, &Private::ec(8), EC_KEY).await;
    assert_eq!(
        forged.status, 401,
        "another key's signature: {}",
        forged.body
    );
    assert_eq!(forged.body, Value::String("Unauthorized\n".into()));
    // An Ed25519 signature presented for an EC key.
    let wrong_alg = probe(&h, &Private::ed(9), EC_KEY).await;
    assert_eq!(wrong_alg.status, 401);
    assert_eq!(permissions_status(&h, "not.a.jwt").await, 401);
    assert_eq!(stats(&h).bad_signature, 3);
    assert_eq!(stats(&h).probes, 0, "nothing was answered");
}

#[tokio::test]
async fn claims_must_name_the_key_and_the_cdp_issuer_and_the_header_a_nonce() {
    let h = sim(Faults::default()).await;
    let key = Private::ec(7);
    let now = now_s();
    let uri = permissions_uri(&h);
    let header = json!({ "alg": "ES256", "kid": EC_KEY, "nonce": "ab12", "typ": "JWT" });
    let other_sub = jwt(&key, header.clone(), claims(ED_KEY, "cdp", now, &uri));
    assert_eq!(
        permissions_status(&h, &other_sub).await,
        401,
        "sub must be the key name"
    );
    // The issuer of the retired Coinbase Cloud keys.
    let old_iss = jwt(
        &key,
        header.clone(),
        claims(EC_KEY, "coinbase-cloud", now, &uri),
    );
    assert_eq!(
        permissions_status(&h, &old_iss).await,
        401,
        "iss must be cdp"
    );
    let no_nonce = jwt(
        &key,
        json!({ "alg": "ES256", "kid": EC_KEY, "typ": "JWT" }),
        claims(EC_KEY, "cdp", now, &uri),
    );
    assert_eq!(
        permissions_status(&h, &no_nonce).await,
        401,
        "the header carries a nonce"
    );
    let good = jwt(&key, header, claims(EC_KEY, "cdp", now, &uri));
    assert_eq!(permissions_status(&h, &good).await, 200);
}

#[tokio::test]
async fn a_token_outside_its_nbf_exp_window_is_refused_with_401() {
    let h = sim(Faults::default()).await;
    let key = Private::ed(9);
    let uri = permissions_uri(&h);
    let expired = token(&key, ED_KEY, now_s() - 121, &uri);
    assert_eq!(
        permissions_status(&h, &expired).await,
        401,
        "its two minutes are over"
    );
    let early = token(&key, ED_KEY, now_s() + 5, &uri);
    assert_eq!(
        permissions_status(&h, &early).await,
        401,
        "not valid before nbf"
    );
    assert_eq!(stats(&h).stale_timestamp, 2);
    let fresh = token(&key, ED_KEY, now_s() - 100, &uri);
    assert_eq!(
        permissions_status(&h, &fresh).await,
        200,
        "still inside its two minutes"
    );
}

#[tokio::test]
async fn a_token_naming_another_host_method_or_path_is_refused_with_401() {
    let h = sim(Faults::default()).await;
    let key = Private::ed(9);
    let now = now_s();
    for uri in [
        format!("GET api.coinbase.com{PERMISSIONS}"),
        format!("POST {}{PERMISSIONS}", host(&h)),
        format!("GET {}{TIME}", host(&h)),
        format!("GET http://{}{PERMISSIONS}", host(&h)),
    ] {
        let t = token(&key, ED_KEY, now, &uri);
        assert_eq!(permissions_status(&h, &t).await, 401, "uri `{uri}`");
    }
}

#[tokio::test]
async fn an_unknown_or_deleted_key_is_refused_with_401() {
    let h = sim(Faults::default()).await;
    let key = Private::ec(7);
    let unknown = probe(&h, &key, "organizations/x/apiKeys/never-issued").await;
    assert_eq!(unknown.status, 401);
    h.exchange(ExchangeId::new("coinbase"))
        .keys
        .update(EC_KEY, |k| k.state = KeyState::Deleted);
    let a = probe(&h, &key, EC_KEY).await;
    assert_eq!(a.status, 401, "a key deleted in the portal: {}", a.body);
    assert_eq!(stats(&h).unknown_key, 2);
}

#[tokio::test]
async fn no_bearer_token_is_401_and_no_endpoint_deletes_or_disables_a_key() {
    let h = sim(Faults::default()).await;
    assert_eq!(get(&h, PERMISSIONS, None).await.status, 401);
    assert_eq!(stats(&h).missing_auth, 1);
    // Keys are managed in the CDP portal only: no such calls exist.
    let base = &h.urls[&ExchangeId::new("coinbase")];
    let client = reqwest::Client::new();
    let t = token(&Private::ec(7), EC_KEY, now_s(), &permissions_uri(&h));
    let attempts = [
        client.delete(format!("{base}{PERMISSIONS}")),
        client.post(format!("{base}/api/v3/brokerage/api_keys/delete")),
        client.delete(format!(
            "{base}/api/v3/brokerage/api_keys/{}",
            "0a1b2c3d-ec"
        )),
    ];
    for req in attempts {
        let r = req
            .header("Authorization", format!("Bearer {t}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
    }
    assert_eq!(stats(&h).unknown_endpoint, 3);
    assert_eq!(
        testkit::state(&h, ExchangeId::new("coinbase"), EC_KEY),
        KeyState::Alive
    );
}

#[tokio::test]
async fn the_server_time_is_public_with_its_epochs_written_as_strings() {
    let h = sim(Faults::default()).await;
    let a = get(&h, TIME, None).await;
    assert_eq!(a.status, 200);
    let secs: i64 = a.body["epochSeconds"]
        .as_str()
        .expect("a string")
        .parse()
        .unwrap();
    let millis: i64 = a.body["epochMillis"]
        .as_str()
        .expect("a string")
        .parse()
        .unwrap();
    assert_eq!(millis / 1000, secs);
    assert!((secs - now_s()).abs() <= 2);
    assert!(a.body["iso"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_per_user_limit_answers_429_with_its_headers() {
    let h = sim(Faults::default()).await;
    let key = Private::ed(9);
    let uri = permissions_uri(&h);
    // 70 calls at once fall in at most two one-second windows: one of them
    // holds more than 30.
    let tokens: Vec<String> = (0..70)
        .map(|_| token(&key, ED_KEY, now_s(), &uri))
        .collect();
    let answers = all_at_once(&h, PERMISSIONS, tokens.into_iter().map(Some).collect()).await;
    assert!(
        answers.iter().all(|a| a.status == 200 || a.status == 429),
        "only answers or refusals"
    );
    let a = answers
        .into_iter()
        .find(|a| a.status == 429)
        .expect("more than 30 calls in one second are refused");
    assert_eq!(a.headers["x-ratelimit-limit"], "30");
    assert_eq!(a.headers["x-ratelimit-remaining"], "0");
    let reset: i64 = a.headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (reset - now_s()).abs() <= 2,
        "the window ends within a second: {reset}"
    );
    assert_eq!(a.body["error"], "RESOURCE_EXHAUSTED");
    // Another user has a budget of their own.
    assert_eq!(probe(&h, &Private::ec(7), EC_KEY).await.status, 200);
}

#[tokio::test]
async fn the_public_per_ip_limit_answers_429_and_bans_nobody() {
    let h = sim(Faults::default()).await;
    let answers = all_at_once(&h, TIME, vec![None; 25]).await;
    let limited = answers.iter().filter(|a| a.status == 429).count();
    assert!(
        limited >= 1,
        "more than 10 public calls in a second are refused"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        get(&h, TIME, None).await.status,
        200,
        "a second later the IP may call again"
    );
    assert!(stats(&h).rate_limited >= 1);
    assert_eq!(stats(&h).ip_banned, 0);
}

#[tokio::test]
async fn injected_faults_answer_503_before_and_504_after() {
    let h = sim(unavailable_before_acting()).await;
    assert_eq!(probe(&h, &Private::ed(9), ED_KEY).await.status, 503);
    assert_eq!(stats(&h).probes, 0);
    let h = sim(reply_lost_after_acting()).await;
    assert_eq!(probe(&h, &Private::ed(9), ED_KEY).await.status, 504);
    assert_eq!(stats(&h).probes, 1, "answered, then the reply was lost");
    let h = sim(always_rate_limited()).await;
    let a = probe(&h, &Private::ed(9), ED_KEY).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["x-ratelimit-remaining"], "0");
}

#[test]
fn a_pem_secret_with_real_newlines_survives_the_generated_inventory_csv() {
    use keyrevoke_sim::generate::{InventoryRow, Population};
    let pem = Private::ec(7).secret();
    assert!(pem.contains('\n'));
    let mut pop = Population::default();
    pop.rows.push(InventoryRow {
        exchange: ExchangeId::new("coinbase"),
        api_key: EC_KEY.into(),
        api_secret: Some(pem.clone()),
        passphrase: None,
        account: None,
        via: None,
        label: "ops, \"night shift\"".into(),
    });
    let path =
        std::env::temp_dir().join(format!("keyrevoke-coinbase-csv-{}.csv", std::process::id()));
    pop.write_inventory(&path).unwrap();
    let inventory =
        keyrevoke_core::inventory::Inventory::open(&path, &keyrevoke_sim::dialects::names())
            .unwrap();
    let rows: Vec<_> = inventory.rows().unwrap().collect();
    std::fs::remove_file(&path).ok();
    assert_eq!(
        rows.len(),
        1,
        "one row, however many lines its secret spans"
    );
    let row = rows.into_iter().next().unwrap().expect("the row parses");
    assert_eq!(row.label.as_deref(), Some("ops, \"night shift\""));
    let material = row.material(&path).unwrap();
    assert_eq!(
        material.api_secret.unwrap().expose(),
        pem.trim_end(),
        "the PEM comes back whole"
    );
}

#[test]
fn generated_coinbase_keys_carry_real_key_pairs_and_generate_fast() {
    let started = std::time::Instant::now();
    let pop = keyrevoke_sim::generate::Population::breach(&[ExchangeId::new("coinbase")], 2000, 5);
    let keys = &pop.keys[&ExchangeId::new("coinbase")];
    assert!(keys.len() >= 2000);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "2000 keys took {:?}",
        started.elapsed()
    );
    let pems = keys
        .iter()
        .filter(|k| k.secret.starts_with("-----BEGIN EC PRIVATE KEY-----"))
        .count();
    assert!(
        pems > 0 && pems < keys.len(),
        "both EC ({pems}) and Ed25519 keys"
    );
    assert!(
        keys.iter().all(|k| !k.secret.contains('\n')),
        "one line each: CSV and TOML safe"
    );
}
