//! The HTX connector against the simulator's HTX dialect: the shared
//! connector cases, then HTX's own.

use keyrevoke_core::endpoint::Method;
use keyrevoke_core::http::PreparedRequest;
use keyrevoke_core::{
    Connector, ConnectorError, Credential, ExchangeId, KeyJob, Liveness, Route, Secret,
};
use keyrevoke_htx::HtxConnector;
use keyrevoke_htx::endpoints;
use keyrevoke_htx::sign::{Signer, canonical_query, prehash};
use keyrevoke_sim::SimHandle;
use keyrevoke_sim::conformance::{
    self,
    signing::{self, Captured, Published, Signing},
};
use keyrevoke_sim::faults::Faults;
use keyrevoke_sim::keys::{KeyState, SimKey};
use keyrevoke_sim::testkit::{self, key};
use std::sync::Arc;

const PARENT: &str = "htxPARENT0-00000000-00000000-00001";
const SUB: &str = "htxSUBKEY0-00000000-00000000-00001";
const OTHER_SUB: &str = "htxSUBKEY0-00000000-00000000-00002";
const READER: &str = "htxREADER0-00000000-00000000-00001";
const PARENT_UID: &str = "300000";
const SUB_USER: &str = "310001";
const OTHER_SUB_USER: &str = "310002";

fn keys() -> Vec<SimKey> {
    vec![
        key(PARENT, PARENT_UID, &["readOnly", "trade", "withdraw"]),
        key(SUB, SUB_USER, &["readOnly", "trade"])
            .sub_of(PARENT_UID)
            .labelled("bot-1")
            .bound_to(&["127.0.0.1", "203.0.113.7"]),
        key(OTHER_SUB, SUB_USER, &["readOnly"])
            .sub_of(PARENT_UID)
            .labelled("bot-2"),
        key(
            "htxSUBKEY0-00000000-00000000-00003",
            OTHER_SUB_USER,
            &["readOnly"],
        )
        .sub_of(PARENT_UID),
        // A parent whose key holds no Trade permission.
        key(READER, "320000", &["readOnly"]),
        key(
            "htxSTRANGER-00000000-00000000-0001",
            "330001",
            &["readOnly"],
        )
        .sub_of("330000"),
    ]
}

fn credential(api_key: &str) -> Arc<Credential> {
    testkit::master_credential(keyrevoke_htx::EXCHANGE.id, "htx-parent", api_key)
}

fn row(api_key: &str, own_secret: bool, via: Option<&str>, account: Option<&str>) -> KeyJob {
    testkit::row(
        keyrevoke_htx::EXCHANGE.id,
        api_key,
        own_secret,
        via.map(credential),
        account,
    )
}

struct Htx;

impl conformance::Subject for Htx {
    type Connector = HtxConnector;

    fn exchange() -> ExchangeId {
        keyrevoke_htx::EXCHANGE.id
    }

    fn connector(h: &SimHandle) -> HtxConnector {
        testkit::connector(h, Self::exchange(), HtxConnector::new)
    }

    fn keys() -> Vec<SimKey> {
        keys()
    }

    fn managed_row() -> KeyJob {
        row(SUB, false, Some(PARENT), Some(SUB_USER))
    }

    /// HTX documents no IP ban beyond its rate limit.
    fn documents_ip_ban() -> bool {
        false
    }

    /// HTX's docs publish no signature with its secret (the "Signature
    /// Method" example's `4F65x5A2…` is computed with a key that is not
    /// shown), so no signature of theirs can be rebuilt. What the docs do
    /// print is checked: step 5's sorted, encoded query and step 6's
    /// pre-signed text, from the example's inputs. The signatures are
    /// pinned to ccxt 4.5.90's requests for the calls keyrevoke makes
    /// (test_data/ccxt_vectors.json, from ../shared/vectors/htx.json; host
    /// `api.huobi.pro`, the one the docs name).
    fn signing() -> Signing {
        const SOURCE: &str = "HTX API docs, \"Authentication\", \"Signature Method\"";
        let query = canonical_query(&[
            ("AccessKeyId", "e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx".into()),
            ("order-id", "1234567890".into()),
            ("SignatureMethod", "HmacSHA256".into()),
            ("SignatureVersion", "2".into()),
            ("Timestamp", "2017-05-11T15:19:30".into()),
        ]);
        Signing {
            published: vec![
                Published {
                    source: SOURCE,
                    ours: query.clone(),
                    documented: "AccessKeyId=e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2017-05-11T15%3A19%3A30&order-id=1234567890",
                },
                Published {
                    source: SOURCE,
                    ours: prehash(&Method::GET, "api.huobi.pro", "/v1/order/orders", &query),
                    documented: "GET\napi.huobi.pro\n/v1/order/orders\nAccessKeyId=e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2017-05-11T15%3A19%3A30&order-id=1234567890",
                },
            ],
            captured: vec![Captured {
                file: "test_data/ccxt_vectors.json",
                json: include_str!("../test_data/ccxt_vectors.json"),
                origin: "https://api.huobi.pro",
                ignore_headers: &[],
                build: ccxt_request,
            }],
        }
    }
}

/// ccxt's request for one vector, built by the connector's own endpoint
/// table, bodies and signer.
fn ccxt_request(v: &serde_json::Value) -> Option<PreparedRequest> {
    let (endpoint, body) = match v["what"].as_str()? {
        "parent deletes a sub-user key (host in the prehash: api.huobi.pro)" => (
            &endpoints::DELETE_SUB_KEY,
            Some(endpoints::delete_body(
                "310001",
                "aaaaaaaa-bbbbbbbb-cccccccc-ddddd",
            )),
        ),
        "liveness probe" => (&endpoints::UID, None),
        _ => return None,
    };
    let (api_key, secret, _) = signing::credentials(v);
    let secret = Secret::from(secret);
    let signer = Signer {
        api_key,
        secret: &secret,
        host: "api.huobi.pro",
    };
    Some(signer.sign(
        endpoint.method.clone(),
        endpoint.path,
        &[],
        body.as_deref(),
        signing::clock_ms(v),
    ))
}

#[tokio::test]
async fn the_shared_connector_cases_pass() {
    conformance::run::<Htx>().await;
}

async fn setup() -> (SimHandle, HtxConnector) {
    let h = testkit::start(keyrevoke_htx::EXCHANGE.id, Faults::default(), keys()).await;
    let c = testkit::connector(&h, keyrevoke_htx::EXCHANGE.id, HtxConnector::new);
    (h, c)
}

fn held(h: &SimHandle, api_key: &str) -> SimKey {
    h.exchange(keyrevoke_htx::EXCHANGE.id)
        .keys
        .get(api_key)
        .expect("held")
}

#[tokio::test]
async fn the_parent_deletes_a_sub_key_then_its_query_says_dead() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(PARENT), Some(SUB_USER));
    assert!(c.check(&j).is_empty(), "{:?}", c.check(&j));
    assert_eq!(
        c.routes(&j),
        vec![
            Route::DeleteByMaster,
            Route::DisableByMaster,
            Route::Escalate
        ]
    );
    let p = c.probe(&j).await.expect("the parent queries the sub key");
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.permissions, vec!["readOnly", "trade"]);
    assert_eq!(p.can_move_funds, Some(true), "trade transfers");
    c.perform(Route::DeleteByMaster, &j).await.expect("deleted");
    assert_eq!(held(&h, SUB).state, KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
    assert_eq!(
        held(&h, OTHER_SUB).state,
        KeyState::Alive,
        "nothing else touched"
    );
}

/// The disable sends the permission and the IPs both: read-only, bound to
/// the unroutable address. The note is kept.
#[tokio::test]
async fn the_disable_leaves_the_key_read_only_and_unreachable() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(PARENT), Some(SUB_USER));
    c.perform(Route::DisableByMaster, &j)
        .await
        .expect("disabled");
    let k = held(&h, SUB);
    assert_eq!(k.state, KeyState::Alive);
    assert_eq!(k.permissions, vec!["readOnly"]);
    assert!(k.read_only);
    assert_eq!(k.ips, vec![endpoints::UNROUTABLE_IP]);
    assert!(!k.allows_loopback());
    assert_eq!(k.label.as_deref(), Some("bot-1"), "the note is kept");
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.permissions, vec!["readOnly"]);
    assert_eq!(p.can_move_funds, Some(false));
}

#[tokio::test]
async fn a_parent_key_without_trade_is_refused_and_touches_nothing() {
    let (h, c) = setup().await;
    let j = row(SUB, false, Some(READER), Some(SUB_USER));
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
async fn a_key_probes_itself_by_its_uid() {
    let (h, c) = setup().await;
    let j = row(OTHER_SUB, true, None, None);
    assert_eq!(c.routes(&j), vec![Route::Escalate]);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive);
    assert_eq!(p.can_move_funds, None, "the UID shows no permissions");
    let sim = h.exchange(keyrevoke_htx::EXCHANGE.id);
    sim.keys
        .update(OTHER_SUB, |k| k.ips = vec!["203.0.113.9".into()]);
    let p = c.probe(&j).await.unwrap();
    assert_eq!(p.liveness, Liveness::Alive, "bound elsewhere: alive");
    assert_eq!(p.permissions, vec!["ip_restricted"]);
    sim.keys.update(OTHER_SUB, |k| k.state = KeyState::Deleted);
    assert_eq!(c.probe(&j).await.unwrap().liveness, Liveness::Dead);
}

#[tokio::test]
async fn rows_that_name_no_numeric_sub_user_are_reported() {
    let (_h, c) = setup().await;
    let named = c.check(&row(SUB, false, Some(PARENT), Some("htxsub")));
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].field, "account");
    let missing = c.check(&row(SUB, false, Some(PARENT), None));
    assert_eq!(missing[0].field, "account");
    assert!(
        c.check(&row(SUB, true, None, None)).is_empty(),
        "no credential, nothing to name"
    );
}

#[tokio::test]
async fn the_parent_lists_its_sub_users_then_each_ones_keys() {
    use keyrevoke_core::discovery::PageRequest;
    let (_h, c) = setup().await;
    assert!(c.can_discover());
    let parent = credential(PARENT);
    let users = c.discover(&parent, &PageRequest::start()).await.unwrap();
    assert_eq!(users.accounts, vec![SUB_USER, OTHER_SUB_USER]);
    assert_eq!(users.next, None);
    let keys = c
        .discover(&parent, &PageRequest::keys_of(SUB_USER))
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
    assert!(keys.keys.iter().all(|k| k.account == SUB_USER));
    // A sub user's key lists nothing: only a parent has sub users.
    let refused = c
        .discover(&credential(OTHER_SUB), &PageRequest::start())
        .await;
    assert!(
        matches!(refused, Err(ref f) if matches!(f.error, ConnectorError::Unsupported(_))),
        "{:?}",
        refused.err()
    );
}

/// The sub-user list is paged: `nextId` continues it as `fromId`, and
/// every sub user is found once.
#[tokio::test]
async fn a_long_sub_user_list_is_followed_page_by_page() {
    use keyrevoke_core::discovery::PageRequest;
    let mut many = vec![key(PARENT, PARENT_UID, &["readOnly", "trade"])];
    for i in 0..150 {
        many.push(
            key(
                &format!("htxMANY{i:04}"),
                &(400_000 + i).to_string(),
                &["readOnly"],
            )
            .sub_of(PARENT_UID),
        );
    }
    let h = testkit::start_unlimited(keyrevoke_htx::EXCHANGE.id, many).await;
    let c = testkit::connector(&h, keyrevoke_htx::EXCHANGE.id, HtxConnector::new);
    let parent = credential(PARENT);
    let mut request = PageRequest::start();
    let mut seen = Vec::new();
    loop {
        let page = c.discover(&parent, &request).await.unwrap();
        seen.extend(page.accounts);
        match page.next {
            Some(next) => request = request.continued(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..150).map(|i| (400_000 + i).to_string()).collect();
    assert_eq!(seen, expected);
}
