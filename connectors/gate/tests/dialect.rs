//! The Gate connector against the simulator's Gate dialect: the shared
//! connector cases, then Gate's own.

use keyrevoke_core::endpoint::Method;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::sign::{hmac_sha512_hex, sha512_hex};
use keyrevoke_core::{
    Connector, ConnectorError, Credential, ExchangeId, KeyJob, Liveness, Route, Secret,
};
use keyrevoke_gate::GateConnector;
use keyrevoke_gate::endpoints;
use keyrevoke_gate::sign::{HEADER_SIGN, HEADER_TIMESTAMP, Signer, prehash};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance::{
    self,
    signing::{self, Captured, Published, Signing},
};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key};
use std::sync::Arc;

const MASTER: &str = "gateMASTER00000000000000000000001";
const SUB: &str = "gateSUBKEY00000000000000000000001";
const OTHER_SUB: &str = "gateSUBKEY00000000000000000000002";
const READER: &str = "gateREADER00000000000000000000001";
const MASTER_UID: &str = "500000";
const SUB_ACCOUNT: &str = "510001";

fn keys() -> Vec<SimKey> {
    vec![
        key(MASTER, MASTER_UID, &["account", "spot", "wallet"]),
        key(SUB, SUB_ACCOUNT, &["spot", "wallet"])
            .sub_of(MASTER_UID)
            .labelled("bot-1")
            .bound_to(&["127.0.0.1", "203.0.113.7"]),
        key(OTHER_SUB, SUB_ACCOUNT, &["spot"])
            .sub_of(MASTER_UID)
            .labelled("bot-2"),
        // A main account whose key cannot manage sub accounts.
        key(READER, "520000", &["spot"]),
        key("gateSTRANGER00000000000000000001", "530001", &["spot"]).sub_of("530000"),
    ]
}

fn credential(api_key: &str) -> Arc<Credential> {
    testkit::master_credential(keyrevoke_gate::EXCHANGE.id, "gate-main", api_key)
}

fn row(api_key: &str, own_secret: bool, via: Option<&str>, account: Option<&str>) -> KeyJob {
    testkit::row(
        keyrevoke_gate::EXCHANGE.id,
        api_key,
        own_secret,
        via.map(credential),
        account,
    )
}

struct Gate;

impl conformance::Subject for Gate {
    type Connector = GateConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_gate::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> GateConnector {
        testkit::connector(h, Self::exchange(), GateConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT))
    }

    /// Gate documents no IP ban beyond its 429.
    fn documents_ip_ban() -> bool {
        false
    }

    /// The two examples of `exchanges/gate.md` (key `key`, secret `secret`,
    /// from gate's API v4 docs, "Authentication"): a GET with a query and a
    /// POST with a body; and ccxt 4.5.90's requests for the calls keyrevoke
    /// makes (test_data/ccxt_vectors.json, from ../shared/vectors/gate.json).
    fn signing() -> Signing {
        const SOURCE: &str = "gate API v4 docs, \"Authentication\"";
        let body = r#"{"contract":"BTC_USD","type":"limit","size":100,"price":6800,"time_in_force":"gtc"}"#;
        let get = prehash(
            &Method::GET,
            "/api/v4/futures/orders",
            "contract=BTC_USD&status=finished&limit=50",
            "",
            1_541_993_715,
        );
        let secret = Secret::from("secret");
        let post = Signer {
            api_key: "key",
            secret: &secret,
        }
        .sign(
            Method::POST,
            "/api/v4/futures/orders",
            "",
            Some(body),
            1_541_993_715_000,
        );
        Signing {
            published: vec![
                Published {
                    source: SOURCE,
                    ours: hmac_sha512_hex("secret", &get),
                    documented: "55f84ea195d6fe57ce62464daaa7c3c02fa9d1dde954e4c898289c9a2407a3d6fb3faf24deff16790d726b66ac9f74526668b13bd01029199cc4fcc522418b8a",
                },
                Published {
                    source: SOURCE,
                    ours: sha512_hex(body),
                    documented: "ad3c169203dc3026558f01b4df307641fa1fa361f086b2306658886d5708767b1854797c68d9e62fef2f991645aa82673622ebf417e091d0bd22bafe5d956cca",
                },
                Published {
                    source: SOURCE,
                    ours: post.header(HEADER_SIGN).unwrap_or_default().to_string(),
                    documented: "eae42da914a590ddf727473aff25fc87d50b64783941061f47a3fdb92742541fc4c2c14017581b4199a1418d54471c269c03a38d788d802e2c306c37636389f0",
                },
                Published {
                    source: SOURCE,
                    ours: post
                        .header(HEADER_TIMESTAMP)
                        .unwrap_or_default()
                        .to_string(),
                    documented: "1541993715",
                },
            ],
            captured: vec![Captured {
                file: "test_data/ccxt_vectors.json",
                json: include_str!("../test_data/ccxt_vectors.json"),
                origin: "https://api.gateio.ws",
                ignore_headers: &[],
                build: ccxt_request,
            }],
        }
    }
}

/// ccxt's request for one vector, built by the connector's own endpoint
/// table and signer.
fn ccxt_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (endpoint, path) = match v["what"].as_str()? {
        "main account deletes a sub-account key" => (
            &endpoints::DELETE_SUB_KEY,
            endpoints::path(
                &endpoints::DELETE_SUB_KEY,
                "510001",
                "0123456789abcdef0123456789abcdef",
            ),
        ),
        "liveness probe (GET /api/v4/account/detail)" => (
            &endpoints::ACCOUNT_DETAIL,
            endpoints::ACCOUNT_DETAIL.path.to_string(),
        ),
        _ => return None,
    };
    let (api_key, secret, _) = signing::credentials(v);
    let secret = Secret::from(secret);
    let signer = Signer {
        api_key,
        secret: &secret,
    };
    Some(signer.sign(
        endpoint.method.clone(),
        &path,
        "",
        None,
        signing::clock_ms(v),
    ))
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Gate>().await;
}

async fn setup() -> (SimHandle, GateConnector) {
    let h = testkit::start(keyrevoke_gate::EXCHANGE.id, Faults::default(), keys()).await;
    let c = testkit::connector(&h, keyrevoke_gate::EXCHANGE.id, GateConnector::new);
    (h, c)
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(keyrevoke_gate::EXCHANGE.id)
        .keys
        .get(api_key)
        .expect("held")
}

#[tokio::test]
async fn the_main_account_deletes_a_sub_key_then_its_listing_says_dead() {
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
    assert_eq!(p.permissions, vec!["spot", "wallet"]);
    assert_eq!(p.can_move_funds, Some(true), "wallet moves funds");
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    assert_eq!(
        held(&h, OTHER_SUB).state,
        KeyState::Alive,
        "nothing else touched"
    );
}

/// The disable writes the key back whole: the same name, every permission
/// kept but read-only, the IPs replaced by the unroutable one. A PUT that
/// omitted a list would have cleared it (the dialect does, as Gate
/// documents), leaving an unbound key.
#[tokio::test]
async fn the_disable_keeps_every_field_read_only_and_unreachable() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(MASTER), Some(SUB_ACCOUNT));
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = held(&h, SUB);
    assert_eq!(k.state, KeyState::Alive);
    assert_eq!(
        k.permissions,
        vec!["spot", "wallet"],
        "no permission cleared"
    );
    assert!(k.read_only);
    assert_eq!(k.ips, vec![keyrevoke_gate::endpoints::UNROUTABLE_IP]);
    assert!(!k.allows_loopback());
    assert_eq!(k.label.as_deref(), Some("bot-1"), "the name is kept");
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.permissions, vec!["spot:read_only", "wallet:read_only"]);
    assert_eq!(p.can_move_funds, Some(false));
}

#[tokio::test]
async fn a_key_that_cannot_manage_sub_accounts_is_refused_and_touches_nothing() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(READER), Some(SUB_ACCOUNT));
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
async fn a_key_probes_itself_by_its_account_detail() {
    let (h, c) = setup().await;
    let j = row(OTHER_SUB, true, None, None);
    assert_eq!(c.routes(&j), vec![Route::Escalate]);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, None, "the detail shows no permissions");
    h.exchange(keyrevoke_gate::EXCHANGE.id)
        .keys
        .update(OTHER_SUB, |k| k.state = KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn rows_that_name_no_numeric_sub_account_are_reported() {
    let (_h, c) = setup().await;
    let named = c.check(&row(SUB, false, Some(MASTER), Some("gatesub")));
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].field, "account");
    let missing = c.check(&row(SUB, false, Some(MASTER), None));
    assert_eq!(missing[0].field, "account");
}

#[tokio::test]
async fn the_main_account_lists_its_sub_accounts_then_each_ones_keys() {
    use keyrevoke_core::discovery::{ListKind, PageRequest};
    let (_h, c) = setup().await;
    assert!(c.can_discover());
    let main = credential(MASTER);
    let accounts = c.discover(&main, &PageRequest::start()).await.unwrap();
    assert_eq!(accounts.accounts, vec![SUB_ACCOUNT]);
    assert_eq!(accounts.next, None);
    let keys = c
        .discover(
            &main,
            &PageRequest {
                kind: ListKind::SubAccountKeys,
                account: Some(SUB_ACCOUNT.into()),
                cursor: None,
            },
        )
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
    let refused = c.discover(&credential(READER), &PageRequest::start()).await;
    assert!(
        matches!(refused, Err(ref f) if matches!(f.error, ConnectorError::Unsupported(_))),
        "{:?}",
        refused.err()
    );
}
