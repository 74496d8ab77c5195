//! Synthetic key populations: the keys a simulated exchange holds, and the
//! inventory and config an operator would hand keyrevoke for them.

use crate::dialects;
use crate::keys::{KeyState, SimKey};
use keyrevoke_core::ExchangeId;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The shapes of key a breach inventory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Its own secret is known and it may delete itself.
    SelfDeletable,
    /// A master (parent) account key used as a managing credential.
    Master,
    /// A sub-account key whose master credential is configured.
    Sub,
    /// Its secret is known but it lacks the permission to delete itself.
    TradeOnly,
}

/// One inventory row, as plain text (the simulator's own test keys).
#[derive(Clone, Debug)]
pub struct InventoryRow {
    pub exchange: ExchangeId,
    pub api_key: String,
    pub api_secret: Option<String>,
    pub passphrase: Option<String>,
    pub account: Option<String>,
    pub via: Option<String>,
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct CredentialSpec {
    pub name: String,
    pub exchange: ExchangeId,
    pub api_key: String,
    pub api_secret: String,
    pub passphrase: Option<String>,
}

/// Keys to load into the simulator, and the matching inventory and credentials.
#[derive(Clone, Debug, Default)]
pub struct Population {
    pub keys: BTreeMap<ExchangeId, Vec<SimKey>>,
    pub rows: Vec<InventoryRow>,
    pub credentials: Vec<CredentialSpec>,
}

struct Maker {
    rng: StdRng,
    next_uid: u64,
}

impl Maker {
    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    }

    fn uid(&mut self) -> String {
        self.next_uid += 1;
        self.next_uid.to_string()
    }

    fn key(
        &mut self,
        exchange: ExchangeId,
        kind: KeyKind,
        uid: String,
        parent: Option<String>,
    ) -> SimKey {
        SimKey {
            api_key: self.token(18),
            secret: match dialects::synthetic_secret(exchange, &mut self.rng) {
                Some(secret) => secret,
                None => self.token(36),
            },
            passphrase: dialects::needs_passphrase(exchange).then(|| self.token(12)),
            uid,
            parent_uid: parent,
            sub_name: None,
            permissions: dialects::permissions(exchange, kind),
            read_only: false,
            ips: vec!["*".into()],
            state: KeyState::Alive,
        }
    }
}

impl Population {
    fn maker(seed: u64) -> Maker {
        Maker {
            rng: StdRng::seed_from_u64(seed),
            next_uid: 100_000_000,
        }
    }

    fn push(&mut self, exchange: ExchangeId, key: SimKey, row: Option<InventoryRow>) {
        if let Some(r) = row {
            self.rows.push(r);
        }
        self.keys.entry(exchange).or_default().push(key);
    }

    /// `per_exchange` keys on each exchange, each able to delete itself.
    pub fn self_revocable(exchanges: &[ExchangeId], per_exchange: usize, seed: u64) -> Population {
        let mut m = Population::maker(seed);
        let mut pop = Population::default();
        for &x in exchanges {
            for i in 0..per_exchange {
                let uid = m.uid();
                let k = m.key(x, KeyKind::SelfDeletable, uid, None);
                let row = own_row(x, &k, None, format!("user-{i}"));
                pop.push(x, k, Some(row));
            }
        }
        pop
    }

    /// A breach-shaped inventory of `total` keys spread over `exchanges`:
    /// keys that delete themselves, sub keys deleted by their masters, keys
    /// no API can delete, keys already dead, keys known only by their id.
    pub fn breach(exchanges: &[ExchangeId], total: usize, seed: u64) -> Population {
        let mut m = Population::maker(seed);
        let mut pop = Population::default();
        let per = total / exchanges.len().max(1);
        for (xi, &x) in exchanges.iter().enumerate() {
            let n = if xi + 1 == exchanges.len() {
                total - per * xi
            } else {
                per
            };
            let subs = n * 3 / 10;
            let masters = subs.div_ceil(25).max(1);
            let master_keys: Vec<(String, SimKey)> = (0..masters)
                .map(|j| {
                    let uid = m.uid();
                    let mut k = m.key(x, KeyKind::Master, uid, None);
                    k.ips = dialects::master_ips(x);
                    (format!("{x}-master-{j}"), k)
                })
                .collect();
            for (name, k) in &master_keys {
                pop.credentials.push(CredentialSpec {
                    name: name.clone(),
                    exchange: x,
                    api_key: k.api_key.clone(),
                    api_secret: k.secret.clone(),
                    passphrase: k.passphrase.clone(),
                });
                pop.keys.entry(x).or_default().push(k.clone());
            }
            for i in 0..n {
                let label = format!("user-{}", i % (n / 3).max(1));
                let slot = i % 10;
                if slot < 3 && i / 10 * 3 + slot < subs {
                    let (name, master) = &master_keys[(i / 10) % masters];
                    let sub_uid = m.uid();
                    let mut k = m.key(x, KeyKind::Sub, sub_uid.clone(), Some(master.uid.clone()));
                    k.sub_name = Some(format!("sub{sub_uid}"));
                    let row = InventoryRow {
                        exchange: x,
                        api_key: k.api_key.clone(),
                        api_secret: None,
                        passphrase: k
                            .passphrase
                            .clone()
                            .filter(|_| dialects::sub_delete_needs_passphrase(x)),
                        account: Some(dialects::sub_account_id(x, &k)),
                        via: Some(name.clone()),
                        label,
                    };
                    pop.push(x, k, Some(row));
                    continue;
                }
                let uid = m.uid();
                match slot {
                    3 => {
                        let k = m.key(x, KeyKind::TradeOnly, uid, None);
                        let row = own_row(x, &k, None, label);
                        pop.push(x, k, Some(row));
                    }
                    4 => {
                        // Already dead: the exchange no longer has it.
                        let mut k = m.key(x, KeyKind::SelfDeletable, uid, None);
                        k.state = KeyState::Deleted;
                        let row = own_row(x, &k, None, label);
                        pop.push(x, k, Some(row));
                    }
                    5 => {
                        // Known by id only: nothing can act on it.
                        let k = m.key(x, KeyKind::SelfDeletable, uid, None);
                        let mut row = own_row(x, &k, None, label);
                        row.api_secret = None;
                        row.passphrase = None;
                        pop.push(x, k, Some(row));
                    }
                    _ => {
                        let k = m.key(x, KeyKind::SelfDeletable, uid, None);
                        let row = own_row(x, &k, None, label);
                        pop.push(x, k, Some(row));
                    }
                }
            }
        }
        pop.rows.shuffle(&mut m.rng);
        pop
    }

    /// `n` rows for an exchange the simulator does not serve (a defunct one,
    /// say): keys that exist only in the inventory.
    pub fn add_unserved(&mut self, exchange: ExchangeId, n: usize, seed: u64) {
        let mut m = Population::maker(seed);
        for i in 0..n {
            self.rows.push(InventoryRow {
                exchange,
                api_key: m.token(24),
                api_secret: Some(m.token(32)),
                passphrase: None,
                account: None,
                via: None,
                label: format!("user-{i}"),
            });
        }
    }

    /// The inventory as CSV.
    pub fn inventory_csv(&self) -> String {
        let mut out = String::from("exchange,api_key,api_secret,passphrase,account,via,label\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{}",
                r.exchange,
                csv_field(&r.api_key),
                csv_field(r.api_secret.as_deref().unwrap_or("")),
                csv_field(r.passphrase.as_deref().unwrap_or("")),
                csv_field(r.account.as_deref().unwrap_or("")),
                csv_field(r.via.as_deref().unwrap_or("")),
                csv_field(&r.label)
            );
        }
        out
    }

    /// A config naming the credentials and pointing every exchange at `urls`.
    pub fn config_toml(&self, urls: &BTreeMap<ExchangeId, String>) -> String {
        let mut out = String::new();
        for c in &self.credentials {
            let _ = writeln!(out, "[credentials.{}]", c.name);
            let _ = writeln!(out, "exchange = \"{}\"", c.exchange);
            let _ = writeln!(out, "api_key = \"{}\"", c.api_key);
            let _ = writeln!(out, "api_secret = \"{}\"", c.api_secret);
            if let Some(p) = &c.passphrase {
                let _ = writeln!(out, "passphrase = \"{p}\"");
            }
            out.push('\n');
        }
        for (x, url) in urls {
            let _ = writeln!(out, "[exchanges.{x}]\nbase_url = \"{url}\"\n");
        }
        out
    }

    pub fn write_inventory(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.inventory_csv())
    }

    /// Load every key into a running simulator.
    pub fn load_into(&self, sim: &crate::SimHandle) {
        for (x, keys) in &self.keys {
            if let Some(s) = sim.exchanges.get(x) {
                for k in keys {
                    s.keys.insert(k.clone());
                }
            }
        }
    }
}

/// A CSV field, quoted (quotes doubled) when it holds a comma, a quote or a
/// line break, as a PEM secret with real newlines does (RFC 4180).
fn csv_field(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value.into()
    }
}

fn own_row(exchange: ExchangeId, k: &SimKey, via: Option<String>, label: String) -> InventoryRow {
    InventoryRow {
        exchange,
        api_key: k.api_key.clone(),
        api_secret: Some(k.secret.clone()),
        passphrase: k.passphrase.clone(),
        account: None,
        via,
        label,
    }
}
