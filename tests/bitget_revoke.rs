//! `keyrevoke revoke` on Bitget end to end: the main account's credential
//! deletes its unified-account sub keys; a classic account's sub key, which
//! the delete refuses, is disabled instead where the row gives the sub
//! key's passphrase, and escalated where it does not; all at Bitget's
//! documented limits, nothing refused for its rate.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::dialects::bitget::CLASSIC;
use keyrevoke::sim::generate::Population;

const BITGET: ExchangeId = ExchangeId::new("bitget");
const SUB_KEYS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_sub_keys_fall_back_to_the_disable_and_the_rest_are_deleted() {
    let mut population = Population::self_revocable(&[BITGET], SUB_KEYS, 11);
    assert_eq!(population.rows.len(), SUB_KEYS);
    // The first three sub keys are a classic account's: two rows give the
    // key's passphrase (the modify needs it), the third does not.
    let keys = population.keys.get_mut(&BITGET).unwrap();
    for (i, row) in population.rows.iter_mut().take(3).enumerate() {
        let key = keys.iter_mut().find(|k| k.api_key == row.api_key).unwrap();
        key.permissions.push(CLASSIC.to_string());
        if i < 2 {
            row.passphrase = key.passphrase.clone();
        }
    }
    let classic: Vec<String> = population.rows[..3]
        .iter()
        .map(|r| r.api_key.clone())
        .collect();
    let s = Scenario::with_population(&[BITGET], population).await;
    let out = s.revoke().await;
    let said = describe(&out);
    // The classic key without its passphrase is escalated (exit 3).
    assert_eq!(out.status.code(), Some(3), "{said}");
    let sum = summary(&out);
    assert_eq!(sum["revoked"], (SUB_KEYS - 3) as u64, "{sum}");
    assert_eq!(sum["disabled"], 2, "{sum}");
    assert_eq!(sum["escalated"], 1, "{sum}");
    let sim = s.sim.exchange(BITGET);
    for (i, api_key) in classic.iter().enumerate() {
        let k = sim.keys.get(api_key).unwrap();
        assert!(k.is_alive(), "the delete refused it");
        if i < 2 {
            assert!(!k.allows_loopback(), "disabled: bound to nowhere");
            assert_eq!(k.permissions, vec![CLASSIC], "no permission left");
        } else {
            assert!(k.allows_loopback(), "untouched: escalated");
        }
    }
    let stats = sim.stats.snapshot();
    assert_eq!(stats.rate_limited, 0, "nothing refused for its rate");
    assert_eq!(stats.deletes, (SUB_KEYS - 3) as u64);
    assert!(s.out().join("escalations/bitget.csv").exists(), "{said}");
    // The sub keys' passphrases went into the modify's body, the master's
    // into every request's header: none is in any file of the run, nor in
    // its output.
    let artifacts = artifacts(&s.out());
    for secret in s.secrets() {
        assert!(!said.contains(&secret), "the output holds a secret");
        for (path, bytes) in &artifacts {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(&secret), "{} holds a secret", path.display());
        }
    }
}
