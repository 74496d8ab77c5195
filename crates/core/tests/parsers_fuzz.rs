//! Property tests (a bounded fuzz) for the inventory and config parsers: no
//! input makes them panic, every row found can be read again from its
//! recorded position, and errors always name the file.

use keyrevoke_core::config::Config;
use keyrevoke_core::inventory::Inventory;
use keyrevoke_core::{ExchangeName, ExchangeSet};
use proptest::prelude::*;
use std::path::Path;

/// The exchanges the inputs name.
fn known() -> ExchangeSet {
    ExchangeSet::new([
        ExchangeName::new("bybit", &[]),
        ExchangeName::new("okx", &[]),
    ])
}

/// Bytes that look like inventories often enough to reach deep paths.
fn inventory_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::collection::vec(
        prop_oneof![
            Just(b"exchange,api_key,api_secret,passphrase,account,via,label\n".to_vec()),
            Just(b"bybit,KEY1,SECRET1,,,,\n".to_vec()),
            Just(b"\"bybit\",\"K,2\",\"S\"\"x\",,,,\r\n".to_vec()),
            Just(b"{\"exchange\":\"okx\",\"api_key\":\"K3\"}\n".to_vec()),
            Just(b"\xef\xbb\xbf".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\n\n".to_vec()),
            Just(b"env:NOPE".to_vec()),
            prop::collection::vec(any::<u8>(), 0..40),
        ],
        0..12,
    );
    pieces.prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_inventory_bytes_parse_without_panic(bytes in inventory_bytes(), jsonl in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if jsonl { "inv.jsonl" } else { "inv.csv" });
        std::fs::write(&path, &bytes).unwrap();
        match Inventory::open(&path, &known()) {
            Err(e) => prop_assert!(e.to_string().contains("inv.")),
            Ok(inv) => {
                for row in inv.rows().unwrap() {
                    match row {
                        Ok(r) => {
                            let again = inv.row_at(r.source).unwrap();
                            prop_assert_eq!(again.api_key, r.api_key);
                        }
                        Err(errs) => {
                            for e in errs {
                                prop_assert!(e.to_string().contains("inv."));
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn any_config_text_parses_without_panic(text in "(\\[[a-z._]{0,20}\\]\n|[a-z_]{1,12} = (\"[^\"\n]{0,12}\"|[0-9]{1,6}|true)\n|.{0,20}\n){0,10}") {
        if let Err(errs) = Config::parse(&text, Path::new("/tmp/fuzz.toml"), &known()) {
            for e in errs {
                prop_assert!(e.to_string().starts_with("/tmp/fuzz.toml"));
            }
        }
    }
}
