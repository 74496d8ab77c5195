//! Against a real OpenBao dev server (see `crate::test_support`).

use super::*;
use crate::test_support::OpenBao;
use serde_json::{Value, json};

const CURRENT: &str = "secret/data/keyrevoke/okx/mm-1";
const PENDING: &str = "secret/data/keyrevoke/okx/mm-1.pending";
const CURRENT_METADATA: &str = "secret/metadata/keyrevoke/okx/mm-1";
const PENDING_METADATA: &str = "secret/metadata/keyrevoke/okx/mm-1.pending";

fn sink_with(bao: &OpenBao, token: &str, mount: &str) -> VaultSink {
    VaultSink::new(
        Url::parse(bao.address()).unwrap(),
        Secret::from(token),
        mount,
        "keyrevoke/",
    )
    .unwrap()
}

fn sink(bao: &OpenBao) -> VaultSink {
    sink_with(bao, bao.root_token(), "secret")
}

fn secret(api_key: &str, api_secret: &str) -> RotatedSecret {
    RotatedSecret {
        exchange: "okx".into(),
        label: "mm-1".into(),
        api_key: api_key.into(),
        api_secret: Secret::from(api_secret),
        passphrase: Some(Secret::from("Pp-generated-1")),
        created_at: "2026-11-29T10:00:00Z".into(),
        replaces: "old1…9xyz".into(),
    }
}

/// `data.data` at `path` (optionally one version), `None` when absent.
fn read(bao: &OpenBao, path: &str) -> Option<Value> {
    let (status, answer) = bao.request("GET", path, None).unwrap();
    match status {
        404 => None,
        200 => Some(answer["data"]["data"].clone()),
        other => panic!("GET {path}: HTTP {other}: {answer}"),
    }
}

fn api_key_at(bao: &OpenBao, path: &str) -> String {
    read(bao, path).unwrap_or_else(|| panic!("nothing at {path}"))["api_key"]
        .as_str()
        .unwrap()
        .to_string()
}

fn current_version(bao: &OpenBao) -> u64 {
    let (status, answer) = bao.request("GET", CURRENT_METADATA, None).unwrap();
    match status {
        404 => 0,
        _ => answer["data"]["current_version"].as_u64().unwrap(),
    }
}

fn pending_exists(bao: &OpenBao) -> bool {
    bao.request("GET", PENDING_METADATA, None).unwrap().0 == 200
}

macro_rules! openbao {
    ($test:literal) => {
        match OpenBao::start($test) {
            Some(bao) => bao,
            None => return,
        }
    };
}

#[tokio::test]
async fn stored_pending_then_promoted_with_the_whole_json_object() {
    let bao = openbao!("stored_pending_then_promoted_with_the_whole_json_object");
    let sink = sink(&bao);
    sink.preflight().await.unwrap();
    assert_eq!(sink.location("okx", "mm-1"), CURRENT);

    sink.store_pending(&secret("key-a", "secret-a"))
        .await
        .unwrap();
    let expected = json!({
        "exchange": "okx",
        "label": "mm-1",
        "api_key": "key-a",
        "api_secret": "secret-a",
        "passphrase": "Pp-generated-1",
        "created_at": "2026-11-29T10:00:00Z",
        "replaces": "old1…9xyz",
    });
    assert_eq!(read(&bao, PENDING), Some(expected.clone()));
    assert_eq!(read(&bao, CURRENT), None, "pending is not current");

    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    assert_eq!(read(&bao, CURRENT), Some(expected));
    assert_eq!(current_version(&bao), 1);
    assert!(
        !pending_exists(&bao),
        "the pending path and its metadata are gone"
    );

    // Repeated after a crash before the journal recorded it: no change.
    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    assert_eq!(current_version(&bao), 1, "no duplicate version");
}

#[tokio::test]
async fn the_replaced_secret_stays_as_the_prior_kv_version() {
    let bao = openbao!("the_replaced_secret_stays_as_the_prior_kv_version");
    let sink = sink(&bao);
    sink.store_pending(&secret("key-a", "sa")).await.unwrap();
    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    sink.store_pending(&secret("key-b", "sb")).await.unwrap();
    assert_eq!(
        api_key_at(&bao, CURRENT),
        "key-a",
        "a store leaves current alone"
    );

    sink.promote("okx", "mm-1", "key-b").await.unwrap();
    assert_eq!(current_version(&bao), 2);
    assert_eq!(api_key_at(&bao, CURRENT), "key-b");
    assert_eq!(api_key_at(&bao, &format!("{CURRENT}?version=1")), "key-a");
    assert_eq!(
        read(&bao, &format!("{CURRENT}?version=1")).unwrap()["api_secret"],
        "sa"
    );
}

#[tokio::test]
async fn a_write_between_read_and_promote_is_refused_by_check_and_set() {
    let bao = openbao!("a_write_between_read_and_promote_is_refused_by_check_and_set");
    let sink = sink(&bao);
    sink.store_pending(&secret("key-a", "sa")).await.unwrap();
    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    sink.store_pending(&secret("key-b", "sb")).await.unwrap();

    let state = sink.read_for_promote("okx", "mm-1").await.unwrap();
    assert_eq!(state.current_version, 1);
    // Someone else writes the current secret meanwhile.
    bao.call(
        "POST",
        CURRENT,
        Some(&json!({ "data": { "api_key": "someone-elses" } })),
    );
    let err = sink
        .finish_promote("okx", "mm-1", "key-b", state)
        .await
        .unwrap_err();
    let SinkError::Write(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("check-and-set against version 1") && message.contains(CURRENT),
        "{message}"
    );
    assert_eq!(
        current_version(&bao),
        2,
        "nothing written over the other write"
    );
    assert_eq!(api_key_at(&bao, CURRENT), "someone-elses");
    assert_eq!(
        api_key_at(&bao, PENDING),
        "key-b",
        "the pending secret is kept"
    );
}

#[tokio::test]
async fn a_promotion_cut_after_its_write_only_deletes_the_pending_path_when_repeated() {
    let bao =
        openbao!("a_promotion_cut_after_its_write_only_deletes_the_pending_path_when_repeated");
    let sink = sink(&bao);
    sink.store_pending(&secret("key-a", "sa")).await.unwrap();
    // The state a crash between the check-and-set write and the delete leaves.
    let pending = read(&bao, PENDING).unwrap();
    bao.call("POST", CURRENT, Some(&json!({ "data": pending })));

    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    assert_eq!(current_version(&bao), 1, "not written twice");
    assert!(!pending_exists(&bao));
}

#[tokio::test]
async fn a_promotion_repeated_after_the_next_rotation_stored_leaves_that_one_pending() {
    let bao =
        openbao!("a_promotion_repeated_after_the_next_rotation_stored_leaves_that_one_pending");
    let sink = sink(&bao);
    sink.store_pending(&secret("key-a", "sa")).await.unwrap();
    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    sink.store_pending(&secret("key-b", "sb")).await.unwrap();

    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    assert_eq!(current_version(&bao), 1);
    assert_eq!(api_key_at(&bao, CURRENT), "key-a");
    assert_eq!(
        api_key_at(&bao, PENDING),
        "key-b",
        "the next rotation's secret is kept"
    );
}

#[tokio::test]
async fn a_pending_secret_of_another_key_is_not_promoted() {
    let bao = openbao!("a_pending_secret_of_another_key_is_not_promoted");
    let sink = sink(&bao);
    sink.store_pending(&secret("key-b", "sb")).await.unwrap();
    let err = sink
        .promote("okx", "mm-1", "key-zzzz-other")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SinkError::Write(m) if m.contains("is for key")),
        "{err:?}"
    );
    assert_eq!(current_version(&bao), 0);
    assert!(pending_exists(&bao));

    let err = sink.promote("okx", "never", "k").await.unwrap_err();
    assert!(
        matches!(&err, SinkError::Write(m) if m.starts_with("nothing to promote")),
        "{err:?}"
    );
}

#[tokio::test]
async fn discard_removes_only_the_pending_secret_and_is_idempotent() {
    let bao = openbao!("discard_removes_only_the_pending_secret_and_is_idempotent");
    let sink = sink(&bao);
    sink.store_pending(&secret("key-a", "sa")).await.unwrap();
    sink.promote("okx", "mm-1", "key-a").await.unwrap();
    sink.store_pending(&secret("key-b", "sb")).await.unwrap();

    sink.discard_pending("okx", "mm-1").await.unwrap();
    assert!(!pending_exists(&bao));
    assert_eq!(api_key_at(&bao, CURRENT), "key-a");
    sink.discard_pending("okx", "mm-1").await.unwrap();
    sink.discard_pending("okx", "never-stored").await.unwrap();
    assert_eq!(current_version(&bao), 1);
}

#[tokio::test]
async fn a_token_without_write_policy_passes_preflight_but_cannot_store() {
    let bao = openbao!("a_token_without_write_policy_passes_preflight_but_cannot_store");
    let token = bao.token_with_policy(
        "keyrevoke-read-only",
        r#"
        path "secret/data/keyrevoke/*" { capabilities = ["read"] }
        path "secret/metadata/keyrevoke/*" { capabilities = ["read"] }
        "#,
    );
    let sink = sink_with(&bao, &token, "secret");
    // sys/mounts/secret is refused to this token: the preflight's fallback
    // reads the mount as the CLI does.
    assert_eq!(
        bao.request_as(&token, "GET", "sys/mounts/secret", None)
            .unwrap()
            .0,
        403
    );
    sink.preflight().await.unwrap();

    let err = sink
        .store_pending(&secret("key-a", "sa"))
        .await
        .unwrap_err();
    let SinkError::Write(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("permission denied") && message.contains(PENDING),
        "{message}"
    );
    assert!(!message.contains(&token), "{message}");
    assert!(!message.contains('\n'), "one line: {message:?}");
    assert!(!pending_exists(&bao), "nothing stored");
}

#[tokio::test]
async fn preflight_names_a_bad_token_a_mount_that_is_not_kv_v2_and_an_unreachable_server() {
    let bao =
        openbao!("preflight_names_a_bad_token_a_mount_that_is_not_kv_v2_and_an_unreachable_server");
    bao.call(
        "POST",
        "sys/mounts/kv-one",
        Some(&json!({ "type": "kv", "options": { "version": "1" } })),
    );

    let config_error = |err: SinkError| match err {
        SinkError::Config(m) => m,
        other => panic!("{other:?}"),
    };
    let wrong = "hvs.not-a-token-of-this-server";
    let message = config_error(
        sink_with(&bao, wrong, "secret")
            .preflight()
            .await
            .unwrap_err(),
    );
    assert!(
        message.starts_with("sink.token: vault does not accept the token: permission denied"),
        "{message}"
    );
    assert!(!message.contains(wrong), "{message}");

    let root = bao.root_token();
    let message = config_error(
        sink_with(&bao, root, "cubbyhole")
            .preflight()
            .await
            .unwrap_err(),
    );
    assert_eq!(
        message,
        "sink.mount: `cubbyhole` is a `cubbyhole` mount, not KV version 2"
    );
    let message = config_error(
        sink_with(&bao, root, "kv-one")
            .preflight()
            .await
            .unwrap_err(),
    );
    assert!(
        message.starts_with("sink.mount: `kv-one` is KV version 1"),
        "{message}"
    );
    let message = config_error(
        sink_with(&bao, root, "nowhere")
            .preflight()
            .await
            .unwrap_err(),
    );
    assert!(
        message.starts_with("sink.mount: vault has no mount `nowhere`"),
        "{message}"
    );

    let address = bao.address().to_string();
    bao.stop();
    let gone = VaultSink::new(
        Url::parse(&address).unwrap(),
        Secret::from("t"),
        "secret",
        "",
    )
    .unwrap();
    let message = config_error(gone.preflight().await.unwrap_err());
    assert!(message.starts_with("sink.address: "), "{message}");
}

#[test]
fn a_mount_or_prefix_that_is_not_a_plain_path_is_refused() {
    let url = Url::parse("http://127.0.0.1:8200").unwrap();
    let new = |mount: &str, prefix: &str| {
        VaultSink::new(url.clone(), Secret::from("t"), mount, prefix).map(|_| ())
    };
    assert!(new("secret", "keyrevoke/").is_ok());
    assert!(new("/team/kv/", "").is_ok());
    assert!(new("secret", "a/b/c-").is_ok());
    for (mount, prefix, field) in [
        ("", "x/", "sink.mount"),
        ("a//b", "x/", "sink.mount"),
        ("secret", "../x/", "sink.prefix"),
        ("secret", "a//b/", "sink.prefix"),
        ("secret", "a b/", "sink.prefix"),
        ("secret", "x?y/", "sink.prefix"),
    ] {
        let err = new(mount, prefix).unwrap_err().to_string();
        assert!(err.starts_with(field), "{mount:?} {prefix:?}: {err}");
    }
}
