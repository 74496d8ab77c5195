//! Scenario tests of the whole trail: write, tamper, verify, crash, reopen.

use crate::record::{Body, seal};
use crate::*;
use keyrevoke_core::store::{AuditEvent, AuditKind, AuditSink};
use keyrevoke_core::{Action, ExchangeId, Fingerprint, Route, Secret, mask_key};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SIGNING_KEY: &str = "operator-signing-key-0123456789";

fn attempt(i: usize) -> AuditEvent {
    let api_key = format!("AKIAIOSFODNN7EXAMPLE{i:06}");
    AuditEvent {
        kind: Some(AuditKind::Attempt),
        exchange: Some(ExchangeId::new("bybit")),
        key: Some(mask_key(&api_key)),
        fingerprint: Some(Fingerprint::of(&api_key).short().to_string()),
        action: Some(Action::Revoke),
        channel: Some("delete".to_string()),
        route: Some(Route::DeleteSelf),
        http_status: Some(200),
        exchange_code: Some("0".to_string()),
        outcome: Some("revoked".to_string()),
        message: Some(format!("record {i}: \"ok\" \\ tab\t…")),
    }
}

fn key(text: &str) -> Secret {
    Secret::from(text)
}

struct Scratch {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn scratch() -> Scratch {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("audit.jsonl");
    Scratch { _dir: dir, path }
}

/// A closed log of `n` attempt records, signed with `signing_key` if given.
async fn write_log(path: &Path, n: usize, signing_key: Option<&str>) -> ChainHead {
    let (log, report) = AuditLog::open(path, signing_key.map(key)).expect("open a new log");
    assert!(report.created, "a new log should be reported as created");
    for i in 1..=n {
        log.append(attempt(i)).await.expect("append");
    }
    log.close().await.expect("close")
}

fn read_lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = fs::read(path).expect("read log");
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    fs::write(path, lines.concat()).expect("write log");
}

fn verify_fails_at(path: &Path, signing_key: Option<&str>, scenario: &str) -> (u64, Problem) {
    let signing_key = signing_key.map(key);
    match verify(path, signing_key.as_ref()) {
        Ok(report) => panic!("{scenario}: verify accepted a damaged log: {report:?}"),
        Err(VerifyError::Record { line, problem, .. }) => (line, problem),
        Err(other) => panic!("{scenario}: expected a line error, got {other}"),
    }
}

#[tokio::test]
async fn a_fresh_chain_verifies() {
    for signing_key in [None, Some(SIGNING_KEY)] {
        let s = scratch();
        let head = write_log(&s.path, 25, signing_key).await;
        let report = verify(&s.path, signing_key.map(key).as_ref()).unwrap_or_else(|e| {
            panic!(
                "fresh log (key: {}) must verify: {e}",
                signing_key.is_some()
            )
        });
        assert_eq!(
            report,
            VerifyReport {
                records: 25,
                last_seq: 25,
                last_hash: head.hash.clone(),
                signed: signing_key.is_some(),
                repairs: 0,
            }
        );
        assert_eq!(head.seq, 25, "close must report the last seq");
    }
}

#[tokio::test]
async fn an_empty_log_verifies_with_the_genesis_head() {
    let s = scratch();
    let head = write_log(&s.path, 0, None).await;
    assert_eq!(
        head,
        ChainHead {
            seq: 0,
            hash: GENESIS_PREV.to_string()
        }
    );
    let report = verify(&s.path, None).expect("empty log verifies");
    assert_eq!(
        (report.records, report.last_hash.as_str()),
        (0, GENESIS_PREV)
    );
}

#[tokio::test]
async fn lines_follow_the_documented_format() {
    let s = scratch();
    write_log(&s.path, 2, Some(SIGNING_KEY)).await;
    let text = fs::read_to_string(&s.path).unwrap();
    assert!(text.ends_with('\n'), "every line ends with a newline");
    let first = text.lines().next().unwrap();
    let order = [
        "\"seq\":1,",
        "\"time\":",
        "\"kind\":",
        "\"exchange\":",
        "\"key\":",
        "\"fingerprint\":",
        "\"action\":",
        "\"channel\":",
        "\"route\":",
        "\"http_status\":200",
        "\"exchange_code\":",
        "\"outcome\":",
        "\"message\":",
        "\"prev\":",
        "\"hash\":",
        "\"hmac\":",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|m| {
            first
                .find(m)
                .unwrap_or_else(|| panic!("member {m} missing in {first}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "members out of order in {first}"
    );
    assert!(
        first.starts_with("{\"seq\":1,\"time\":\""),
        "record must open with seq, time: {first}"
    );

    let value: serde_json::Value = serde_json::from_str(first).unwrap();
    let time = value["time"].as_str().unwrap();
    assert_eq!(
        time.len(),
        "2025-01-02T03:04:05.678Z".len(),
        "time has milliseconds: {time}"
    );
    assert!(time.ends_with('Z'), "time is UTC: {time}");
    chrono::DateTime::parse_from_rfc3339(time).expect("time is RFC 3339");
    assert_eq!(value["prev"], GENESIS_PREV, "first prev is 64 zeros");

    // The hash is SHA-256 of the line with `hash` and `hmac` taken out.
    let hash = value["hash"].as_str().unwrap();
    let cut = first.find(",\"hash\":").unwrap();
    let body = format!("{}}}", &first[..cut]);
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(body.as_bytes())), hash);
}

#[tokio::test]
async fn only_the_masked_event_lands_on_disk() {
    let s = scratch();
    let api_key = "AKIAIOSFODNN7EXAMPLE9XQZ";
    let api_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let event = AuditEvent {
        kind: Some(AuditKind::Outcome),
        exchange: Some(ExchangeId::new("binance")),
        key: Some(mask_key(api_key)),
        fingerprint: Some(Fingerprint::of(api_key).short().to_string()),
        action: Some(Action::Revoke),
        route: Some(Route::DeleteByMaster),
        outcome: Some("revoked".to_string()),
        ..AuditEvent::default()
    };
    let (log, _) = AuditLog::open(&s.path, Some(key(SIGNING_KEY))).unwrap();
    log.append(event.clone()).await.unwrap();
    log.close().await.unwrap();

    let text = fs::read_to_string(&s.path).unwrap();
    for secret in [api_key, api_secret, SIGNING_KEY] {
        assert!(
            !text.contains(secret),
            "the log must not contain {secret:?}: {text}"
        );
    }
    let record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text).unwrap();
    let members: BTreeSet<&str> = record.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "seq",
        "time",
        "kind",
        "exchange",
        "key",
        "fingerprint",
        "action",
        "route",
        "outcome",
        "prev",
        "hash",
        "hmac",
    ]
    .into();
    assert_eq!(
        members, expected,
        "exactly the event's fields plus the chain's"
    );
    assert_eq!(record["key"], "AKIA…9XQZ");
    // What was written reads back as the very event that was appended.
    let mut event_part = record.clone();
    for chain_member in ["seq", "time", "prev", "hash", "hmac"] {
        event_part.remove(chain_member);
    }
    let read_back: AuditEvent = serde_json::from_value(event_part.into()).unwrap();
    assert_eq!(read_back, event);
}

#[tokio::test]
async fn editing_any_byte_of_a_middle_record_fails_at_that_line() {
    for signing_key in [None, Some(SIGNING_KEY)] {
        let s = scratch();
        write_log(&s.path, 5, signing_key).await;
        let original = read_lines(&s.path);
        let middle = 2; // line 3
        let content_len = original[middle].len() - 1; // keep the newline
        for pos in 0..content_len {
            for replacement in [b'0', b'x'] {
                if original[middle][pos] == replacement {
                    continue;
                }
                let mut lines = original.clone();
                lines[middle][pos] = replacement;
                write_lines(&s.path, &lines);
                let scenario = format!(
                    "byte {pos} ({:?}) of line 3 set to {:?}, key: {}",
                    original[middle][pos] as char,
                    replacement as char,
                    signing_key.is_some()
                );
                let (line, _) = verify_fails_at(&s.path, signing_key, &scenario);
                assert_eq!(line, 3, "{scenario}: reported at the wrong line");
            }
        }
    }
}

#[tokio::test]
async fn an_edited_message_is_reported_as_a_hash_mismatch() {
    let s = scratch();
    write_log(&s.path, 20, None).await;
    let mut lines = read_lines(&s.path);
    let text = String::from_utf8(lines[16].clone()).unwrap();
    lines[16] = text.replace("record 17", "record 71").into_bytes();
    write_lines(&s.path, &lines);
    let err = verify(&s.path, None).expect_err("edited log must fail");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:17: hash mismatch: the record was edited",
            s.path.display()
        )
    );
}

#[tokio::test]
async fn deleting_a_middle_line_fails() {
    let s = scratch();
    write_log(&s.path, 5, None).await;
    let mut lines = read_lines(&s.path);
    lines.remove(2);
    write_lines(&s.path, &lines);
    let (line, problem) = verify_fails_at(&s.path, None, "line 3 deleted");
    assert_eq!(
        (line, problem),
        (
            3,
            Problem::SeqGap {
                expected: 3,
                found: 4
            }
        )
    );
}

#[tokio::test]
async fn inserting_a_copied_line_fails() {
    let s = scratch();
    write_log(&s.path, 5, None).await;
    let original = read_lines(&s.path);

    let mut lines = original.clone();
    lines.insert(4, original[1].clone()); // a copy of line 2 as line 5
    write_lines(&s.path, &lines);
    let (line, problem) = verify_fails_at(&s.path, None, "copy of line 2 inserted as line 5");
    assert_eq!(
        (line, problem),
        (
            5,
            Problem::SeqOutOfOrder {
                expected: 5,
                found: 2
            }
        )
    );

    let mut lines = original.clone();
    lines.insert(3, original[2].clone()); // line 3 duplicated
    write_lines(&s.path, &lines);
    let (line, problem) = verify_fails_at(&s.path, None, "line 3 duplicated");
    assert_eq!(
        (line, problem),
        (
            4,
            Problem::SeqOutOfOrder {
                expected: 4,
                found: 3
            }
        )
    );
}

#[tokio::test]
async fn swapping_two_lines_fails() {
    let s = scratch();
    write_log(&s.path, 5, None).await;
    let mut lines = read_lines(&s.path);
    lines.swap(1, 3);
    write_lines(&s.path, &lines);
    let (line, problem) = verify_fails_at(&s.path, None, "lines 2 and 4 swapped");
    assert_eq!(
        (line, problem),
        (
            2,
            Problem::SeqGap {
                expected: 2,
                found: 4
            }
        )
    );
}

/// Without a key, a forger can re-hash an edited record; the next record's
/// `prev` still gives it away (and with a key, so does the HMAC).
#[tokio::test]
async fn a_rehashed_forgery_breaks_the_next_prev_or_the_hmac() {
    for signing_key in [None, Some(SIGNING_KEY)] {
        let s = scratch();
        write_log(&s.path, 5, signing_key).await;
        let mut lines = read_lines(&s.path);
        let forged = {
            let text = std::str::from_utf8(&lines[2]).unwrap().trim_end();
            let record: crate::record::StoredRecord<'_> = serde_json::from_str(text).unwrap();
            let mut out = Vec::new();
            Body {
                message: Some("nothing happened here"),
                ..record.body()
            }
            .write_canonical(&mut out);
            seal(&mut out, 0, None);
            out
        };
        lines[2] = forged;
        write_lines(&s.path, &lines);
        let (line, problem) = verify_fails_at(&s.path, signing_key, "re-hashed forgery of line 3");
        match signing_key {
            None => assert_eq!((line, problem), (4, Problem::PrevMismatch)),
            Some(_) => assert_eq!((line, problem), (3, Problem::HmacMissing)),
        }
    }
}

#[tokio::test]
async fn a_wrong_hmac_key_fails() {
    let s = scratch();
    write_log(&s.path, 3, Some(SIGNING_KEY)).await;
    let (line, problem) = verify_fails_at(&s.path, Some("not-the-operator-key"), "wrong key");
    assert_eq!((line, problem), (1, Problem::HmacMismatch));
}

#[tokio::test]
async fn an_unsigned_log_fails_when_a_key_is_given() {
    let s = scratch();
    write_log(&s.path, 3, None).await;
    let (line, problem) = verify_fails_at(&s.path, Some(SIGNING_KEY), "unsigned log, key given");
    assert_eq!((line, problem), (1, Problem::HmacMissing));
}

#[tokio::test]
async fn a_signed_log_verified_without_a_key_still_checks_the_chain() {
    let s = scratch();
    write_log(&s.path, 6, Some(SIGNING_KEY)).await;
    let report = verify(&s.path, None).expect("signed log verifies without the key");
    assert!(report.signed, "the report must say the log is signed");
    assert_eq!(report.records, 6);

    let original = read_lines(&s.path);
    let mut lines = original.clone();
    let text = String::from_utf8(lines[3].clone()).unwrap();
    lines[3] = text.replace("\"revoked\"", "\"failed\"").into_bytes();
    write_lines(&s.path, &lines);
    let (line, problem) = verify_fails_at(&s.path, None, "edit of a signed log, no key");
    assert_eq!((line, problem), (4, Problem::HashMismatch));

    // Stripping one record's hmac is noticed even without the key.
    let mut lines = original.clone();
    let text = String::from_utf8(lines[4].clone()).unwrap();
    let cut = text.find(",\"hmac\":").unwrap();
    lines[4] = format!("{}}}\n", &text[..cut]).into_bytes();
    write_lines(&s.path, &lines);
    let (line, problem) = verify_fails_at(&s.path, None, "hmac stripped, no key");
    assert_eq!((line, problem), (5, Problem::SignatureDropped));
}

#[tokio::test]
async fn a_torn_tail_is_repaired_on_open_recorded_and_verifies() {
    let s = scratch();
    write_log(&s.path, 5, Some(SIGNING_KEY)).await;
    let lines = read_lines(&s.path);
    let intact_len: usize = lines[..4].iter().map(Vec::len).sum();
    let torn_bytes = lines[4].len() / 2;
    let file = fs::OpenOptions::new().write(true).open(&s.path).unwrap();
    file.set_len((intact_len + torn_bytes) as u64).unwrap();
    drop(file);

    let (line, problem) = verify_fails_at(&s.path, Some(SIGNING_KEY), "torn tail");
    assert_eq!(
        (line, problem),
        (
            5,
            Problem::TornLastLine {
                bytes: torn_bytes as u64
            }
        )
    );

    let (log, report) = AuditLog::open(&s.path, Some(key(SIGNING_KEY))).expect("open repairs");
    let repair = report
        .repaired
        .clone()
        .expect("the report must mention the repair");
    assert_eq!(
        (
            repair.line,
            repair.offset,
            repair.bytes_dropped,
            repair.repair_seq
        ),
        (5, intact_len as u64, torn_bytes as u64, 5)
    );
    assert_eq!(report.existing_records, 4);
    assert_eq!(report.head.seq, 5, "the repair record is seq 5");
    log.append(attempt(6)).await.unwrap();
    let head = log.close().await.unwrap();

    let verified = verify(&s.path, Some(&key(SIGNING_KEY))).expect("repaired log verifies");
    assert_eq!(
        (verified.records, verified.repairs, verified.last_hash),
        (6, 1, head.hash)
    );
    let repair_line: serde_json::Value = serde_json::from_slice(&read_lines(&s.path)[4]).unwrap();
    assert_eq!(repair_line["kind"], "run");
    assert_eq!(repair_line["outcome"], TORN_TAIL_REPAIRED);
    let message = repair_line["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("dropped {torn_bytes} bytes of line 5")),
        "repair message must say what was dropped: {message}"
    );
    assert!(
        message.contains(&repair.dropped_sha256),
        "repair message carries the dropped bytes' hash"
    );
}

#[tokio::test]
async fn crash_garbage_after_the_last_record_is_repaired() {
    let garbage: [&[u8]; 3] = [
        &[0u8; 300],                   // zeros a file system exposed after a crash
        b"{\"seq\":4,\"time\":\"20\n", // a cut line that somehow got its newline
        b"\n",                         // a stray empty line
    ];
    for tail in garbage {
        let s = scratch();
        write_log(&s.path, 3, None).await;
        let mut bytes = fs::read(&s.path).unwrap();
        bytes.extend_from_slice(tail);
        fs::write(&s.path, &bytes).unwrap();

        let (log, report) = AuditLog::open(&s.path, None)
            .unwrap_or_else(|e| panic!("garbage tail {tail:?} must be repaired: {e}"));
        let repair = report.repaired.expect("repair reported");
        assert_eq!(repair.bytes_dropped, tail.len() as u64);
        log.close().await.unwrap();
        let verified = verify(&s.path, None).expect("repaired log verifies");
        assert_eq!((verified.records, verified.repairs), (4, 1));
    }
}

#[tokio::test]
async fn an_edited_last_record_is_not_cut_off_but_refused() {
    let s = scratch();
    write_log(&s.path, 3, None).await;
    let mut lines = read_lines(&s.path);
    let text = String::from_utf8(lines[2].clone()).unwrap();
    lines[2] = text.replace("record 3", "record 9").into_bytes();
    write_lines(&s.path, &lines);
    let before = fs::read(&s.path).unwrap();

    let err =
        AuditLog::open(&s.path, None).expect_err("a tampered last record must refuse the open");
    let message = err.to_string();
    assert!(
        message.contains(":3: hash mismatch"),
        "error must name line 3: {message}"
    );
    assert_eq!(
        fs::read(&s.path).unwrap(),
        before,
        "a refused open must not touch the log"
    );
}

#[tokio::test]
async fn a_corrupt_middle_line_makes_open_refuse() {
    let s = scratch();
    write_log(&s.path, 5, None).await;
    let mut lines = read_lines(&s.path);
    lines[1] = b"{\"seq\":2, this is not json\n".to_vec();
    write_lines(&s.path, &lines);
    let before = fs::read(&s.path).unwrap();

    let err = AuditLog::open(&s.path, None).expect_err("open must refuse a corrupt log");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}:2: invalid JSON", s.path.display())),
        "error must name the file and line 2: {message}"
    );
    assert!(
        message.contains("refusing to append"),
        "error must say the open was refused: {message}"
    );
    assert_eq!(
        fs::read(&s.path).unwrap(),
        before,
        "a refused open must not touch the log"
    );
}

#[tokio::test]
async fn open_insists_on_the_logs_signing_mode() {
    let s = scratch();
    write_log(&s.path, 2, Some(SIGNING_KEY)).await;
    let err = AuditLog::open(&s.path, None).expect_err("signed log opened without key");
    assert!(err.to_string().contains("HMAC-signed"), "{err}");
    let err = AuditLog::open(&s.path, Some(key("another-key"))).expect_err("wrong key");
    assert!(err.to_string().contains(":1: hmac mismatch"), "{err}");

    let s = scratch();
    write_log(&s.path, 2, None).await;
    let err = AuditLog::open(&s.path, Some(key(SIGNING_KEY))).expect_err("unsigned log with key");
    assert!(err.to_string().contains(":1: hmac missing"), "{err}");

    let err = AuditLog::open(&scratch().path, Some(key(""))).expect_err("empty key");
    assert!(err.to_string().contains("signing key is empty"), "{err}");
}

#[tokio::test]
async fn reopening_continues_the_chain() {
    let s = scratch();
    let first = write_log(&s.path, 3, Some(SIGNING_KEY)).await;
    let (log, report) = AuditLog::open(&s.path, Some(key(SIGNING_KEY))).unwrap();
    assert!(!report.created && report.repaired.is_none());
    assert_eq!((report.existing_records, report.head.clone()), (3, first));
    assert_eq!(log.last_hash(), report.head.hash);
    log.append(attempt(4)).await.unwrap();
    assert_eq!(log.last_seq(), 4);
    let head = log.close().await.unwrap();
    let verified = verify(&s.path, Some(&key(SIGNING_KEY))).unwrap();
    assert_eq!((verified.records, verified.last_hash), (4, head.hash));
}

#[tokio::test]
async fn a_new_log_is_private_and_single_writer() {
    let s = scratch();
    let (log, _) = AuditLog::open(&s.path, None).unwrap();
    let mode = fs::metadata(&s.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o600,
        "a new audit log must be readable by its owner only"
    );

    let err = AuditLog::open(&s.path, None).expect_err("a second writer must be refused");
    assert!(
        err.to_string().contains("already open for writing"),
        "{err}"
    );
    log.close().await.unwrap();
    let (again, _) = AuditLog::open(&s.path, None).expect("closing releases the lock");
    again.close().await.unwrap();
}

#[tokio::test]
async fn open_refuses_what_it_cannot_use() {
    let err = AuditLog::open(Path::new("/dev/null"), None).expect_err("a device is no log");
    assert!(err.to_string().contains("must be a regular file"), "{err}");
    let s = scratch();
    let missing_dir = s.path.with_file_name("no-such-dir").join("audit.jsonl");
    let err = AuditLog::open(&missing_dir, None).expect_err("missing directory");
    assert!(
        err.to_string().contains("cannot open the audit log"),
        "{err}"
    );
    let err = verify(&missing_dir, None).expect_err("verify of a missing file");
    assert!(matches!(err, VerifyError::Unreadable { .. }), "{err}");
}

/// Swap the writer's descriptor for /dev/full underneath it: every write
/// then really fails with ENOSPC, as on a full disk.
#[tokio::test]
async fn a_writer_whose_file_becomes_unwritable_fails_closed() {
    let s = scratch();
    let (log, _) = AuditLog::open(&s.path, None).unwrap();
    log.append(attempt(1)).await.expect("first append succeeds");

    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    use std::os::unix::io::AsRawFd;
    // SAFETY: both descriptors are open; dup2 atomically retargets the
    // writer's descriptor, which stays valid.
    let rc = unsafe { libc::dup2(full.as_raw_fd(), log.raw_fd) };
    assert_eq!(
        rc,
        log.raw_fd,
        "dup2 failed: {}",
        std::io::Error::last_os_error()
    );

    let err = log
        .append(attempt(2))
        .await
        .expect_err("a failed write must not be acknowledged");
    let first = err.to_string();
    assert!(first.contains("cannot write the audit log"), "{first}");
    assert!(first.contains("No space left on device"), "{first}");
    for i in 3..6 {
        let later = log
            .append(attempt(i))
            .await
            .expect_err("the trail stays closed");
        assert_eq!(
            later.to_string(),
            first,
            "later appends report the same failure"
        );
    }
    assert_eq!(
        log.last_seq(),
        1,
        "the head stays at the last durable record"
    );
    let closed = log.close().await.expect_err("close reports the failure");
    assert_eq!(closed.to_string(), first);

    let verified = verify(&s.path, None).expect("what was durable still verifies");
    assert_eq!(verified.records, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_concurrent_appends_form_one_chain() {
    const N: usize = 10_000;
    let s = scratch();
    let (log, _) = AuditLog::open(&s.path, Some(key(SIGNING_KEY))).unwrap();
    let log = Arc::new(log);
    let tasks: Vec<_> = (1..=N)
        .map(|i| {
            let log = Arc::clone(&log);
            tokio::spawn(async move { log.append(attempt(i)).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("append");
    }
    let log = Arc::try_unwrap(log).expect("all tasks done");
    let head = log.close().await.unwrap();
    assert_eq!(head.seq, N as u64);

    let verified = verify(&s.path, Some(&key(SIGNING_KEY))).expect("the chain verifies");
    assert_eq!((verified.records, verified.last_seq), (N as u64, N as u64));
    let mut messages = BTreeSet::new();
    for (i, line) in read_lines(&s.path).iter().enumerate() {
        let value: serde_json::Value = serde_json::from_slice(line).unwrap();
        assert_eq!(
            value["seq"],
            i as u64 + 1,
            "seq numbers must be consecutive"
        );
        messages.insert(value["message"].as_str().unwrap().to_string());
    }
    let expected: BTreeSet<String> = (1..=N).map(|i| attempt(i).message.unwrap()).collect();
    assert_eq!(messages, expected, "every append landed exactly once");
}
