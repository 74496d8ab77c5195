//! The Deribit connector against the simulator's Deribit dialect: the
//! shared connector cases, then Deribit's own.

use keyrevoke_core::discovery::{ListKind, PageRequest};
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::Params;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, Liveness, Route,
    Secret,
};
use keyrevoke_deribit::sign::{Signer, client_signature};
use keyrevoke_deribit::{DeribitConnector, endpoints};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance::{
    self,
    signing::{self, Captured, Published, Signing},
};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key};
use std::sync::Arc;

const MASTER: &str = "deribitMASTER001";
/// A key of the main account itself, beside the credential's.
const MAIN_KEY: &str = "deribitMAINKEY01";
const SUB: &str = "deribitSUBKEY001";
const OTHER_SUB: &str = "deribitSUBKEY002";
/// A sub key that may manage its account's keys, itself included.
const SUB_ADMIN: &str = "deribitSUBADMIN1";
/// A main account whose key may read its keys, not remove them.
const READER: &str = "deribitREADER001";
/// A main account whose key has no account scope at all.
const TRADER: &str = "deribitTRADER001";
const STRANGER: &str = "deribitSTRANGER1";
const MAIN_ACCOUNT: &str = "2000";
const SUB_ACCOUNT: &str = "2101";
const STRANGER_ACCOUNT: &str = "4001";

const ACCOUNT_RW: &str = "account:read_write";

fn keys() -> Vec<SimKey> {
    vec![
        key(
            MASTER,
            MAIN_ACCOUNT,
            &[ACCOUNT_RW, "trade:read_write", "wallet:read_write"],
        ),
        key(MAIN_KEY, MAIN_ACCOUNT, &["trade:read_write"]).labelled("bot-main"),
        key(SUB, SUB_ACCOUNT, &["trade:read_write", "wallet:read_write"])
            .sub_of(MAIN_ACCOUNT)
            .labelled("bot-1"),
        key(OTHER_SUB, SUB_ACCOUNT, &["trade:read_write"])
            .sub_of(MAIN_ACCOUNT)
            .labelled("bot-2"),
        key(SUB_ADMIN, SUB_ACCOUNT, &[ACCOUNT_RW]).sub_of(MAIN_ACCOUNT),
        key(READER, "3000", &["account:read", "trade:read_write"]),
        key(TRADER, "5000", &["trade:read_write"]),
        key(STRANGER, STRANGER_ACCOUNT, &["trade:read_write"]).sub_of("4000"),
    ]
}

fn credential(api_key: &str) -> Arc<Credential> {
    testkit::master_credential(keyrevoke_deribit::EXCHANGE.id, "deribit-main", api_key)
}

fn row(api_key: &str, own_secret: bool, via: Option<&str>, account: Option<&str>) -> KeyJob {
    testkit::row(
        keyrevoke_deribit::EXCHANGE.id,
        api_key,
        own_secret,
        via.map(credential),
        account,
    )
}

struct Deribit;

impl conformance::Subject for Deribit {
    type Connector = DeribitConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_deribit::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> DeribitConnector {
        testkit::connector(h, Self::exchange(), DeribitConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    /// A sub account's key, through the main account's exchanged token.
    fn managed_row() -> KeyJob {
        row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT))
    }

    /// Deribit documents no IP ban beyond its 10028.
    fn documents_ip_ban() -> bool {
        false
    }

    /// The `client_signature` example of `exchanges/deribit.md` (from
    /// docs.deribit.com, articles/authentication), and ccxt 4.5.90's
    /// header-signed requests for the calls keyrevoke makes
    /// (test_data/ccxt_vectors.json, from ../shared/vectors/deribit.json).
    fn signing() -> Signing {
        Signing {
            published: vec![Published {
                source: "docs.deribit.com articles/authentication, client_signature",
                ours: client_signature("AMANDASECRECT", 1_576_074_319_000, "1iqt2wls", ""),
                documented: "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1",
            }],
            captured: vec![Captured {
                file: "test_data/ccxt_vectors.json",
                json: include_str!("../test_data/ccxt_vectors.json"),
                origin: "https://www.deribit.com",
                ignore_headers: &[],
                build: ccxt_request,
            }],
        }
    }
}

/// ccxt's request for one vector, built by the connector's own endpoint
/// table and signer.
fn ccxt_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (endpoint, params) = match v["what"].as_str()? {
        "list the account's keys (header auth)" => (&endpoints::LIST_KEYS, Params::new()),
        "remove a key by id (header auth)" => {
            (&endpoints::REMOVE_KEY, Params::new().with("id", "12"))
        }
        _ => return None,
    };
    let (client_id, secret, _) = signing::credentials(v);
    let secret = Secret::from(secret);
    let signer = Signer {
        client_id,
        secret: &secret,
    };
    Some(signer.sign(endpoint, &params, signing::clock_ms(v)))
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Deribit>().await;
}

const ID: ExchangeId = keyrevoke_deribit::EXCHANGE.id;

async fn setup() -> (SimHandle, DeribitConnector) {
    let h = testkit::start(ID, Faults::default(), keys()).await;
    let c = testkit::connector(&h, ID, DeribitConnector::new);
    (h, c)
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(ID).keys.get(api_key).expect("held")
}

fn requests(h: &SimHandle) -> u64 {
    h.exchange(ID)
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test]
async fn the_main_account_removes_a_sub_key_through_an_exchanged_token() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT));
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
    assert_eq!(p.permissions, vec!["trade:read_write", "wallet:read_write"]);
    assert_eq!(
        p.can_move_funds,
        Some(true),
        "wallet:read_write moves funds"
    );
    let before = requests(&h);
    c.perform(Route::DeleteByMaster, &j).await.expect("removed");
    assert_eq!(
        requests(&h) - before,
        4,
        "auth, exchange_token, list_api_keys, remove_api_key"
    );
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    assert_eq!(
        held(&h, OTHER_SUB).state,
        KeyState::Alive,
        "nothing else touched"
    );
}

#[tokio::test]
async fn a_key_of_the_credentials_own_account_is_removed_by_signed_calls() {
    let (h, c) = setup().await;
    let j = row(MAIN_KEY, false, Some(MASTER), None);
    assert!(c.check(&j).is_empty());
    let before = requests(&h);
    c.perform(Route::DeleteByMaster, &j).await.expect("removed");
    assert_eq!(requests(&h) - before, 2, "list_api_keys, remove_api_key");
    assert_eq!(held(&h, MAIN_KEY).state, KeyState::Deleted);
    assert_eq!(held(&h, MASTER).state, KeyState::Alive);
}

#[tokio::test]
async fn the_disable_keeps_the_key_held_but_refused_and_listed_as_disabled() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT));
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = held(&h, SUB);
    assert_eq!(k.state, KeyState::Alive);
    assert!(k.disabled);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive, "held, re-enablable");
    assert_eq!(
        p.can_move_funds,
        Some(false),
        "a disabled key moves nothing"
    );
    assert!(
        p.permissions.contains(&"disabled".to_string()),
        "{:?}",
        p.permissions
    );
    // The key's own calls are refused now.
    let own = row(SUB, true, None, None);
    assert_eq!(c.probe(&own).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn a_credential_that_may_only_read_keys_is_refused_and_touches_nothing() {
    let (h, c) = setup().await;
    // READER's account holds no key of SUB's: it reaches its own account
    // only, where the remove needs account:read_write.
    h.exchange(ID)
        .keys
        .insert(key("deribitREADERS01", "3000", &["trade:read_write"]));
    let j = row("deribitREADERS01", false, Some(READER), None);
    for route in [Route::DeleteByMaster, Route::DisableByMaster] {
        match c.perform(route, &j).await {
            Err(f) => assert!(
                matches!(f.error, ConnectorError::Unsupported(_)),
                "{route}: {f:?}"
            ),
            Ok(_) => panic!("{route}: accepted"),
        }
    }
    let k = held(&h, "deribitREADERS01");
    assert_eq!(k.state, KeyState::Alive);
    assert!(!k.disabled);
}

#[tokio::test]
async fn the_main_account_cannot_reach_another_accounts_sub_account() {
    let (h, c) = setup().await;
    let j = row(STRANGER, false, Some(MASTER), Some(STRANGER_ACCOUNT));
    match c.perform(Route::DeleteByMaster, &j).await {
        Err(f) => assert!(matches!(f.error, ConnectorError::Permanent { .. }), "{f:?}"),
        Ok(_) => panic!("reached a stranger's sub account"),
    }
    assert_eq!(held(&h, STRANGER).state, KeyState::Alive);
}

/// Not documented either way: a key with `account:read_write` removes
/// itself; a key without it is refused and falls back.
#[tokio::test]
async fn a_key_tries_to_remove_itself_and_falls_back_when_refused() {
    let (h, c) = setup().await;
    let admin = row(SUB_ADMIN, true, None, None);
    assert_eq!(
        c.routes(&admin),
        vec![Route::DeleteSelf, Route::DisableSelf, Route::Escalate]
    );
    c.perform(Route::DeleteSelf, &admin)
        .await
        .expect("removed itself");
    assert_eq!(held(&h, SUB_ADMIN).state, KeyState::Deleted);
    let trader = row(OTHER_SUB, true, None, None);
    match c.perform(Route::DeleteSelf, &trader).await {
        Err(f) => assert!(matches!(f.error, ConnectorError::Unsupported(_)), "{f:?}"),
        Ok(_) => panic!("a key without the account scope removed itself"),
    }
    assert_eq!(held(&h, OTHER_SUB).state, KeyState::Alive);
    // With a credential too, the documented route comes first.
    let both = row(OTHER_SUB, true, Some(MASTER), Some(SUB_ACCOUNT));
    assert_eq!(
        c.routes(&both),
        vec![
            Route::DeleteByMaster,
            Route::DeleteSelf,
            Route::DisableByMaster,
            Route::DisableSelf,
            Route::Escalate
        ]
    );
}

/// A security-key challenge is a non-error reply that did nothing: the
/// route ends with its reason, the key untouched.
#[tokio::test]
async fn a_security_key_challenge_ends_the_route_with_its_reason() {
    let (h, c) = setup().await;
    h.exchange(ID).keys.update(MASTER, |k| {
        k.permissions
            .push(keyrevoke_sim::dialects::deribit::SECURITY_KEY_ASSIGNED.into())
    });
    let j = row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT));
    for route in [Route::DeleteByMaster, Route::DisableByMaster] {
        match c.perform(route, &j).await {
            Err(f) => {
                assert_eq!(
                    f.error,
                    ConnectorError::Unsupported(
                        keyrevoke_deribit::errors::SECURITY_KEY_CHALLENGE.into()
                    ),
                    "{route}"
                );
            }
            Ok(_) => panic!("{route}: a challenge read as done"),
        }
    }
    let k = held(&h, SUB);
    assert_eq!(k.state, KeyState::Alive);
    assert!(!k.disabled);
}

#[tokio::test]
async fn a_key_probes_itself_by_its_auth() {
    let (h, c) = setup().await;
    let j = row(OTHER_SUB, true, None, None);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["trade:read_write"]);
    assert_eq!(p.can_move_funds, Some(false));
    h.exchange(ID)
        .keys
        .update(OTHER_SUB, |k| k.state = KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn rows_that_name_no_numeric_account_or_a_broker_are_reported() {
    let (_h, c) = setup().await;
    let named = c.check(&row(SUB, false, Some(MASTER), Some("sub-one")));
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].field, "account");
    let mut broker = row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT));
    broker.via = Some(Arc::new(Credential {
        role: CredentialRole::Broker,
        ..(*credential(MASTER)).clone()
    }));
    assert_eq!(c.check(&broker)[0].field, "via");
    assert_eq!(c.routes(&broker), vec![Route::Escalate]);
}

#[tokio::test]
async fn the_main_account_lists_its_accounts_then_each_ones_keys() {
    let (_h, c) = setup().await;
    assert!(c.can_discover());
    let main = credential(MASTER);
    let accounts = c.discover(&main, &PageRequest::start()).await.unwrap();
    assert_eq!(accounts.accounts, vec![MAIN_ACCOUNT, SUB_ACCOUNT]);
    assert_eq!(accounts.next, None);
    let listing = |account: &str| PageRequest {
        kind: ListKind::SubAccountKeys,
        account: Some(account.into()),
        cursor: None,
    };
    let keys = c.discover(&main, &listing(SUB_ACCOUNT)).await.unwrap();
    let mut found: Vec<(String, Option<String>)> = keys
        .keys
        .iter()
        .map(|k| (k.api_key.clone(), k.label.clone()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            (SUB_ADMIN.to_string(), None),
            (SUB.to_string(), Some("bot-1".to_string())),
            (OTHER_SUB.to_string(), Some("bot-2".to_string())),
        ]
    );
    assert!(keys.keys.iter().all(|k| k.account == SUB_ACCOUNT));
    let own = c.discover(&main, &listing(MAIN_ACCOUNT)).await.unwrap();
    let mut own_keys: Vec<String> = own.keys.iter().map(|k| k.api_key.clone()).collect();
    own_keys.sort();
    assert_eq!(
        own_keys,
        vec![MAIN_KEY],
        "the credential itself is not listed"
    );
    // A key without the account scope lists nothing.
    let refused = c.discover(&credential(TRADER), &PageRequest::start()).await;
    assert!(
        matches!(refused, Err(ref f) if matches!(f.error, ConnectorError::Unsupported(_))),
        "{:?}",
        refused.err()
    );
}
