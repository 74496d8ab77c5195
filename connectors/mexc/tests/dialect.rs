//! The MEXC connector against the simulator's MEXC dialect: the shared
//! connector cases, then MEXC's own.

use keyrevoke_core::endpoint::Method;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{Params, hmac_sha256_hex};
use keyrevoke_core::{
    Connector, ConnectorError, Credential, CredentialRole, ExchangeId, KeyJob, Liveness, Route,
    Secret,
};
use keyrevoke_mexc::MexcConnector;
use keyrevoke_mexc::endpoints;
use keyrevoke_mexc::sign::{DEFAULT_RECV_WINDOW_MS, HEADER_API_KEY, Signer};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance;
use keyrevoke_sim::conformance::signing::{self, Captured, Published, Signing};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key, secret_of};
use std::sync::Arc;

const MASTER: &str = "mx0MASTER0000000001";
const SUB: &str = "mx0SUBKEY0000000001";
const OTHER_SUB: &str = "mx0SUBKEY0000000002";
const TRADER: &str = "mx0TRADER0000000001";
const SUB_ACCOUNT: &str = "mexcsub001";

fn keys() -> Vec<SimKey> {
    vec![
        key(MASTER, "1000", &["SPOT_ACCOUNT_READ", "SPOT_DEAL_WRITE"]),
        key(SUB, "2000", &["SPOT_ACCOUNT_READ", "SPOT_TRANSFER_WRITE"])
            .sub_of("1000")
            .in_sub_account(SUB_ACCOUNT),
        key(OTHER_SUB, "2100", &["SPOT_ACCOUNT_READ"])
            .sub_of("1000")
            .in_sub_account("mexcsub002"),
        key(TRADER, "3000", &["SPOT_ACCOUNT_READ", "SPOT_DEAL_WRITE"]),
    ]
}

fn master() -> Arc<Credential> {
    Arc::new(Credential {
        name: "mexc-master".into(),
        exchange: keyrevoke_mexc::EXCHANGE.id,
        api_key: MASTER.into(),
        api_secret: Secret::new(secret_of(MASTER)),
        passphrase: None,
        role: CredentialRole::Master,
    })
}

fn row(api_key: &str, own_secret: bool, via_master: bool, account: Option<&str>) -> KeyJob {
    testkit::row(
        keyrevoke_mexc::EXCHANGE.id,
        api_key,
        own_secret,
        via_master.then(master),
        account,
    )
}

struct Mexc;

impl conformance::Subject for Mexc {
    type Connector = MexcConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_mexc::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> MexcConnector {
        testkit::connector(h, Self::exchange(), MexcConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        row(SUB, false, true, Some(SUB_ACCOUNT))
    }

    /// MEXC documents no disable of a sub key.
    fn has_disable() -> bool {
        false
    }

    /// spot_v3_en, "SIGNED Endpoint Examples for POST /api/v3/order":
    /// Example 2 (the payload as a query string) and Example 3 (query and
    /// body concatenated with no `&` between them). Example 1 prints
    /// `323c96ab…843a117` for the very same input as Example 2: it cannot
    /// be right for both, `openssl dgst` gives Example 2's value, and so do
    /// we. Then ccxt 4.5.90's requests for the calls keyrevoke makes
    /// (test_data/ccxt_vectors.json, from ../shared/vectors/mexc.json).
    fn signing() -> Signing {
        const SOURCE: &str = "spot_v3_en, \"SIGNED Endpoint Examples for POST /api/v3/order\"";
        const DOC_KEY: &str = "mx0aBYs33eIilxBWC5";
        const DOC_SECRET: &str = "45d0b3c26f2644f19bfb98b07741b2f5";
        const DOC_PAYLOAD: &str = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087";
        let secret = Secret::from(DOC_SECRET);
        let example_2 = Signer {
            api_key: DOC_KEY,
            secret: &secret,
            recv_window_ms: DEFAULT_RECV_WINDOW_MS,
        }
        .sign_query(Method::POST, "/api/v3/order", DOC_PAYLOAD);
        Signing {
            published: vec![
                Published {
                    source: SOURCE,
                    ours: example_2.path_and_query.clone(),
                    documented: "/api/v3/order?symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=11&recvWindow=5000&timestamp=1644489390087&signature=fd3e4e8543c5188531eb7279d68ae7d26a573d0fc5ab0d18eb692451654d837a",
                },
                Published {
                    source: SOURCE,
                    ours: example_2
                        .header(HEADER_API_KEY)
                        .unwrap_or_default()
                        .to_string(),
                    documented: DOC_KEY,
                },
                Published {
                    source: SOURCE,
                    ours: hmac_sha256_hex(
                        DOC_SECRET,
                        "symbol=BTCUSDT&side=BUY&type=LIMITquantity=1&price=11&recvWindow=5000&timestamp=1644489390087",
                    ),
                    documented: "d1a676610ceb39174c8039b3f548357994b2a34139a8addd33baadba65684592",
                },
            ],
            captured: vec![Captured {
                file: "test_data/ccxt_vectors.json",
                json: include_str!("../test_data/ccxt_vectors.json"),
                origin: "https://api.mexc.com",
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
        "master deletes a sub-account key" => (
            &endpoints::DELETE_SUB_KEY,
            endpoints::delete_sub_key_params("mexcsub001", "mx0SUBKEY123"),
        ),
        "liveness probe" => (&endpoints::ACCOUNT, Params::new()),
        _ => return None,
    };
    let (api_key, secret, _) = signing::credentials(v);
    let secret = Secret::from(secret);
    let signer = Signer {
        api_key,
        secret: &secret,
        recv_window_ms: DEFAULT_RECV_WINDOW_MS,
    };
    Some(signer.sign(endpoint, &params, signing::clock_ms(v)))
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Mexc>().await;
}

async fn setup() -> (SimHandle, MexcConnector) {
    let h = testkit::start(keyrevoke_mexc::EXCHANGE.id, Faults::default(), keys()).await;
    let c = testkit::connector(&h, keyrevoke_mexc::EXCHANGE.id, MexcConnector::new);
    (h, c)
}

#[tokio::test]
async fn a_master_deletes_a_sub_key_then_its_listing_says_dead() {
    let (h, c) = setup().await;
    let j = row(SUB, false, true, Some(SUB_ACCOUNT));
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(c.routes(&j), vec![Route::DeleteByMaster, Route::Escalate]);
    let p = c.probe(&j).await.expect("the master lists the sub account");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(
        p.can_move_funds,
        Some(true),
        "SPOT_TRANSFER_WRITE moves funds"
    );
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(
        testkit::state(&h, keyrevoke_mexc::EXCHANGE.id, SUB),
        KeyState::Deleted
    );
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    assert_eq!(
        testkit::state(&h, keyrevoke_mexc::EXCHANGE.id, OTHER_SUB),
        KeyState::Alive,
        "nothing else was touched"
    );
}

#[tokio::test]
async fn a_key_of_another_sub_account_is_refused_and_stays_alive() {
    let (h, c) = setup().await;
    let j = row(OTHER_SUB, false, true, Some(SUB_ACCOUNT));
    let f = c.perform(Route::DeleteByMaster, &j).await.unwrap_err();
    assert!(
        matches!(&f.error, ConnectorError::Permanent { code, .. } if code == "730706"),
        "{f:?}"
    );
    assert_eq!(
        testkit::state(&h, keyrevoke_mexc::EXCHANGE.id, OTHER_SUB),
        KeyState::Alive
    );
}

#[tokio::test]
async fn a_key_probed_with_its_own_secret_is_alive_then_dead_once_deleted() {
    let (h, c) = setup().await;
    let own = row(TRADER, true, false, None);
    assert_eq!(
        c.routes(&own),
        vec![Route::Escalate],
        "no key deletes itself"
    );
    let p = c.probe(&own).await.expect("probed");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, Some(false));
    h.exchange(keyrevoke_mexc::EXCHANGE.id)
        .keys
        .update(TRADER, |k| k.state = KeyState::Deleted);
    assert_eq!(
        c.probe(&own).await.unwrap().liveness,
        Liveness::Dead,
        "10072"
    );
}

#[tokio::test]
async fn rows_a_master_cannot_act_on_are_reported_at_validation() {
    let (_h, c) = setup().await;
    let no_account = row(SUB, false, true, None);
    let problems = c.check(&no_account);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].field, "account");
    assert_eq!(c.routes(&no_account), vec![Route::Escalate]);
}

fn credential_of(api_key: &str) -> Arc<Credential> {
    Arc::new(Credential {
        api_key: api_key.into(),
        api_secret: Secret::new(secret_of(api_key)),
        ..(*master()).clone()
    })
}

#[tokio::test]
async fn the_master_lists_its_sub_accounts_then_each_ones_keys() {
    use keyrevoke_core::discovery::PageRequest;
    let h = testkit::start(
        keyrevoke_mexc::EXCHANGE.id,
        Faults::default(),
        keys()
            .into_iter()
            .map(|k| match k.api_key.as_str() {
                SUB => k.labelled("bot-1"),
                _ => k,
            })
            .chain([key("mx0STRANGER00000001", "4100", &["SPOT_ACCOUNT_READ"])
                .sub_of("4000")
                .in_sub_account("someoneelse")]),
    )
    .await;
    let c = testkit::connector(&h, keyrevoke_mexc::EXCHANGE.id, MexcConnector::new);
    assert!(c.can_discover());
    let accounts = c.discover(&master(), &PageRequest::start()).await.unwrap();
    assert_eq!(accounts.accounts, vec![SUB_ACCOUNT, "mexcsub002"]);
    assert_eq!(accounts.next, None, "a page that is not full is the last");
    let keys = c
        .discover(&master(), &PageRequest::keys_of(SUB_ACCOUNT))
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].api_key, SUB);
    assert_eq!(keys.keys[0].account, SUB_ACCOUNT);
    assert_eq!(keys.keys[0].label.as_deref(), Some("bot-1"));
    // A sub account's own key may not list: MEXC's 700007.
    let refused = c.discover(&credential_of(SUB), &PageRequest::start()).await;
    assert!(
        matches!(refused, Err(ref f) if matches!(f.error, ConnectorError::Unsupported(_))),
        "{:?}",
        refused.err()
    );
    assert_eq!(
        h.exchange(keyrevoke_mexc::EXCHANGE.id)
            .stats
            .snapshot()
            .rate_limited,
        0
    );
}

/// 201 sub accounts: the first page holds the documented most, 200, and
/// says where the next begins; the second holds the last one.
#[tokio::test]
async fn sub_accounts_are_listed_page_by_page() {
    use keyrevoke_core::discovery::PageRequest;
    let subs = (0..201).map(|i| {
        key(
            &format!("mx0MANY{i:012}"),
            &format!("{}", 5000 + i),
            &["SPOT_ACCOUNT_READ"],
        )
        .sub_of("1000")
        .in_sub_account(&format!("many{i:03}"))
    });
    let h = testkit::start_unlimited(
        keyrevoke_mexc::EXCHANGE.id,
        keys()
            .into_iter()
            .filter(|k| k.api_key == MASTER)
            .chain(subs),
    )
    .await;
    let c = testkit::connector(&h, keyrevoke_mexc::EXCHANGE.id, MexcConnector::new);
    let first = c.discover(&master(), &PageRequest::start()).await.unwrap();
    assert_eq!(first.accounts.len(), 200);
    assert_eq!(first.next.as_deref(), Some("2"));
    let second = c
        .discover(&master(), &PageRequest::start().continued("2".into()))
        .await
        .unwrap();
    assert_eq!(second.accounts, vec!["many200"]);
    assert_eq!(second.next, None);
}
