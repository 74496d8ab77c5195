//! The escalation package a run leaves for keys no API could neutralize
//! (README, "Exchanges"): per exchange a CSV (masked key, fingerprint,
//! label, liveness and permissions from the probe, fund-moving keys first)
//! and a letter, and `notices-by-label.csv` for the operator's users.

mod common;

use common::*;
use keyrevoke::core::{ExchangeId, Fingerprint, mask_key};
use std::collections::{BTreeSet, HashMap};

const EXCHANGES: [ExchangeId; 2] = [ExchangeId::new("binance"), ExchangeId::new("coinbase")];

/// A CSV file's header and rows.
fn read_csv(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{} is CSV: {e}", path.display()));
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalations_list_each_key_once_fund_movers_first_with_notices_by_label() {
    let s = Scenario::breach(&EXCHANGES, 200, 81).await;
    let out = s.revoke().await;
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let sum = summary(&out);
    // The inventory's rows by fingerprint: what each escalation row must name.
    let rows: HashMap<String, _> = s
        .population
        .rows
        .iter()
        .map(|r| (Fingerprint::of(&r.api_key).short().to_string(), r))
        .collect();
    let dir = s.out().join("escalations");

    let mut escalated = BTreeSet::new();
    for x in EXCHANGES {
        let (header, lines) = read_csv(&dir.join(format!("{x}.csv")));
        assert_eq!(
            header,
            [
                "masked_key",
                "fingerprint",
                "label",
                "alive",
                "can_move_funds",
                "permissions",
                "reason"
            ]
        );
        assert_eq!(
            lines.len() as u64,
            sum["by_exchange"][x.as_str()]["escalated"]
                .as_u64()
                .unwrap(),
            "{x}: one line per escalated key: {sum}"
        );
        for l in &lines {
            let row = rows
                .get(&l[1])
                .unwrap_or_else(|| panic!("{x}: no inventory key has fingerprint {}", l[1]));
            assert_eq!(row.exchange, x);
            assert_eq!(l[0], mask_key(&row.api_key), "the masked key");
            assert_ne!(l[0], row.api_key, "never the key itself");
            assert_eq!(l[2], row.label, "the label");
            assert!(
                ["alive", "dead", "unknown"].contains(&l[3].as_str()),
                "{l:?}"
            );
            assert!(["yes", "no", "unknown"].contains(&l[4].as_str()), "{l:?}");
            assert!(!l[6].is_empty(), "each escalation says why: {l:?}");
            assert!(
                escalated.insert((l[2].clone(), x, l[0].clone())),
                "listed twice: {l:?}"
            );
        }
        // Fund movers first, then keys known alive, then the rest.
        let rank = |l: &Vec<String>| match (l[4].as_str(), l[3].as_str()) {
            ("yes", _) => 0,
            (_, "alive") => 1,
            _ => 2,
        };
        let ranks: Vec<u8> = lines.iter().map(rank).collect();
        assert!(
            ranks.is_sorted(),
            "{x}: fund movers, then alive keys, first: {ranks:?}"
        );
        let movers = ranks.iter().filter(|r| **r == 0).count();
        assert!(
            movers > 0 && movers < lines.len(),
            "{x}: the population escalates fund movers and others: {ranks:?}"
        );
        let letter = std::fs::read_to_string(dir.join(format!("{x}-letter.txt"))).unwrap();
        assert!(
            letter.contains(&format!("revoke {} compromised {x} API keys", lines.len()))
                && letter.contains(&format!(
                    "{movers} of them were alive and able to move funds"
                )),
            "{letter}"
        );
    }

    let (header, notices) = read_csv(&dir.join("notices-by-label.csv"));
    assert_eq!(
        header,
        ["label", "exchange", "masked_key", "api_management_page"]
    );
    let listed: BTreeSet<(String, ExchangeId, String)> = notices
        .iter()
        .map(|n| {
            (
                n[0].clone(),
                ExchangeId::stored(&n[1]).unwrap(),
                n[2].clone(),
            )
        })
        .collect();
    assert_eq!(notices.len(), listed.len(), "each key noticed once");
    assert_eq!(
        listed, escalated,
        "one notice per escalated key, under its label"
    );
    let labels: Vec<&String> = notices.iter().map(|n| &n[0]).collect();
    assert!(labels.is_sorted(), "grouped by label");
    for n in &notices {
        assert!(
            n[3].starts_with("https://"),
            "where the user revokes it: {n:?}"
        );
    }
}
