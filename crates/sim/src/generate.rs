//! Synthetic key populations: the keys a simulated exchange holds, and the
//! inventory and config an operator would hand keyrevoke for them.

use crate::dialects;
use crate::keys::{KeyState, SimKey};
use keyrevoke_core::ExchangeId;
use keyrevoke_core::inventory::csv_field;
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

/// Sub keys per master in [`Population::self_revocable`]: masters of
/// trading-bot platforms hold thousands.
const SUB_KEYS_PER_MASTER: usize = 1000;

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
            label: None,
            permissions: dialects::permissions(exchange, kind),
            read_only: false,
            ips: vec!["*".into()],
            state: KeyState::Alive,
            disabled: false,
            created_at_ms: keyrevoke_core::http::unix_ms(),
        }
    }

    /// A sub key of `master`'s account, and the inventory row that has the
    /// master's credential `via` delete it (no secret of its own: the
    /// channel is the master's).
    fn sub_key(
        &mut self,
        exchange: ExchangeId,
        master: &SimKey,
        via: &str,
        label: String,
    ) -> (SimKey, InventoryRow) {
        let sub_uid = self.uid();
        self.sub_key_in(exchange, master, via, &sub_uid, label)
    }

    /// A key of the sub account `sub_uid` under `master`, labelled, and
    /// the row that has `via` delete it.
    fn sub_key_in(
        &mut self,
        exchange: ExchangeId,
        master: &SimKey,
        via: &str,
        sub_uid: &str,
        label: String,
    ) -> (SimKey, InventoryRow) {
        let mut k = self.key(
            exchange,
            KeyKind::Sub,
            sub_uid.to_string(),
            Some(master.uid.clone()),
        );
        k.sub_name = Some(format!("sub{sub_uid}"));
        k.label = Some(label.clone());
        let row = InventoryRow {
            exchange,
            api_key: k.api_key.clone(),
            api_secret: None,
            passphrase: k
                .passphrase
                .clone()
                .filter(|_| dialects::sub_delete_needs_passphrase(exchange)),
            account: Some(dialects::sub_account_id(exchange, &k)),
            via: Some(via.to_string()),
            label,
        };
        (k, row)
    }
}

impl Population {
    fn maker(seed: u64) -> Maker {
        Maker {
            rng: StdRng::seed_from_u64(seed),
            next_uid: 100_000_000,
        }
    }

    /// `count` master keys on `exchange`, held by the simulator and named
    /// as credentials `<exchange>-master-<j>` (none is in the inventory).
    fn add_masters(
        &mut self,
        m: &mut Maker,
        exchange: ExchangeId,
        count: usize,
    ) -> Vec<(String, SimKey)> {
        let masters: Vec<(String, SimKey)> = (0..count)
            .map(|j| {
                let uid = m.uid();
                let mut k = m.key(exchange, KeyKind::Master, uid, None);
                k.ips = dialects::master_ips(exchange);
                (format!("{exchange}-master-{j}"), k)
            })
            .collect();
        for (name, k) in &masters {
            self.credentials.push(CredentialSpec {
                name: name.clone(),
                exchange,
                api_key: k.api_key.clone(),
                api_secret: k.secret.clone(),
                passphrase: k.passphrase.clone(),
            });
            self.keys.entry(exchange).or_default().push(k.clone());
        }
        masters
    }

    fn push(&mut self, exchange: ExchangeId, key: SimKey, row: Option<InventoryRow>) {
        if let Some(r) = row {
            self.rows.push(r);
        }
        self.keys.entry(exchange).or_default().push(key);
    }

    /// `per_exchange` keys on each exchange that keyrevoke can delete by API
    /// with no one else's help: keys that delete themselves where the
    /// exchange allows it, elsewhere sub keys of a few masters whose
    /// credentials the config carries (an exchange with neither, such as
    /// Coinbase, gets keys that can only be escalated).
    pub fn self_revocable(exchanges: &[ExchangeId], per_exchange: usize, seed: u64) -> Population {
        let mut m = Population::maker(seed);
        let mut pop = Population::default();
        for &x in exchanges {
            if !dialects::key_can_delete_itself(x) && dialects::master_can_delete_sub_keys(x) {
                let masters = per_exchange.div_ceil(SUB_KEYS_PER_MASTER);
                let master_keys = pop.add_masters(&mut m, x, masters);
                for i in 0..per_exchange {
                    let (name, master) = &master_keys[i / SUB_KEYS_PER_MASTER];
                    let (k, row) = m.sub_key(x, master, name, format!("user-{i}"));
                    pop.push(x, k, Some(row));
                }
                continue;
            }
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
            let master_keys = pop.add_masters(&mut m, x, masters);
            for i in 0..n {
                let label = format!("user-{}", i % (n / 3).max(1));
                let slot = i % 10;
                if slot < 3 && i / 10 * 3 + slot < subs {
                    let (name, master) = &master_keys[(i / 10) % masters];
                    let (k, row) = m.sub_key(x, master, name, label);
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

    /// What `keyrevoke panic` meets: on each of `exchanges` whose
    /// simulator lists sub accounts and their keys, one master (a
    /// credential of the config, `<exchange>-master-0`) holding `subs` sub
    /// accounts of `keys_per_sub` keys each, labelled `user-<i>`; and
    /// another account's master with a sub key of its own, which no
    /// credential of the config can see. `rows` are the keys the masters
    /// should discover (no one has to write them down).
    pub fn panic(
        exchanges: &[ExchangeId],
        subs: usize,
        keys_per_sub: usize,
        seed: u64,
    ) -> Population {
        let mut m = Population::maker(seed);
        let mut pop = Population::default();
        for &x in exchanges {
            if !dialects::master_can_list_sub_keys(x) {
                continue;
            }
            let masters = pop.add_masters(&mut m, x, 1);
            let (name, master) = &masters[0];
            let mut i = 0;
            for _ in 0..subs {
                let sub_uid = m.uid();
                for _ in 0..keys_per_sub {
                    let (k, row) = m.sub_key_in(x, master, name, &sub_uid, format!("user-{i}"));
                    pop.push(x, k, Some(row));
                    i += 1;
                }
            }
            let stranger_uid = m.uid();
            let stranger = m.key(x, KeyKind::Master, stranger_uid, None);
            let sub_uid = m.uid();
            let (k, _) = m.sub_key_in(x, &stranger, "nobody", &sub_uid, "stranger".into());
            pop.push(x, stranger, None);
            pop.push(x, k, None);
        }
        pop
    }

    /// What `keyrevoke rotate` meets: on each of `exchanges` whose
    /// simulator creates sub keys, one master (the credential
    /// `<exchange>-master-0`) and, for each entry of `ages_days`, a sub key
    /// in a sub account of its own, created that many days ago and
    /// labelled `rot-<i>` (the row's `label` too), in that order. Where the
    /// exchange shows IP lists in full, every other key (the first, the
    /// third…) is bound to loopback and a documentation address, so that a
    /// rotation has IPs to copy and the copy still signs from here; KuCoin's keys are unbound
    /// (its lists mask IPs, which a rotation cannot copy). The rows name
    /// the sub account and the master (`via`) and carry no secret; a
    /// KuCoin row carries the key's passphrase, which its delete needs.
    pub fn rotation(exchanges: &[ExchangeId], ages_days: &[u32], seed: u64) -> Population {
        let mut m = Population::maker(seed);
        let mut pop = Population::default();
        for &x in exchanges {
            if !dialects::master_can_create_sub_keys(x) {
                continue;
            }
            let masters = pop.add_masters(&mut m, x, 1);
            let (name, master) = &masters[0];
            for (i, days) in ages_days.iter().enumerate() {
                let (mut k, row) = m.sub_key(x, master, name, format!("rot-{i}"));
                k.created_at_ms = keyrevoke_core::http::unix_ms() - i64::from(*days) * 86_400_000;
                if dialects::shows_sub_key_ips(x) && i % 2 == 0 {
                    k.ips = vec!["127.0.0.1".into(), format!("203.0.113.{}", i % 250 + 1)];
                }
                pop.push(x, k, Some(row));
            }
        }
        pop
    }

    /// Both populations, for one simulator (each exchange's keys must come
    /// from one of them only).
    pub fn and(mut self, other: Population) -> Population {
        for (x, keys) in other.keys {
            self.keys.entry(x).or_default().extend(keys);
        }
        self.rows.extend(other.rows);
        self.credentials.extend(other.credentials);
        self
    }

    /// A 3Commas-shaped breach: on each of `exchanges` where a master key
    /// can delete its sub accounts' keys, `per_exchange` sub keys under
    /// masters of `subs_per_master` each (the last master takes the rest),
    /// every one deleted by its master's credential. Each master's sub keys
    /// share its per-account limits, so revoking them is bound by those
    /// limits, never by escalations. An exchange with no API that deletes a
    /// key (Coinbase) gets no keys: its keys could only be escalated.
    pub fn breach3c(
        exchanges: &[ExchangeId],
        per_exchange: usize,
        subs_per_master: usize,
        seed: u64,
    ) -> Population {
        let mut m = Population::maker(seed);
        let mut pop = Population::default();
        let subs_per_master = subs_per_master.max(1);
        for &x in exchanges {
            if !dialects::master_can_delete_sub_keys(x) || per_exchange == 0 {
                continue;
            }
            let masters = pop.add_masters(&mut m, x, per_exchange.div_ceil(subs_per_master));
            for i in 0..per_exchange {
                let (name, master) = &masters[i / subs_per_master];
                let (k, row) = m.sub_key(x, master, name, format!("user-{i}"));
                pop.push(x, k, Some(row));
            }
        }
        pop.rows.shuffle(&mut m.rng);
        pop
    }

    /// Keys whose first route fails over to a route that spends another
    /// account: on `exchange` (one where a key can delete itself and a
    /// master its sub keys), `groups` masters whose keys may not manage
    /// others (read-only: a master's delete is refused for permission), each
    /// with one sub account of `keys_per_sub` keys, all with their secrets.
    /// Half the rows name the master (`via`): its delete is tried first and
    /// refused, and the key deletes itself from the sub account's budget;
    /// the other half delete themselves at once, from the same budget.
    pub fn failing_over_to_sub_accounts(
        exchange: ExchangeId,
        groups: usize,
        keys_per_sub: usize,
        seed: u64,
    ) -> Population {
        let mut m = Population::maker(seed);
        let mut pop = Population::default();
        let masters = pop.add_masters(&mut m, exchange, groups);
        for k in pop.keys.entry(exchange).or_default().iter_mut() {
            k.read_only = true;
        }
        for (g, (name, master)) in masters.iter().enumerate() {
            let sub_uid = m.uid();
            for i in 0..keys_per_sub {
                let mut k = m.key(
                    exchange,
                    KeyKind::SelfDeletable,
                    sub_uid.clone(),
                    Some(master.uid.clone()),
                );
                k.sub_name = Some(format!("sub{sub_uid}"));
                let via = (i % 2 == 0).then(|| name.clone());
                let mut row = own_row(exchange, &k, via, format!("user-{g}-{i}"));
                row.account = Some(dialects::sub_account_id(exchange, &k));
                pop.push(exchange, k, Some(row));
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

    /// The `[[keys]]` of a rotation plan for every row (the plan's
    /// `[sink]` goes before them): each key rotated by the credential that
    /// manages it once older than `max_age_days`.
    pub fn rotation_plan_keys(&self, max_age_days: u32) -> String {
        let mut plan = String::new();
        for r in &self.rows {
            plan.push_str(&format!(
                "\n[[keys]]\nexchange = \"{}\"\nlabel = \"{}\"\napi_key = \"{}\"\naccount = \"{}\"\nvia = \"{}\"\nmax_age_days = {max_age_days}\n",
                r.exchange,
                r.label,
                r.api_key,
                r.account.as_deref().unwrap_or_default(),
                r.via.as_deref().unwrap_or_default()
            ));
            if let Some(p) = &r.passphrase {
                plan.push_str(&format!("passphrase = \"{p}\"\n"));
            }
        }
        plan
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_population_gives_each_key_its_age_under_one_master() {
        let exchanges = [
            ExchangeId::new("bybit"),
            ExchangeId::new("okx"),
            ExchangeId::new("kucoin"),
            ExchangeId::new("binance"),
            ExchangeId::new("coinbase"),
        ];
        let ages = [120, 10, 91, 0];
        let now = keyrevoke_core::http::unix_ms();
        let pop = Population::rotation(&exchanges, &ages, 3);
        assert!(
            !pop.keys.contains_key(&ExchangeId::new("coinbase")),
            "no master creates Coinbase keys"
        );
        for x in &exchanges[..4] {
            let held = &pop.keys[x];
            assert_eq!(held.len(), 1 + ages.len(), "{x}: the master and its subs");
            let master = &held[0];
            assert!(master.is_master());
            for (i, days) in ages.iter().enumerate() {
                let k = &held[1 + i];
                assert_eq!(k.parent_uid.as_ref(), Some(&master.uid), "{x}");
                let age_ms = now - k.created_at_ms;
                let want = i64::from(*days) * 86_400_000;
                assert!(
                    (age_ms - want).abs() < 60_000,
                    "{x}: key {i} is {age_ms} ms old, not {days} days"
                );
                assert!(k.allows_loopback(), "{x}: key {i} signs from here");
                let row = pop
                    .rows
                    .iter()
                    .find(|r| r.api_key == k.api_key)
                    .expect("a row per sub key");
                assert_eq!(row.label, format!("rot-{i}"));
                assert_eq!(row.via.as_deref(), Some(format!("{x}-master-0").as_str()));
                assert!(row.account.is_some() && row.api_secret.is_none(), "{x}");
            }
            let bound = held.iter().filter(|k| !k.bound_ips().is_empty()).count();
            let expect_bound = if dialects::shows_sub_key_ips(*x) {
                // The OKX master is bound too (dialects::master_ips).
                2 + usize::from(*x == ExchangeId::new("okx"))
            } else {
                0
            };
            assert_eq!(bound, expect_bound, "{x}: keys bound to IPs");
        }
    }

    #[test]
    fn a_3commas_breach_puts_every_key_under_a_master_that_deletes_it() {
        let exchanges = [
            ExchangeId::new("okx"),
            ExchangeId::new("coinbase"),
            ExchangeId::new("kucoin"),
        ];
        let pop = Population::breach3c(&exchanges, 100, 45, 1);
        assert!(
            !pop.keys.contains_key(&ExchangeId::new("coinbase")),
            "no API deletes a Coinbase key, so the shape has none"
        );
        for x in [ExchangeId::new("okx"), ExchangeId::new("kucoin")] {
            let rows: Vec<_> = pop.rows.iter().filter(|r| r.exchange == x).collect();
            assert_eq!(rows.len(), 100, "{x}: one row per sub key");
            let masters: Vec<_> = pop.credentials.iter().filter(|c| c.exchange == x).collect();
            assert_eq!(masters.len(), 3, "{x}: 45 + 45 + 10 sub keys");
            for r in &rows {
                assert!(r.api_secret.is_none(), "{x}: deleted by the master");
                assert!(
                    masters.iter().any(|c| Some(&c.name) == r.via.as_ref()),
                    "{x}: the row names a configured master: {:?}",
                    r.via
                );
            }
            let under = |name: String| {
                rows.iter()
                    .filter(|r| r.via.as_deref() == Some(name.as_str()))
                    .count()
            };
            assert_eq!(under(format!("{x}-master-0")), 45);
            assert_eq!(under(format!("{x}-master-2")), 10);
            // The simulator holds the masters and their subs, all alive.
            let held = &pop.keys[&x];
            assert_eq!(held.len(), 103);
            assert!(held.iter().all(SimKey::is_alive));
        }
    }
}
