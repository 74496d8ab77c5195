//! The KuCoin connector against the simulator's KuCoin dialect.

use keyrevoke_core::endpoint::Method;
use keyrevoke_core::error::LimitScope;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::hmac_sha256_base64;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, KeyMaterial,
    Liveness, Route, Secret,
};
use keyrevoke_kucoin::KucoinConnector;
use keyrevoke_kucoin::endpoints;
use keyrevoke_kucoin::sign::{DEFAULT_KEY_VERSION, HEADER_KEY_VERSION, Signer, prehash};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance;
use keyrevoke_sim::conformance::signing::{self, Captured, Published, Signing};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, secret_of};
use std::sync::Arc;
use std::time::Duration;

const MASTER: &str = "MASTER00000000000000001";
const TRANSFER_KEY: &str = "OWNKEY00000000000000001";
const TRADER: &str = "TRADER00000000000000001";
const SUB: &str = "SUBKEY00000000000000001";
/// Due for rotation: 120 days old, unbound.
const SUB_DUE: &str = "SUBROT00000000000000001";
/// Due for rotation and bound to IPs, which KuCoin shows masked.
const SUB_BOUND: &str = "SUBIPS00000000000000001";
/// A master key of account 1000 without "General".
const MASTER_NO_GENERAL: &str = "MSPOT000000000000000001";
const SUB_ODD_PASS: &str = "SUBKEY00000000000000002";

/// A test key with its passphrase.
fn sim_key(api_key: &str, uid: &str, perms: &[&str]) -> SimKey {
    testkit::key(api_key, uid, perms).with_passphrase(passphrase_of(api_key))
}

/// Each key's passphrase; one needs URL-encoding in a query string.
fn passphrase_of(api_key: &str) -> &'static str {
    match api_key {
        SUB_ODD_PASS => "abc!@#11&=x",
        _ => "Passphrase1",
    }
}

/// The keys every Kucoin case starts from.
fn keys() -> Vec<SimKey> {
    vec![
        sim_key(MASTER, "1000", &["General", "Spot"]),
        sim_key(TRANSFER_KEY, "1001", &["General", "Spot", "Transfer"]),
        sim_key(TRADER, "1002", &["General", "Spot"]),
        sim_key(SUB, "2000", &["General", "Spot"])
            .sub_of("1000")
            .in_sub_account("kcsub001"),
        sim_key(SUB_ODD_PASS, "2000", &["General"])
            .sub_of("1000")
            .in_sub_account("kcsub001"),
        sim_key(SUB_DUE, "2000", &["General", "Spot", "Futures"])
            .sub_of("1000")
            .in_sub_account("kcsub001")
            .labelled("bot-17")
            .created_days_ago(120),
        sim_key(SUB_BOUND, "2000", &["General", "Spot"])
            .sub_of("1000")
            .in_sub_account("kcsub001")
            .labelled("bot-18")
            .bound_to(&["127.0.0.1", "203.0.113.7"])
            .created_days_ago(120),
        sim_key(MASTER_NO_GENERAL, "1000", &["Spot"]),
    ]
}

struct Kucoin;

impl conformance::Subject for Kucoin {
    type Connector = KucoinConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_kucoin::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> KucoinConnector {
        testkit::connector(h, Self::exchange(), KucoinConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        sub_row(SUB)
    }

    fn rotation() -> Option<conformance::Rotation> {
        Some(conformance::Rotation {
            old: sub_row(SUB_DUE),
            // The create needs "General" (create-sub-account-api).
            unpermitted: (*credential(MASTER_NO_GENERAL, CredentialRole::Master, true)).clone(),
            // 7 to 32 characters, no spaces.
            passphrase: Some("Rotated-Pass-17"),
            // Weight 20 of a Management pool of 2000 per 30 s: a burst
            // never meets it.
            creates_per_second: None,
            copies_ips: false,
        })
    }

    /// The legacy docs' published example (github.com/Kucoin/kucoin-api-docs,
    /// `source/localizable/index.html.md`, "Signing a Message") and the
    /// official SDK's own unit test (kucoin-universal-sdk,
    /// `internal/infra/test_default_signer.py`, `test_sign`); then ccxt
    /// 4.5.90's requests (test_data/ccxt_vectors.json) and the official
    /// Python SDK's (test_data/official_client_vectors.json), rebuilt from
    /// the connector's endpoint table and parameter builders.
    fn signing() -> Signing {
        let message = prehash(
            1547015186532,
            &Method::POST,
            "/api/v1/deposit-addresses",
            "",
            r#"{"currency":"BTC"}"#,
        );
        Signing {
            published: vec![
                Published {
                    source: "kucoin-api-docs, \"Signing a Message\"",
                    ours: hmac_sha256_base64("f03a5284-5c39-4aaa-9b20-dea10bdcf8e3", &message),
                    documented: "7QP/oM0ykidMdrfNEUmng8eZjg/ZvPafjIqmxiVfYu4=",
                },
                Published {
                    source: "kucoin-universal-sdk, test_default_signer.py, test_sign",
                    ours: hmac_sha256_base64("test_api_secret", "test_plain"),
                    documented: "jie/gxS38wLFFaBwl/cAzFbAzlI8MIny96jSXrB+iP4=",
                },
            ],
            captured: vec![
                Captured {
                    file: "test_data/ccxt_vectors.json",
                    json: include_str!("../test_data/ccxt_vectors.json"),
                    origin: ORIGIN,
                    // Neither client sends a Content-Type without a body;
                    // we send it on every request, which KuCoin accepts.
                    ignore_headers: &["Content-Type"],
                    build: vector_request,
                },
                Captured {
                    file: "test_data/official_client_vectors.json",
                    json: include_str!("../test_data/official_client_vectors.json"),
                    origin: ORIGIN,
                    ignore_headers: &["Content-Type"],
                    build: vector_request,
                },
            ],
        }
    }
}

const ORIGIN: &str = "https://api.kucoin.com";

/// A vector's request, built by the connector's endpoint table and
/// parameter builders, with the key version the client announced (the
/// official SDK says 3, ccxt 2; both sign the passphrase alike). The
/// official SDK's disable body carries `"expire":"-1"`, the documented
/// default that ours leaves out: the same request (`signing::body_as_sent`).
fn vector_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (sub_key, sub) = ("5e1b5c1d2f3a4b5c6d7e8f90", "kcsub001");
    let what = v["what"].as_str()?;
    let (endpoint, params, body) = if what.starts_with("master deletes a sub key whose passphrase")
    {
        (
            &endpoints::DELETE_SUB_KEY,
            endpoints::delete_sub_key_params(sub_key, sub, "abc!@#11").to_vec(),
            None,
        )
    } else if what.starts_with("master deletes a sub key") {
        (
            &endpoints::DELETE_SUB_KEY,
            endpoints::delete_sub_key_params(sub_key, sub, "subPass123").to_vec(),
            None,
        )
    } else if what.starts_with("master disables a sub key") {
        (
            &endpoints::UPDATE_SUB_KEY,
            vec![],
            Some(endpoints::disable_sub_key_body(sub_key, sub, "subPass123")),
        )
    } else if what.starts_with("master lists a sub account's keys") {
        (
            &endpoints::LIST_SUB_KEYS,
            endpoints::list_sub_key_params(sub, sub_key).to_vec(),
            None,
        )
    } else if what.starts_with("liveness probe") {
        (&endpoints::QUERY_KEY, vec![], None)
    } else {
        return None;
    };
    let body = signing::body_as_sent(body, v, |json| {
        if let Some(fields) = json.as_object_mut()
            && fields.get("expire").and_then(|e| e.as_str()) == Some("-1")
        {
            fields.remove("expire");
        }
    });
    let (api_key, secret, passphrase) = signing::credentials(v);
    let (secret, passphrase) = (Secret::from(secret), Secret::from(passphrase?));
    let announced = v["request"]["headers"][HEADER_KEY_VERSION].as_str();
    let signer = Signer {
        api_key,
        secret: &secret,
        passphrase: &passphrase,
        key_version: if announced == Some("3") {
            "3"
        } else {
            DEFAULT_KEY_VERSION
        },
    };
    Some(signer.sign(
        endpoint.method.clone(),
        endpoint.path,
        &params,
        body.as_deref(),
        signing::clock_ms(v),
    ))
}

#[tokio::test]
async fn a_bound_key_is_described_with_its_masked_ips_and_its_copy_refused_before_sending() {
    use keyrevoke_core::rotation::CreateKey;
    let (h, c) = setup(Faults::default()).await;
    let master = credential(MASTER, CredentialRole::Master, true);
    let described = c
        .describe_key(&master, "kcsub001", SUB_BOUND)
        .await
        .expect("the master lists the key");
    assert_eq!(described.shape.ips, ["127.**.1", "203.**.7"]);
    assert_eq!(described.shape.label.as_deref(), Some("bot-18"));
    let sent = c.requests_sent();
    let refused = c
        .create_key(
            &master,
            &CreateKey {
                account: "kcsub001".into(),
                shape: described.shape,
                label: "rotated-bot-18".into(),
                passphrase: Some(Secret::from("Rotated-Pass-18")),
            },
        )
        .await
        .expect_err("masked IPs cannot be copied");
    assert!(refused.to_string().contains("masked"), "{refused}");
    assert_eq!(c.requests_sent(), sent, "nothing was sent");
    let sim = h.exchange(keyrevoke_kucoin::EXCHANGE.id);
    assert_eq!(
        sim.stats.creates.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Kucoin>().await;
}

async fn setup(faults: Faults) -> (SimHandle, KucoinConnector) {
    let h = testkit::start(keyrevoke_kucoin::EXCHANGE.id, faults, keys()).await;
    let conn = testkit::connector(&h, keyrevoke_kucoin::EXCHANGE.id, KucoinConnector::new);
    (h, conn)
}

fn credential(api_key: &str, role: CredentialRole, with_passphrase: bool) -> Arc<Credential> {
    Arc::new(Credential {
        name: "m".into(),
        exchange: keyrevoke_kucoin::EXCHANGE.id,
        api_key: api_key.into(),
        api_secret: Secret::new(secret_of(api_key)),
        passphrase: with_passphrase.then(|| Secret::from(passphrase_of(api_key))),
        role,
    })
}

struct Row<'a> {
    api_key: &'a str,
    with_secret: bool,
    with_passphrase: bool,
    account: Option<&'a str>,
    via: Option<Arc<Credential>>,
}

impl Row<'_> {
    fn job(&self) -> KeyJob {
        KeyJob::new(
            KeyMaterial {
                exchange: keyrevoke_kucoin::EXCHANGE.id,
                api_key: self.api_key.into(),
                api_secret: self
                    .with_secret
                    .then(|| Secret::new(secret_of(self.api_key))),
                passphrase: self
                    .with_passphrase
                    .then(|| Secret::from(passphrase_of(self.api_key))),
                account: self.account.map(str::to_string),
                label: None,
            },
            self.via.clone(),
        )
    }
}

/// A sub key known by id, sub account and passphrase, managed by the master.
fn sub_row(api_key: &str) -> KeyJob {
    Row {
        api_key,
        with_secret: false,
        with_passphrase: true,
        account: Some("kcsub001"),
        via: Some(credential(MASTER, CredentialRole::Master, true)),
    }
    .job()
}

/// A key whose own secret and passphrase are known, and nothing else.
fn own_row(api_key: &str) -> KeyJob {
    Row {
        api_key,
        with_secret: true,
        with_passphrase: true,
        account: None,
        via: None,
    }
    .job()
}

fn state(h: &SimHandle, k: &str) -> KeyState {
    testkit::state(h, keyrevoke_kucoin::EXCHANGE.id, k)
}

#[tokio::test]
async fn a_master_deletes_a_sub_key_and_its_listing_then_says_dead() {
    let (h, c) = setup(Faults::default()).await;
    let j = sub_row(SUB);
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByMaster,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    assert!(c.can_probe(&j));
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Alive);
    let reply = c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(reply.meta.code.as_deref(), Some("200000"));
    let usage = reply.usage.first().expect("the pool headers are fed back");
    assert_eq!(usage.scope, LimitScope::Account);
    assert_eq!(
        usage.remaining,
        Some((2000 - 20 - 30) / 30),
        "one listing (20) and one delete (30) spent: what is left, in deletes of 30"
    );
    assert_eq!(state(&h, SUB), KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn a_sub_key_deleted_twice_is_refused_and_its_probes_say_dead() {
    let (_h, c) = setup(Faults::default()).await;
    let j = sub_row(SUB);
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    // KuCoin documents no code for this: a permanent refusal, which the
    // executor answers with a probe (already_dead).
    let again = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(
        matches!(again.error, ConnectorError::Permanent { .. }),
        "{again:?}"
    );
    assert_eq!(
        c.probe(&j).await.unwrap().liveness,
        Liveness::Dead,
        "the master's listing"
    );
    let own = c.probe(&own_row(SUB)).await.unwrap();
    assert_eq!(own.liveness, Liveness::Dead, "the key's own probe: 400003");
    assert_eq!(own.meta.code.as_deref(), Some("400003"));
}

#[tokio::test]
async fn a_sub_passphrase_that_needs_url_encoding_still_deletes() {
    let (h, c) = setup(Faults::default()).await;
    c.perform(Route::DeleteByMaster, &sub_row(SUB_ODD_PASS))
        .await
        .expect("deleted");
    assert_eq!(state(&h, SUB_ODD_PASS), KeyState::Deleted);
}

#[tokio::test]
async fn a_wrong_sub_passphrase_deletes_nothing() {
    let (h, c) = setup(Faults::default()).await;
    let mut j = sub_row(SUB);
    j.key.passphrase = Some(Secret::from("notThePassphrase"));
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Permanent { .. }), "{f:?}");
    assert_eq!(state(&h, SUB), KeyState::Alive);
}

#[tokio::test]
async fn a_master_disables_a_sub_key_by_binding_it_to_an_unroutable_ip() {
    let (h, c) = setup(Faults::default()).await;
    c.perform(Route::DisableByMaster, &sub_row(SUB))
        .await
        .expect("disabled");
    let k = h
        .exchange(keyrevoke_kucoin::EXCHANGE.id)
        .keys
        .get(SUB)
        .unwrap();
    assert!(k.read_only);
    assert_eq!(k.permissions, vec!["General".to_string()]);
    assert_eq!(k.ips, vec!["192.0.2.1".to_string()]);
    let own = c.probe(&own_row(SUB)).await.unwrap();
    assert_eq!(
        own.liveness,
        Liveness::Alive,
        "alive, but unusable from anywhere but 192.0.2.1"
    );
    assert_eq!(own.permissions, vec!["ip_restricted".to_string()]);
}

#[tokio::test]
async fn the_own_probe_tells_which_keys_can_move_funds() {
    let (_h, c) = setup(Faults::default()).await;
    let mover = c.probe(&own_row(TRANSFER_KEY)).await.unwrap();
    assert_eq!(mover.liveness, Liveness::Alive);
    assert_eq!(mover.can_move_funds, Some(true), "{:?}", mover.permissions);
    let trader = c.probe(&own_row(TRADER)).await.unwrap();
    assert_eq!(trader.can_move_funds, Some(false));
    assert_eq!(
        trader.permissions,
        vec!["General".to_string(), "Spot".to_string()]
    );
}

#[tokio::test]
async fn a_leaked_master_key_cannot_delete_itself_and_is_escalated() {
    let (h, c) = setup(Faults::default()).await;
    let j = own_row(MASTER);
    assert_eq!(c.routes(&j), vec![Route::Escalate]);
    let f = c.perform(Route::DeleteSelf, &j).await.unwrap_err();
    assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}");
    assert_eq!(
        h.exchange(keyrevoke_kucoin::EXCHANGE.id)
            .stats
            .snapshot()
            .requests,
        0,
        "nothing was sent"
    );
    let contact = c.escalation_contact();
    assert!(
        contact
            .api_management_page
            .starts_with("https://www.kucoin.com/")
    );
}

#[tokio::test]
async fn check_names_the_fields_a_master_route_needs() {
    let (_h, c) = setup(Faults::default()).await;
    let no_passphrase = Row {
        api_key: SUB,
        with_secret: false,
        with_passphrase: false,
        account: Some("kcsub001"),
        via: Some(credential(MASTER, CredentialRole::Master, true)),
    }
    .job();
    let problems = c.check(&no_passphrase);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "passphrase");
    assert_eq!(
        problems[0].message,
        "KuCoin requires the sub key's own passphrase to delete it"
    );
    assert_eq!(c.routes(&no_passphrase), vec![Route::Escalate]);

    let no_account = Row {
        api_key: SUB,
        with_secret: false,
        with_passphrase: true,
        account: None,
        via: Some(credential(MASTER, CredentialRole::Master, true)),
    }
    .job();
    assert_eq!(c.check(&no_account)[0].field, "account");

    let broker = Row {
        api_key: SUB,
        with_secret: false,
        with_passphrase: true,
        account: Some("kcsub001"),
        via: Some(credential(MASTER, CredentialRole::Broker, true)),
    }
    .job();
    let problems = c.check(&broker);
    assert_eq!(problems[0].field, "via", "{problems:?}");
    assert_eq!(c.routes(&broker), vec![Route::Escalate]);

    let master_without_passphrase = Row {
        api_key: SUB,
        with_secret: false,
        with_passphrase: true,
        account: Some("kcsub001"),
        via: Some(credential(MASTER, CredentialRole::Master, false)),
    }
    .job();
    assert_eq!(c.check(&master_without_passphrase)[0].field, "via");
}

#[tokio::test]
async fn a_dead_managing_credential_does_not_make_the_key_look_dead() {
    let (h, c) = setup(Faults::default()).await;
    let mut j = sub_row(SUB);
    j.via = Some(credential(
        "GONE0000000000000000001",
        CredentialRole::Master,
        true,
    ));
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(
        matches!(f.error, ConnectorError::Permanent { .. }),
        "not KeyDead: {f:?}"
    );
    assert_eq!(f.meta.code.as_deref(), Some("400003"));
    assert!(c.probe(&j).await.is_err(), "the listing cannot tell either");
    assert_eq!(state(&h, SUB), KeyState::Alive);
}

#[tokio::test]
async fn a_spent_pool_is_a_rate_limit_on_the_account_with_the_reset_countdown() {
    let (_h, c) = setup(Faults {
        rate_limited: 1.0,
        ..Faults::default()
    })
    .await;
    let f = c
        .perform(Route::DeleteByMaster, &sub_row(SUB))
        .await
        .unwrap_err();
    assert_eq!(
        f.error,
        ConnectorError::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
            scope: LimitScope::Account
        }
    );
    assert_eq!(f.usage.first().and_then(|u| u.remaining), Some(0));
}

#[tokio::test]
async fn nothing_a_connector_reports_carries_a_secret_or_passphrase() {
    let (_h, c) = setup(Faults::default()).await;
    let mut j = sub_row(SUB);
    j.key.passphrase = Some(Secret::from("notThePassphrase"));
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    let text = format!("{f:?} {f} {j:?}");
    for secret in ["notThePassphrase", "Passphrase1", "-secret"] {
        assert!(!text.contains(secret), "`{secret}` leaked: {text}");
    }
}

#[tokio::test]
async fn a_master_lists_its_sub_accounts_page_by_page_then_each_ones_keys() {
    use keyrevoke_core::discovery::PageRequest;
    let (h, conn) = setup(Faults::default()).await;
    // 100 more sub accounts: with kcsub001, one more than a page of the
    // documented maximum (pageSize 100).
    for i in 0..100 {
        let k = sim_key(
            &format!("PAGED{i:03}"),
            &format!("{}", 3000 + i),
            &["General"],
        )
        .sub_of("1000")
        .in_sub_account(&format!("paged{i:03}"))
        .labelled(&format!("bot-{i}"));
        h.exchange(keyrevoke_kucoin::EXCHANGE.id).keys.insert(k);
    }
    let master = credential(MASTER, CredentialRole::Master, true);
    let first = conn.discover(&master, &PageRequest::start()).await.unwrap();
    assert_eq!(first.accounts.len(), 100, "a full page");
    assert_eq!(first.next.as_deref(), Some("2"));
    let second = conn
        .discover(&master, &PageRequest::start().continued("2".into()))
        .await
        .unwrap();
    assert_eq!(second.accounts.len(), 1);
    assert_eq!(second.next, None);
    let keys = conn
        .discover(&master, &PageRequest::keys_of("paged042"))
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].api_key, "PAGED042");
    assert_eq!(keys.keys[0].label.as_deref(), Some("bot-42"));
    let both = conn
        .discover(&master, &PageRequest::keys_of("kcsub001"))
        .await
        .unwrap();
    // Every key of the fixture's sub account: two plain, two to rotate.
    assert_eq!(both.keys.len(), 4);
    // Each listing reports the Management pool it spent from.
    assert!(
        both.reply
            .usage
            .iter()
            .any(|u| u.scope == LimitScope::Account)
    );
}

#[tokio::test]
async fn a_discovered_sub_key_without_its_passphrase_is_escalated_with_the_page_to_delete_it() {
    let (_h, conn) = setup(Faults::default()).await;
    let found = KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_kucoin::EXCHANGE.id,
            api_key: SUB.into(),
            api_secret: None,
            passphrase: None,
            account: Some("kcsub001".into()),
            label: None,
        },
        Some(credential(MASTER, CredentialRole::Master, true)),
    );
    assert_eq!(conn.routes(&found), vec![Route::Escalate]);
    let why = conn.escalation_reason(&found).expect("a reason");
    assert!(
        why.contains("sub account `kcsub001`") && why.contains("--inventory"),
        "{why}"
    );
}
