//! The simulator's rotation population (`Population::rotation`) against the
//! real connectors of the four exchanges that rotate: each key's creation
//! time reads back through `describe_key`, a due key is replaced (create,
//! test with its own secret, the old key deleted by its ordinary route), a
//! key not yet due is left alone, and the simulator holds what was asked.
//! This is the connector half the `rotate` driver builds on.

use keyrevoke::app::registry;
use keyrevoke::core::config::Config;
use keyrevoke::core::rotation::CreateKey;
use keyrevoke::core::{Connector, ExchangeId, KeyJob, KeyMaterial, Secret};
use keyrevoke::sim::generate::{InventoryRow, Population};
use keyrevoke::sim::keys::KeyState;
use keyrevoke::sim::{SimConfig, SimHandle};
use std::path::Path;
use std::sync::Arc;

const DAY_MS: i64 = 86_400_000;
const MAX_AGE_DAYS: i64 = 90;
/// One key well past the maximum age, one well within it.
const AGES: [u32; 2] = [120, 10];

fn exchanges() -> [ExchangeId; 4] {
    ["bybit", "okx", "kucoin", "binance"].map(ExchangeId::new)
}

fn job(config: &Config, row: &InventoryRow) -> KeyJob {
    let via = row
        .via
        .as_ref()
        .map(|name| config.credentials[name].clone());
    KeyJob::new(
        KeyMaterial {
            exchange: row.exchange,
            api_key: row.api_key.clone(),
            api_secret: None,
            passphrase: row.passphrase.as_deref().map(Secret::from),
            account: row.account.clone(),
            label: Some(row.label.clone()),
        },
        via,
    )
}

async fn rotate_if_due(
    sim: &SimHandle,
    c: &Arc<dyn Connector>,
    config: &Config,
    row: &InventoryRow,
) {
    let x = row.exchange;
    let old = job(config, row);
    let cred = old.via.as_deref().expect("a rotation row names its master");
    let account = old.key.account.as_deref().expect("and its sub account");
    let shape = c
        .describe_key(cred, account, &old.key.api_key)
        .await
        .unwrap_or_else(|f| panic!("{x} {}: describe: {f}", row.label))
        .shape;
    let created_at = shape
        .created_at_ms
        .expect("every exchange reports a creation time");
    let held = sim.exchange(x).keys.get(&row.api_key).expect("held");
    assert!(
        (created_at - held.created_at_ms).abs() < 1000,
        "{x} {}: described {created_at}, held {}",
        row.label,
        held.created_at_ms
    );
    let age_days = (keyrevoke::core::http::unix_ms() - created_at) / DAY_MS;
    let due = age_days > MAX_AGE_DAYS;
    let expected_due = row.label == "rot-0";
    assert_eq!(due, expected_due, "{x} {}: {age_days} days old", row.label);
    if !due {
        return;
    }
    let created = c
        .create_key(
            cred,
            &CreateKey {
                account: account.to_string(),
                shape,
                label: format!("rotated-{}", row.label),
                // Both OKX's rules (8-32, lower, upper, digit, special) and
                // KuCoin's (7-32, no spaces).
                passphrase: Some(Secret::from("Rotated-Pass-0")),
            },
        )
        .await
        .unwrap_or_else(|f| panic!("{x} {}: create: {f}", row.label));
    c.test_key(&created.key)
        .await
        .unwrap_or_else(|f| panic!("{x} {}: test: {f}", row.label));
    let route = c.routes(&old)[0];
    c.perform(route, &old)
        .await
        .unwrap_or_else(|f| panic!("{x} {}: delete the old key: {f}", row.label));
    let keys = &sim.exchange(x).keys;
    assert_eq!(
        keys.get(&row.api_key).unwrap().state,
        KeyState::Deleted,
        "{x}"
    );
    let new = keys.get(&created.key.api_key).expect("the new key is held");
    assert_eq!(new.state, KeyState::Alive, "{x}");
    assert_eq!(
        new.label.as_deref(),
        Some(format!("rotated-{}", row.label).as_str())
    );
    assert_eq!(new.bound_ips(), held.bound_ips(), "{x}: the IPs copied");
}

#[tokio::test]
async fn the_rotation_population_rotates_its_due_keys_on_every_exchange() {
    let sim = keyrevoke::sim::start(SimConfig {
        exchanges: exchanges().to_vec(),
        ..SimConfig::default()
    })
    .await
    .expect("the simulator starts");
    let pop = Population::rotation(&exchanges(), &AGES, 11);
    pop.load_into(&sim);
    let config = Config::parse(
        &pop.config_toml(&sim.urls),
        Path::new("rotation.toml"),
        &registry::exchanges(),
    )
    .expect("the population's config parses");
    let connectors = registry::connectors(&config).expect("connectors");
    for x in exchanges() {
        let c = &connectors[&x];
        assert!(c.can_rotate(), "{x}");
        let rows: Vec<&InventoryRow> = pop.rows.iter().filter(|r| r.exchange == x).collect();
        assert_eq!(rows.len(), AGES.len(), "{x}");
        for row in rows {
            rotate_if_due(&sim, c, &config, row).await;
        }
        let creates = sim
            .exchange(x)
            .stats
            .creates
            .load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(creates, 1, "{x}: one key was due");
    }
    sim.shutdown();
}
