//! The Bitget connector against the simulator's Bitget dialect: the shared
//! connector cases, then Bitget's own.

use keyrevoke_bitget::BitgetConnector;
use keyrevoke_bitget::endpoints;
use keyrevoke_bitget::sign::{Signer, prehash};
use keyrevoke_core::discovery::{ListKind, PageRequest};
use keyrevoke_core::endpoint::Method;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, KeyMaterial,
    Liveness, Route, Secret,
};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance::{
    self,
    signing::{self, Captured, Published, Signing},
};
use keyrevoke_sim::dialects::bitget::{CLASSIC, ND_BROKER, UTA_MGT};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key, secret_of};
use std::sync::Arc;

const MASTER: &str = "bg_MASTER0000000000000000000000001";
const SUB: &str = "bg_SUBKEY0000000000000000000000001";
const OTHER_SUB: &str = "bg_SUBKEY0000000000000000000000002";
/// A main account whose key may not manage sub accounts: no unified
/// account management, and bound to no IP (the v2 calls require one).
const READER: &str = "bg_READER0000000000000000000000001";
const BROKER: &str = "bg_BROKER0000000000000000000000001";
const BROKER_SUB: &str = "bg_BROKERSUB000000000000000000001";
/// A key of a classic account's sub account, which the v3 delete refuses.
const CLASSIC_SUB: &str = "bg_CLASSIC0000000000000000000001";
const CLASSIC_ACCOUNT: &str = "510002";
const MASTER_UID: &str = "500000";
const SUB_ACCOUNT: &str = "510001";
const BROKER_UID: &str = "530000";
const BROKER_SUB_ACCOUNT: &str = "530001";

/// Every test key's passphrase, derived from its id as its secret is.
fn passphrase_of(api_key: &str) -> String {
    format!("{}Pass1", &api_key[3..9])
}

fn bitget_key(api_key: &str, uid: &str, permissions: &[&str]) -> SimKey {
    key(api_key, uid, permissions).with_passphrase(passphrase_of(api_key))
}

fn keys() -> Vec<SimKey> {
    vec![
        bitget_key(
            MASTER,
            MASTER_UID,
            &[UTA_MGT, "read", "spot_trade", "transfer"],
        )
        .bound_to(&["127.0.0.1"]),
        bitget_key(SUB, SUB_ACCOUNT, &["read", "spot_trade", "wallet_withdraw"])
            .sub_of(MASTER_UID)
            .labelled("bot-1")
            .bound_to(&["127.0.0.1", "203.0.113.7"]),
        bitget_key(OTHER_SUB, SUB_ACCOUNT, &["read", "spot_trade"])
            .sub_of(MASTER_UID)
            .labelled("bot-2"),
        bitget_key(READER, "520000", &["read", "spot_trade"]),
        bitget_key(BROKER, BROKER_UID, &[ND_BROKER]).bound_to(&["127.0.0.1"]),
        bitget_key(BROKER_SUB, BROKER_SUB_ACCOUNT, &["read", "spot_trade"]).sub_of(BROKER_UID),
        bitget_key(CLASSIC_SUB, CLASSIC_ACCOUNT, &[CLASSIC, "read", "transfer"])
            .sub_of(MASTER_UID)
            .labelled("classic-bot"),
    ]
}

fn credential(api_key: &str, role: CredentialRole) -> Arc<Credential> {
    Arc::new(Credential {
        name: "bitget-main".into(),
        exchange: keyrevoke_bitget::EXCHANGE.id,
        api_key: api_key.into(),
        api_secret: Secret::new(secret_of(api_key)),
        passphrase: Some(Secret::new(passphrase_of(api_key))),
        role,
    })
}

/// A row: the key's own secret if `own_secret`, its passphrase if
/// `passphrase`, managed through `via`'s master credential in `account`.
fn row(
    api_key: &str,
    own_secret: bool,
    passphrase: bool,
    via: Option<&str>,
    account: Option<&str>,
) -> KeyJob {
    KeyJob::new(
        KeyMaterial {
            exchange: keyrevoke_bitget::EXCHANGE.id,
            api_key: api_key.into(),
            api_secret: own_secret.then(|| Secret::new(secret_of(api_key))),
            passphrase: passphrase.then(|| Secret::new(passphrase_of(api_key))),
            account: account.map(str::to_string),
            label: None,
        },
        via.map(|v| credential(v, CredentialRole::Master)),
    )
}

struct Bitget;

impl conformance::Subject for Bitget {
    type Connector = BitgetConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_bitget::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> BitgetConnector {
        testkit::connector(h, Self::exchange(), BitgetConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    /// With the sub key's passphrase, which the disable (the modify) needs.
    fn managed_row() -> KeyJob {
        row(SUB, false, true, Some(MASTER), Some(SUB_ACCOUNT))
    }

    /// Bitget documents no IP ban beyond its 429.
    fn documents_ip_ban() -> bool {
        false
    }

    /// The one example `exchanges/bitget.md` quotes from Bitget's
    /// signature page (a prehash; no signature is published), and ccxt
    /// 4.5.90's requests for the calls keyrevoke makes
    /// (test_data/ccxt_vectors.json, from ../shared/vectors/bitget.json).
    fn signing() -> Signing {
        Signing {
            published: vec![Published {
                source: "bitget.com/api-doc/common/signature, the GET example",
                ours: prehash(
                    &Method::GET,
                    "/api/mix/v2/market/depth",
                    "limit=20&symbol=BTCUSDT",
                    "",
                    16_273_667_805_456,
                ),
                documented: "16273667805456GET/api/mix/v2/market/depth?limit=20&symbol=BTCUSDT",
            }],
            captured: vec![Captured {
                file: "test_data/ccxt_vectors.json",
                json: include_str!("../test_data/ccxt_vectors.json"),
                origin: "https://api.bitget.com",
                ignore_headers: &[],
                build: ccxt_request,
            }],
        }
    }
}

/// ccxt's request for one vector, built by the connector's own endpoint
/// table and signer.
fn ccxt_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (endpoint, body) = match v["what"].as_str()? {
        "main account deletes a sub key" => (
            &endpoints::DELETE_SUB_KEY,
            Some(endpoints::delete_body(
                "bg_fedcba9876543210fedcba9876543210",
            )),
        ),
        "liveness probe" => (&endpoints::ACCOUNT_INFO, None),
        _ => return None,
    };
    let (api_key, secret, passphrase) = signing::credentials(v);
    let secret = Secret::from(secret);
    let passphrase = Secret::from(passphrase?);
    let signer = Signer {
        api_key,
        secret: &secret,
        passphrase: &passphrase,
    };
    Some(signer.sign(
        endpoint.method.clone(),
        endpoint.path,
        "",
        body.as_deref(),
        signing::clock_ms(v),
    ))
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Bitget>().await;
}

async fn setup() -> (SimHandle, BitgetConnector) {
    let h = testkit::start(keyrevoke_bitget::EXCHANGE.id, Faults::default(), keys()).await;
    let c = testkit::connector(&h, keyrevoke_bitget::EXCHANGE.id, BitgetConnector::new);
    (h, c)
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(keyrevoke_bitget::EXCHANGE.id)
        .keys
        .get(api_key)
        .expect("held")
}

fn is_unsupported(got: Result<impl std::fmt::Debug, keyrevoke_core::Failure>) -> bool {
    matches!(got, Err(ref f) if matches!(f.error, ConnectorError::Unsupported(_)))
}

#[tokio::test]
async fn the_main_account_deletes_a_sub_key_then_its_listing_says_dead() {
    let (h, c) = setup().await;
    let j = row(SUB, false, true, Some(MASTER), Some(SUB_ACCOUNT));
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByMaster,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    let p = c
        .probe(&j)
        .await
        .expect("the main account lists the sub account");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["read", "spot_trade", "wallet_withdraw"]);
    assert_eq!(p.can_move_funds, Some(true), "wallet_withdraw moves funds");
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    assert_eq!(
        held(&h, OTHER_SUB).state,
        KeyState::Alive,
        "nothing else touched"
    );
}

/// The disable sends every field: the label kept (it is required), an
/// empty permission list (which removes them all), and the unroutable IP.
/// A modify without `ipList` would have emptied the whitelist (the dialect
/// does, as Bitget documents), leaving the key open to every address.
#[tokio::test]
async fn the_disable_removes_every_permission_and_binds_the_key_to_nowhere() {
    let (h, c) = setup().await;
    let j = row(SUB, false, true, Some(MASTER), Some(SUB_ACCOUNT));
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = held(&h, SUB);
    assert_eq!(k.state, KeyState::Alive);
    assert_eq!(k.permissions, Vec::<String>::new(), "no permission left");
    assert_eq!(k.ips, vec![endpoints::UNROUTABLE_IP]);
    assert!(!k.allows_loopback());
    assert_eq!(k.label.as_deref(), Some("bot-1"), "the label is kept");
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, Some(false));
    assert_eq!(held(&h, OTHER_SUB).ips, vec!["*"], "nothing else touched");
}

/// The modify takes the sub key's own passphrase: without it in the row,
/// no disable is offered, and one asked for anyway sends nothing.
#[tokio::test]
async fn without_the_sub_keys_passphrase_no_disable_is_offered_or_sent() {
    let (h, c) = setup().await;
    let j = row(SUB, false, false, Some(MASTER), Some(SUB_ACCOUNT));
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(c.routes(&j), vec![Route::DeleteByMaster, Route::Escalate]);
    let before = c.requests_sent();
    assert!(is_unsupported(c.perform(Route::DisableByMaster, &j).await));
    assert_eq!(c.requests_sent(), before, "nothing was sent");
    assert_eq!(held(&h, SUB).ips, vec!["127.0.0.1", "203.0.113.7"]);
}

#[tokio::test]
async fn a_key_that_cannot_manage_sub_accounts_is_refused_and_touches_nothing() {
    let (h, c) = setup().await;
    let j = row(SUB, false, true, Some(READER), Some(SUB_ACCOUNT));
    for route in [Route::DeleteByMaster, Route::DisableByMaster] {
        match c.perform(route, &j).await {
            Err(f) => assert!(
                matches!(f.error, ConnectorError::Unsupported(_)),
                "{route}: {f:?}"
            ),
            Ok(_) => panic!("{route}: accepted"),
        }
    }
    assert_eq!(held(&h, SUB).ips, vec!["127.0.0.1", "203.0.113.7"]);
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn a_key_probes_itself_by_its_account_information() {
    let (h, c) = setup().await;
    let j = row(OTHER_SUB, true, true, None, None);
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(c.routes(&j), vec![Route::Escalate]);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["stor", "stow"]);
    assert_eq!(p.can_move_funds, Some(false));
    h.exchange(keyrevoke_bitget::EXCHANGE.id)
        .keys
        .update(OTHER_SUB, |k| k.state = KeyState::Deleted);
    // The account information allows one call a second per UID.
    tokio::time::sleep(std::time::Duration::from_millis(1050)).await;
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
}

/// Bitget answers 40012 for a wrong passphrase as for a missing key: a
/// row with the wrong passphrase must not make its key look dead.
#[tokio::test]
async fn a_wrong_passphrase_in_the_row_is_no_proof_of_death() {
    let (h, c) = setup().await;
    let mut j = row(OTHER_SUB, true, true, None, None);
    j.key.passphrase = Some(Secret::from("notTheRightPass9"));
    match c.probe(&j).await {
        Err(f) => assert!(
            matches!(f.error, ConnectorError::Permanent { ref code, .. } if code == "40012"),
            "{f:?}"
        ),
        Ok(p) => panic!("probed {:?}", p.liveness),
    }
    assert_eq!(held(&h, OTHER_SUB).state, KeyState::Alive);
}

#[tokio::test]
async fn a_broker_deletes_its_sub_accounts_key_and_only_through_the_broker_route() {
    let (h, c) = setup().await;
    let broker = KeyJob::new(
        row(BROKER_SUB, false, false, None, Some(BROKER_SUB_ACCOUNT)).key,
        Some(credential(BROKER, CredentialRole::Broker)),
    );
    assert!(c.check(&broker).is_empty(), "{:?}", c.check(&broker));
    assert_eq!(
        c.routes(&broker),
        vec![Route::DeleteByBroker, Route::Escalate]
    );
    // Each route refuses the other role's credential before sending.
    let master = row(SUB, false, true, Some(MASTER), Some(SUB_ACCOUNT));
    let before = c.requests_sent();
    assert!(is_unsupported(
        c.perform(Route::DeleteByBroker, &master).await
    ));
    assert!(is_unsupported(
        c.perform(Route::DeleteByMaster, &broker).await
    ));
    assert_eq!(c.requests_sent(), before, "nothing was sent");
    assert_eq!(held(&h, SUB).state, KeyState::Alive);
    c.perform(Route::DeleteByBroker, &broker)
        .await
        .expect("deleted by the broker");
    assert_eq!(held(&h, BROKER_SUB).state, KeyState::Deleted);
}

#[tokio::test]
async fn rows_missing_what_bitget_signs_or_names_are_reported() {
    let (_h, c) = setup().await;
    let fields = |j: &KeyJob| c.check(j).iter().map(|p| p.field).collect::<Vec<_>>();
    assert_eq!(
        fields(&row(SUB, false, true, Some(MASTER), Some("bitgetsub"))),
        vec!["account"]
    );
    assert_eq!(
        fields(&row(SUB, false, true, Some(MASTER), None)),
        vec!["account"]
    );
    assert_eq!(
        fields(&row(OTHER_SUB, true, false, None, None)),
        vec!["passphrase"]
    );
    let mut no_pass = (*credential(MASTER, CredentialRole::Master)).clone();
    no_pass.passphrase = None;
    let j = KeyJob::new(
        row(SUB, false, true, None, Some(SUB_ACCOUNT)).key,
        Some(Arc::new(no_pass)),
    );
    assert_eq!(fields(&j), vec!["via"]);
    assert_eq!(c.routes(&j), vec![Route::Escalate], "nothing can sign");
}

#[tokio::test]
async fn the_main_account_lists_its_sub_accounts_then_each_ones_keys() {
    let (_h, c) = setup().await;
    assert!(c.can_discover());
    let main = credential(MASTER, CredentialRole::Master);
    let accounts = c.discover(&main, &PageRequest::start()).await.unwrap();
    // Newest (highest UID) first.
    assert_eq!(accounts.accounts, vec![CLASSIC_ACCOUNT, SUB_ACCOUNT]);
    assert_eq!(accounts.next, None);
    let keys = c
        .discover(&main, &PageRequest::keys_of(SUB_ACCOUNT))
        .await
        .unwrap();
    let mut found: Vec<(String, Option<String>)> = keys
        .keys
        .iter()
        .map(|k| (k.api_key.clone(), k.label.clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (SUB.to_string(), Some("bot-1".to_string())),
            (OTHER_SUB.to_string(), Some("bot-2".to_string())),
        ]
    );
    assert!(keys.keys.iter().all(|k| k.account == SUB_ACCOUNT));
    // A key that may not manage sub accounts lists nothing.
    let refused = c
        .discover(
            &credential(READER, CredentialRole::Master),
            &PageRequest::start(),
        )
        .await;
    assert!(is_unsupported(refused.map(|p| p.accounts)));
}

/// More sub accounts than a page holds: the next page continues below the
/// last one listed, and no sub account is missed or listed twice.
#[tokio::test]
async fn sub_accounts_past_one_page_are_all_listed() {
    let sub_accounts = endpoints::SUB_ACCOUNTS_PER_PAGE + 3;
    let population = (0..sub_accounts).map(|i| {
        let api_key = format!("bg_PAGED{i:026}");
        let uid = (600_000 + i).to_string();
        bitget_key(&api_key, &uid, &["read"]).sub_of(MASTER_UID)
    });
    // Two pages at once: the list allows one call a second.
    let h = testkit::start_unlimited(
        keyrevoke_bitget::EXCHANGE.id,
        keys().into_iter().chain(population),
    )
    .await;
    let c = testkit::connector(&h, keyrevoke_bitget::EXCHANGE.id, BitgetConnector::new);
    let main = credential(MASTER, CredentialRole::Master);
    let mut request = PageRequest::start();
    let mut listed = Vec::new();
    let mut pages = 0;
    loop {
        let page = c.discover(&main, &request).await.unwrap();
        assert_eq!(request.kind, ListKind::SubAccounts);
        pages += 1;
        listed.extend(page.accounts);
        match page.next {
            Some(cursor) => request = request.continued(cursor),
            None => break,
        }
        assert!(pages < 5, "the listing does not end");
    }
    assert_eq!(pages, 2);
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), listed.len(), "listed twice");
    // The master's two sub accounts of `keys()` besides.
    assert_eq!(listed.len(), sub_accounts + 2, "every sub account");
}

/// Where the delete is not available (a classic account's sub key), the
/// refusal is neither a death nor an unknown outcome, so the routes go on
/// to the disable, which leaves the key without permission and unreachable.
#[tokio::test]
async fn a_classic_accounts_sub_key_refused_by_the_delete_is_disabled_instead() {
    let (h, c) = setup().await;
    let j = row(
        CLASSIC_SUB,
        false,
        true,
        Some(MASTER),
        Some(CLASSIC_ACCOUNT),
    );
    match c.perform(Route::DeleteByMaster, &j).await {
        Err(f) => assert!(matches!(f.error, ConnectorError::Permanent { .. }), "{f:?}"),
        Ok(_) => panic!("a classic account's key was deleted by the v3 call"),
    }
    assert_eq!(held(&h, CLASSIC_SUB).state, KeyState::Alive);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Alive);
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.permissions, Vec::<String>::new());
    assert_eq!(p.can_move_funds, Some(false));
    assert!(!held(&h, CLASSIC_SUB).allows_loopback());
}
