//! An API key an exchange echoes in its reply is masked before anything
//! records it: Bybit's 10004 ("error sign!") quotes the signed string, the
//! full key in it. The audit and the journal hold masked keys only.

mod common;

use common::*;
use keyrevoke::core::ExchangeId;
use keyrevoke::sim::generate::Population;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_bybit_echoes_in_a_signature_error_is_masked_everywhere() {
    let x = ExchangeId::new("bybit");
    let population = Population::self_revocable(&[x], 3, 7171);
    let sim = faulty_sim(&[x], Default::default()).await;
    population.load_into(&sim);
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &population, &sim, "");
    // Every row's secret is wrong: each delete is answered with 10004.
    let inventory = dir.path().join("inventory.csv");
    let mut text = std::fs::read_to_string(&inventory).unwrap();
    for keys in population.keys.values() {
        for k in keys {
            text = text.replace(&k.secret, "not-the-secret-of-this-key");
        }
    }
    std::fs::write(&inventory, text).unwrap();
    let out = run(&[
        "revoke".into(),
        "--inventory".into(),
        inventory.display().to_string(),
        "--config".into(),
        dir.path().join("config.toml").display().to_string(),
        "--out".into(),
        dir.path().join("out").display().to_string(),
        "--yes".into(),
        "--json".into(),
        "--no-rate-limits".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        sim.exchange(x).stats.snapshot().bad_signature >= 3,
        "the exchange echoed the keys"
    );
    let audit = std::fs::read_to_string(dir.path().join("out/audit.jsonl")).unwrap();
    assert!(
        audit.contains("error sign"),
        "the refusal is recorded:\n{audit}"
    );
    let mut places: Vec<(String, Vec<u8>)> = artifacts(&dir.path().join("out"))
        .into_iter()
        .map(|(p, b)| (p.display().to_string(), b))
        .collect();
    places.push(("stdout".into(), out.stdout.clone()));
    places.push(("stderr".into(), out.stderr.clone()));
    for keys in population.keys.values() {
        for k in keys {
            for (name, bytes) in &places {
                assert!(
                    !String::from_utf8_lossy(bytes).contains(&k.api_key),
                    "the full key {} reached {}",
                    keyrevoke::core::secret::mask_key(&k.api_key),
                    name
                );
            }
        }
    }
}
