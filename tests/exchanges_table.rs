//! `keyrevoke exchanges` against the README: the capability table the
//! README shows is what the binary prints, and every exchange it lists has
//! its paragraph, so an exchange added to the registry is documented.

mod common;

use common::BIN;
use std::process::Command;

fn printed() -> String {
    let out = Command::new(BIN).arg("exchanges").output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README")
}

#[test]
fn the_readme_shows_the_table_the_binary_prints() {
    let printed = printed();
    let readme = readme();
    assert!(
        readme.contains(printed.trim_end()),
        "README, \"Exchanges\", should hold this table as printed:\n{printed}"
    );
}

#[test]
fn every_listed_exchange_has_its_paragraph() {
    let readme = readme();
    let ids: Vec<String> = printed()
        .lines()
        .skip(2)
        .filter_map(|row| row.split('|').nth(1).map(|id| id.trim().to_string()))
        .collect();
    assert!(ids.len() >= 12, "{ids:?}");
    for id in ids {
        assert!(
            readme.contains(&format!("\n- **{id}**: ")),
            "README, \"Exchanges\": no paragraph for {id}"
        );
    }
}
