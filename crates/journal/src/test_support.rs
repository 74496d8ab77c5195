//! Scenarios every engine must pass, and builders for their inputs. Each
//! engine's tests call these on a fresh journal.

use keyrevoke_core::exchange::ExchangeId;
use keyrevoke_core::model::{Action, Route, State};
use keyrevoke_core::secret::{Fingerprint, mask_key};
use keyrevoke_core::store::{
    EntryId, JobEntry, JobStore, KeyTiming, NewEntry, SourceRef, Transition,
};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lease of the journal [`renewed_leases_stay_released_ones_come_back`]
/// runs on: short enough to wait out, long enough that a loaded machine's
/// scheduling delays stay well inside its margins.
pub const SHORT_LEASE: Duration = Duration::from_secs(2);

/// A key to revoke; `key` stands for the API key, which only its
/// fingerprint and masked form represent.
pub fn new_entry(exchange: ExchangeId, key: &str, rank: u32, offset: u64) -> NewEntry {
    NewEntry {
        rate_account: None,
        exchange,
        fingerprint: Fingerprint::of(key),
        masked: mask_key(key),
        label: Some(format!("label of {key}")),
        action: Action::Revoke,
        rank,
        source: SourceRef {
            offset,
            len: 40,
            line: offset + 2,
        },
    }
}

pub fn transition(id: EntryId, state: State) -> Transition {
    Transition {
        id,
        state,
        route: Some(Route::DeleteSelf),
        attempts: 1,
        code: None,
        message: None,
        probe: None,
    }
}

fn keys_of(entries: &[JobEntry]) -> Vec<String> {
    entries.iter().map(|e| e.masked.clone()).collect()
}

fn fingerprint_of(entries: &[JobEntry], key: &str) -> JobEntry {
    let fingerprint = Fingerprint::of(key);
    entries
        .iter()
        .find(|e| e.fingerprint == fingerprint)
        .unwrap_or_else(|| panic!("no entry for key {key} among {:?}", keys_of(entries)))
        .clone()
}

async fn claim_all(store: &dyn JobStore, exchange: ExchangeId) -> Vec<JobEntry> {
    store.claim(exchange, 1000).await.expect("claim")
}

pub async fn enqueue_merges_duplicates_and_resumes_earlier_passes(store: &dyn JobStore) {
    let first = store.begin_pass().await.expect("begin pass");
    let stats = store
        .enqueue(
            first,
            &[
                new_entry(ExchangeId::new("bybit"), "key-a-0000000001", 0, 0),
                new_entry(ExchangeId::new("bybit"), "key-b-0000000002", 0, 100),
                new_entry(ExchangeId::new("bybit"), "key-a-0000000001", 0, 200),
            ],
        )
        .await
        .expect("enqueue first batch");
    assert_eq!(
        (stats.inserted, stats.duplicates, stats.resumed),
        (2, 1, 0),
        "a key repeated within a batch is one entry plus one duplicate"
    );
    let stats = store
        .enqueue(
            first,
            &[
                new_entry(ExchangeId::new("bybit"), "key-b-0000000002", 0, 300),
                new_entry(ExchangeId::new("bybit"), "key-c-0000000003", 0, 400),
            ],
        )
        .await
        .expect("enqueue second batch");
    assert_eq!(
        (stats.inserted, stats.duplicates, stats.resumed),
        (1, 1, 0),
        "a key an earlier batch of the same pass enqueued is a duplicate, not resumed"
    );

    // Finish key a, then run a second pass over a rewritten inventory.
    let a = fingerprint_of(
        &claim_all(store, ExchangeId::new("bybit")).await,
        "key-a-0000000001",
    );
    store
        .record(transition(a.id, State::Revoked))
        .await
        .expect("record revoked");

    let second = store.begin_pass().await.expect("begin second pass");
    assert!(
        second > first,
        "pass numbers must increase: {first} then {second}"
    );
    let stats = store
        .enqueue(
            second,
            &[
                new_entry(ExchangeId::new("bybit"), "key-a-0000000001", 5, 1000),
                new_entry(ExchangeId::new("bybit"), "key-b-0000000002", 5, 2000),
                new_entry(ExchangeId::new("bybit"), "key-c-0000000003", 5, 3000),
                new_entry(ExchangeId::new("bybit"), "key-d-0000000004", 5, 4000),
                new_entry(ExchangeId::new("bybit"), "key-b-0000000002", 5, 5000),
            ],
        )
        .await
        .expect("enqueue second pass");
    assert_eq!(
        (stats.inserted, stats.duplicates, stats.resumed),
        (1, 1, 3),
        "rows from an earlier pass are resumed, a new key inserted, a repeat merged"
    );

    let revoked = store
        .list(ExchangeId::new("bybit"), State::Revoked)
        .await
        .unwrap();
    assert_eq!(
        revoked[0].source.offset, 0,
        "a finished entry must keep its source when the inventory is re-read"
    );
    let pending = store
        .list(ExchangeId::new("bybit"), State::Pending)
        .await
        .unwrap();
    assert_eq!(
        fingerprint_of(&pending, "key-b-0000000002").source.offset,
        2000,
        "an unfinished entry must take the rewritten inventory's position"
    );
    assert_eq!(pending.len(), 3, "b, c and d are pending");
}

pub async fn claims_follow_rank_then_inventory_order(store: &dyn JobStore) {
    let pass = store.begin_pass().await.unwrap();
    // Two accounts: X has three keys (ranks 0, 1, 2), Y two (ranks 0, 1).
    // Claiming by rank interleaves them: X0 Y0 X1 Y1 X2.
    store
        .enqueue(
            pass,
            &[
                new_entry(ExchangeId::new("okx"), "account-x-key-0", 0, 0),
                new_entry(ExchangeId::new("okx"), "account-x-key-1", 1, 100),
                new_entry(ExchangeId::new("okx"), "account-x-key-2", 2, 200),
                new_entry(ExchangeId::new("okx"), "account-y-key-0", 0, 300),
                new_entry(ExchangeId::new("okx"), "account-y-key-1", 1, 400),
                new_entry(ExchangeId::new("bybit"), "another-exchange", 0, 500),
            ],
        )
        .await
        .unwrap();
    let first = store.claim(ExchangeId::new("okx"), 3).await.unwrap();
    let rest = store.claim(ExchangeId::new("okx"), 10).await.unwrap();
    let order: Vec<String> = first
        .iter()
        .chain(&rest)
        .map(|e| e.masked.clone())
        .collect();
    let expected: Vec<String> = [
        "account-x-key-0",
        "account-y-key-0",
        "account-x-key-1",
        "account-y-key-1",
        "account-x-key-2",
    ]
    .iter()
    .map(|k| mask_key(k))
    .collect();
    assert_eq!(
        order, expected,
        "claim order must be rank, then source offset"
    );
    assert_eq!(first.len(), 3, "claim must honour its limit");
}

pub async fn claims_skip_finished_and_leased_entries(store: &dyn JobStore) {
    let pass = store.begin_pass().await.unwrap();
    let batch: Vec<NewEntry> = (0..6)
        .map(|i| {
            new_entry(
                ExchangeId::new("kucoin"),
                &format!("kucoin-key-{i:04}"),
                0,
                i * 10,
            )
        })
        .collect();
    store.enqueue(pass, &batch).await.unwrap();

    let first = store.claim(ExchangeId::new("kucoin"), 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let second = store.claim(ExchangeId::new("kucoin"), 100).await.unwrap();
    assert_eq!(second.len(), 4, "leased entries must not be claimed twice");
    let first_ids: HashSet<EntryId> = first.iter().map(|e| e.id).collect();
    assert!(
        second.iter().all(|e| !first_ids.contains(&e.id)),
        "a second claim returned an entry that is still leased"
    );
    assert!(
        store
            .claim(ExchangeId::new("kucoin"), 100)
            .await
            .unwrap()
            .is_empty(),
        "everything is leased: nothing left to claim"
    );

    // Finish one in each terminal state, leave one unknown and one in flight.
    let all: Vec<JobEntry> = first.into_iter().chain(second).collect();
    store
        .record(transition(all[0].id, State::Revoked))
        .await
        .unwrap();
    store
        .record(transition(all[1].id, State::Failed))
        .await
        .unwrap();
    store
        .record(transition(all[2].id, State::AlreadyDead))
        .await
        .unwrap();
    store
        .record(transition(all[3].id, State::Escalated))
        .await
        .unwrap();
    store
        .record(transition(all[4].id, State::Unknown))
        .await
        .unwrap();
    store
        .record(transition(all[5].id, State::InFlight))
        .await
        .unwrap();
    let ids: Vec<EntryId> = all.iter().map(|e| e.id).collect();
    store.release(&ids).await.unwrap();

    let reclaimed = store.claim(ExchangeId::new("kucoin"), 100).await.unwrap();
    let states: Vec<State> = reclaimed.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        vec![State::Unknown, State::InFlight],
        "only unfinished entries may be claimed once their leases are released"
    );
}

pub async fn counts_and_lists_report_states(store: &dyn JobStore) {
    let pass = store.begin_pass().await.unwrap();
    store
        .enqueue(
            pass,
            &[
                new_entry(ExchangeId::new("binance"), "binance-key-3", 0, 30),
                new_entry(ExchangeId::new("binance"), "binance-key-1", 0, 10),
                new_entry(ExchangeId::new("binance"), "binance-key-2", 0, 20),
                new_entry(ExchangeId::new("gate"), "gate-key-1", 0, 10),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.exchanges_with_work().await.unwrap(),
        vec![ExchangeId::new("binance"), ExchangeId::new("gate")]
    );
    let gate = claim_all(store, ExchangeId::new("gate")).await;
    store
        .record(transition(gate[0].id, State::Revoked))
        .await
        .unwrap();
    let binance = claim_all(store, ExchangeId::new("binance")).await;
    let key2 = fingerprint_of(&binance, "binance-key-2");
    store
        .record(transition(key2.id, State::Escalated))
        .await
        .unwrap();

    let counts = store.counts().await.unwrap();
    let expected: BTreeMap<String, BTreeMap<String, u64>> = [
        (
            "binance".to_string(),
            [("pending".to_string(), 2), ("escalated".to_string(), 1)].into(),
        ),
        ("gate".to_string(), [("revoked".to_string(), 1)].into()),
    ]
    .into();
    assert_eq!(
        counts.by_exchange, expected,
        "counts must hold only non-zero states"
    );
    assert_eq!(
        store.exchanges_with_work().await.unwrap(),
        vec![ExchangeId::new("binance")],
        "an exchange whose entries are all finished has no work"
    );

    let pending = store
        .list(ExchangeId::new("binance"), State::Pending)
        .await
        .unwrap();
    assert_eq!(
        keys_of(&pending),
        vec![mask_key("binance-key-1"), mask_key("binance-key-3")],
        "list must be ordered by source line"
    );
    let escalated = store
        .list(ExchangeId::new("binance"), State::Escalated)
        .await
        .unwrap();
    assert_eq!(escalated.len(), 1);
    let entry = &escalated[0];
    assert_eq!(entry.fingerprint, Fingerprint::of("binance-key-2"));
    assert_eq!(entry.label.as_deref(), Some("label of binance-key-2"));
    assert_eq!(entry.route, Some(Route::DeleteSelf));
    assert_eq!(entry.attempts, 1);
    assert_eq!(
        entry.source,
        SourceRef {
            offset: 20,
            len: 40,
            line: 22
        }
    );
    assert!(
        store
            .list(ExchangeId::new("gate"), State::Pending)
            .await
            .unwrap()
            .is_empty(),
        "no pending gate entries remain"
    );
}

/// Reports need when work on a key began (its first claim, kept across
/// re-claims) and when its outcome was recorded (cleared if it goes back to
/// unfinished).
pub async fn timings_keep_the_first_claim_and_the_outcome_time(store: &dyn JobStore) {
    let pass = store.begin_pass().await.unwrap();
    store
        .enqueue(
            pass,
            &[
                new_entry(ExchangeId::new("okx"), "okx-key-1", 0, 10),
                new_entry(ExchangeId::new("okx"), "okx-key-2", 1, 20),
                new_entry(ExchangeId::new("okx"), "okx-key-3", 2, 30),
            ],
        )
        .await
        .unwrap();
    let unclaimed = store.timings().await.unwrap();
    assert!(
        unclaimed
            .iter()
            .all(|t| t.started_at.is_none() && t.finished_at.is_none()),
        "nothing claimed yet: {unclaimed:?}"
    );
    let before = keyrevoke_core::http::unix_ms();
    let claimed = claim_all(store, ExchangeId::new("okx")).await;
    let key1 = fingerprint_of(&claimed, "okx-key-1");
    let key2 = fingerprint_of(&claimed, "okx-key-2");
    store
        .record(transition(key1.id, State::Revoked))
        .await
        .unwrap();
    let mut pending_again = transition(key2.id, State::Pending);
    pending_again.attempts = 3;
    store.record(pending_again).await.unwrap();
    store.release(&[key2.id]).await.unwrap();

    let first = store.timings().await.unwrap();
    assert_eq!(first.len(), 3);
    let timing_of = |all: &[KeyTiming], key: &str| {
        all.iter()
            .find(|t| t.fingerprint == Fingerprint::of(key))
            .unwrap_or_else(|| panic!("no timing for {key}"))
            .clone()
    };
    let key1_timing = timing_of(&first, "okx-key-1");
    let started = key1_timing.started_at.expect("a claimed key has a start");
    let finished = key1_timing.finished_at.expect("a revoked key has a finish");
    // The server clock (PostgreSQL) may differ from ours by a little.
    assert!(
        started >= before - 5_000 && finished >= started,
        "started {started}, finished {finished}, test began {before}"
    );
    assert_eq!(
        (key1_timing.state, key1_timing.route, key1_timing.attempts),
        (State::Revoked, Some(Route::DeleteSelf), 1)
    );
    let key2_first = timing_of(&first, "okx-key-2");
    assert_eq!(
        key2_first.finished_at, None,
        "a pending key is not finished"
    );
    assert_eq!(key2_first.attempts, 3);

    // Claimed again later: its start is still the first claim.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let again = claim_all(store, ExchangeId::new("okx")).await;
    assert!(again.iter().any(|e| e.id == key2.id), "key 2 is claimable");
    store
        .record(transition(key2.id, State::Escalated))
        .await
        .unwrap();
    let second = store.timings().await.unwrap();
    let key2_second = timing_of(&second, "okx-key-2");
    assert_eq!(
        key2_second.started_at, key2_first.started_at,
        "a re-claim must not move the first claim"
    );
    assert!(key2_second.finished_at.is_some());
}

pub async fn released_entries_can_be_claimed_again(store: &dyn JobStore) {
    let pass = store.begin_pass().await.unwrap();
    let batch: Vec<NewEntry> = (0..3)
        .map(|i| new_entry(ExchangeId::new("mexc"), &format!("mexc-key-{i:04}"), 0, i))
        .collect();
    store.enqueue(pass, &batch).await.unwrap();
    let claimed = claim_all(store, ExchangeId::new("mexc")).await;
    assert_eq!(claimed.len(), 3);
    store.release(&[claimed[1].id]).await.unwrap();
    let again = claim_all(store, ExchangeId::new("mexc")).await;
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![claimed[1].id],
        "exactly the released entry must be claimable again"
    );
    assert_eq!(
        again[0].state,
        State::Pending,
        "release must not change the state"
    );
    store.release(&[]).await.expect("releasing nothing is fine");
}

/// A transition for an id no entry has fails its own caller only; the
/// others committed with it land.
pub async fn an_unknown_id_fails_only_its_own_record(store: &dyn JobStore) {
    let pass = store.begin_pass().await.unwrap();
    store
        .enqueue(
            pass,
            &[new_entry(ExchangeId::new("htx"), "htx-key-000001", 0, 0)],
        )
        .await
        .unwrap();
    let id = claim_all(store, ExchangeId::new("htx")).await[0].id;
    let missing = id + 1_000_000;
    let (known, unknown) = tokio::join!(
        store.record(transition(id, State::Revoked)),
        store.record(transition(missing, State::Revoked)),
    );
    known.expect("the known entry's transition must land");
    let err = unknown.expect_err("a transition for no entry must be refused");
    assert!(
        err.to_string().contains(&missing.to_string()),
        "unhelpful error: {err}"
    );
    let revoked = store
        .list(ExchangeId::new("htx"), State::Revoked)
        .await
        .unwrap();
    assert_eq!(revoked.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id]);
}

pub async fn record_updates_fields_and_keeps_the_last_probe(store: &dyn JobStore) {
    let pass = store.begin_pass().await.unwrap();
    store
        .enqueue(
            pass,
            &[new_entry(ExchangeId::new("htx"), "htx-key-000001", 0, 0)],
        )
        .await
        .unwrap();
    let id = claim_all(store, ExchangeId::new("htx")).await[0].id;
    let probe = r#"{"alive":true}"#.to_string();
    store
        .record(Transition {
            id,
            state: State::Unknown,
            route: Some(Route::DisableByMaster),
            attempts: 2,
            code: Some("10006".into()),
            message: Some("rate limited".into()),
            probe: Some(probe.clone()),
        })
        .await
        .unwrap();
    store
        .record(Transition {
            id,
            state: State::Disabled,
            route: Some(Route::DisableByMaster),
            attempts: 3,
            code: None,
            message: None,
            probe: None,
        })
        .await
        .unwrap();
    let entry = &store
        .list(ExchangeId::new("htx"), State::Disabled)
        .await
        .unwrap()[0];
    assert_eq!(entry.attempts, 3);
    assert_eq!(entry.route, Some(Route::DisableByMaster));
    assert_eq!(entry.code, None, "a transition's code replaces the old one");
    assert_eq!(
        entry.probe.as_deref(),
        Some(probe.as_str()),
        "a transition without a probe must keep the last probe"
    );

    let err = store
        .record(transition(987_654_321, State::Revoked))
        .await
        .expect_err("recording an entry that does not exist must fail");
    assert!(
        err.to_string().contains("987654321"),
        "unhelpful error: {err}"
    );
}

/// `n` tasks each record one transition at once; all must be confirmed and
/// visible afterwards.
pub async fn concurrent_records_all_land(store: Arc<dyn JobStore>, n: usize) {
    let pass = store.begin_pass().await.unwrap();
    let batch: Vec<NewEntry> = (0..n)
        .map(|i| {
            new_entry(
                ExchangeId::new("deribit"),
                &format!("deribit-key-{i:06}"),
                0,
                i as u64,
            )
        })
        .collect();
    store.enqueue(pass, &batch).await.unwrap();
    let claimed = store.claim(ExchangeId::new("deribit"), n).await.unwrap();
    assert_eq!(claimed.len(), n);

    let tasks: Vec<_> = claimed
        .iter()
        .map(|entry| {
            let store = store.clone();
            let id = entry.id;
            tokio::spawn(async move { store.record(transition(id, State::Revoked)).await })
        })
        .collect();
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.expect("record task panicked") {
            failures.push(e.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "{} records failed, e.g. {:?}",
        failures.len(),
        failures.first()
    );
    let revoked = store
        .list(ExchangeId::new("deribit"), State::Revoked)
        .await
        .unwrap();
    assert_eq!(
        revoked.len(),
        n,
        "every confirmed record must be in the journal"
    );
}

/// Renewed leases stay with their holder past their first term; released
/// ones come back. The journal's leases last [`SHORT_LEASE`].
pub async fn renewed_leases_stay_released_ones_come_back(journal: &dyn JobStore) {
    let pass = journal.begin_pass().await.unwrap();
    let batch: Vec<NewEntry> = (0..3)
        .map(|i| new_entry(ExchangeId::new("bybit"), &format!("lease-key-{i:04}"), 0, i))
        .collect();
    journal.enqueue(pass, &batch).await.unwrap();
    let held: Vec<EntryId> = journal
        .claim(ExchangeId::new("bybit"), 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(held.len(), 3);
    // Renewed late in the first term and checked once it is over (a
    // renewal that did nothing would have let them lapse), well before the
    // renewed term ends (0.6 + 1 leases after the claim).
    let claimed_at = Instant::now();
    tokio::time::sleep(SHORT_LEASE.mul_f64(0.6)).await;
    journal.renew(&held).await.unwrap();
    tokio::time::sleep_until((claimed_at + SHORT_LEASE.mul_f64(1.1)).into()).await;
    assert!(
        journal
            .claim(ExchangeId::new("bybit"), 10)
            .await
            .unwrap()
            .is_empty(),
        "renewed leases are still held after their first term"
    );
    journal.release(&held[..1]).await.unwrap();
    let back: Vec<EntryId> = journal
        .claim(ExchangeId::new("bybit"), 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(
        back,
        held[..1].to_vec(),
        "only the released entry comes back"
    );
}

/// Named records: the last value under a name wins, a prefix selects, and
/// a name that merely contains the prefix later on is not selected.
pub async fn named_records_keep_the_last_value_by_name(store: &dyn JobStore) {
    store.put_record("rotate:bybit/a", "1").await.unwrap();
    store.put_record("rotate:bybit/b", "2").await.unwrap();
    store.put_record("rotate:bybit/a", "3").await.unwrap();
    store.put_record("other:rotate:x", "4").await.unwrap();
    assert_eq!(
        store.records("rotate:").await.unwrap(),
        vec![
            ("rotate:bybit/a".to_string(), "3".to_string()),
            ("rotate:bybit/b".to_string(), "2".to_string()),
        ]
    );
    assert!(store.records("nothing:").await.unwrap().is_empty());
}
