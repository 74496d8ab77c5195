//! `keyrevoke demo`: a synthetic breach on the built-in simulator, revoked
//! end to end, with the journal, audit and escalation files to look at.

use super::exit;
use super::revoke::{self, RevokeOptions, Say};
use keyrevoke_core::ExchangeId;
use keyrevoke_sim::generate::Population;
use keyrevoke_sim::{SimConfig, dialects};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct DemoOptions {
    pub keys: usize,
    pub out: Option<PathBuf>,
    pub json: bool,
}

fn fresh_out_dir() -> PathBuf {
    let stamp = chrono_stamp();
    PathBuf::from(format!("keyrevoke-demo-{stamp}"))
}

fn chrono_stamp() -> String {
    let secs = keyrevoke_core::http::unix_ms() / 1000;
    format!("{secs}")
}

pub async fn run(opts: DemoOptions) -> i32 {
    let say = Say { json: opts.json };
    let out = opts.out.clone().unwrap_or_else(fresh_out_dir);
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return exit::COULD_NOT_RUN;
    }
    let exchanges = dialects::SUPPORTED.to_vec();
    // FTX has been gone since November 2022; breach inventories still hold
    // its keys, which keyrevoke escalates as inert.
    let inert = (opts.keys / 50).max(1).min(opts.keys);
    // Kraken's probes leave seconds apart (failed calls lock an IP out), so
    // it gets a few keys (one probe every 3 s: about 30 s of probes).
    let (paced, full): (Vec<ExchangeId>, Vec<ExchangeId>) = exchanges
        .iter()
        .copied()
        .partition(|x| dialects::probes_paced_per_ip(*x));
    let few = (opts.keys / 120).min((opts.keys - inert) / (paced.len() + 1));
    let mut population =
        Population::breach(&full, opts.keys - inert - few * paced.len(), 20_221_228);
    for (i, x) in paced.iter().enumerate() {
        let mut some = Population::breach(&[*x], few, 20_221_229 + i as u64);
        population.rows.append(&mut some.rows);
        population.keys.append(&mut some.keys);
        population.credentials.append(&mut some.credentials);
    }
    population.add_unserved(ExchangeId::new("ftx"), inert, 20_221_111);
    let sim = match keyrevoke_sim::start(SimConfig {
        exchanges: exchanges.clone(),
        ip_ban: Duration::from_secs(10),
        ..SimConfig::default()
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the simulator: {e}");
            return exit::COULD_NOT_RUN;
        }
    };
    population.load_into(&sim);
    let inventory = out.join("inventory.csv");
    let config = out.join("config.toml");
    let written = population.write_inventory(&inventory).and_then(|_| {
        super::escalation::write_private(&config, &population.config_toml(&sim.urls))
    });
    if let Err(e) = written {
        eprintln!("cannot write the demo inventory: {e}");
        return exit::COULD_NOT_RUN;
    }
    say.line(&format!(
        "Demo: a synthetic breach of {} keys on {} (simulated at their documented rate limits, on loopback)",
        population.rows.len(),
        exchanges
            .iter()
            .chain(std::iter::once(&ExchangeId::new("ftx")))
            .map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    say.line(&format!(
        "inventory: {}\nconfig:    {}",
        inventory.display(),
        config.display()
    ));
    let started = Instant::now();
    let code = revoke::run(RevokeOptions {
        inventory,
        config: Some(config),
        out: out.clone(),
        journal: None,
        audit: None,
        yes: true,
        dry_run: false,
        json: false,
        skip_invalid: false,
        rate_limits: true,
        command: "demo",
        triage: false,
    })
    .await;
    let elapsed = started.elapsed();
    let alive_after: usize = sim.exchanges.values().map(|s| s.keys.count_alive()).sum();
    let seen: Vec<_> = sim.exchanges.values().map(|s| s.stats.snapshot()).collect();
    let total =
        |f: fn(&keyrevoke_sim::stats::StatsSnapshot) -> u64| seen.iter().map(f).sum::<u64>();
    let audit = out.join("audit.jsonl");
    let verified = keyrevoke_audit::verify(&audit, None);
    say.line(&format!("revocation took {:.1} s", elapsed.as_secs_f64()));
    say.line(&format!(
        "the simulated exchanges saw {} requests: {} refused for rate limits or bans, {} with a bad signature, {} with a stale timestamp",
        total(|s| s.requests),
        total(|s| s.rate_limited + s.ip_banned),
        total(|s| s.bad_signature),
        total(|s| s.stale_timestamp),
    ));
    match &verified {
        Ok(r) => say.line(&format!(
            "audit verified: {} records, chain intact",
            r.records
        )),
        Err(e) => say.line(&format!("audit verification FAILED: {e}")),
    }
    say.line(&format!(
        "keys still alive on the simulated exchanges: {alive_after} (managing credentials and keys no API can delete; see escalations)"
    ));
    if opts.json {
        let store = match keyrevoke_journal::open_journal(
            &out.join("journal.sqlite").display().to_string(),
        )
        .await
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                return exit::COULD_NOT_RUN;
            }
        };
        match store.counts().await {
            Ok(c) => println!("{}", super::summary::Summary::from_counts(&c).json()),
            Err(e) => {
                eprintln!("{e}");
                return exit::COULD_NOT_RUN;
            }
        }
    }
    sim.shutdown();
    if verified.is_err() {
        return exit::COULD_NOT_RUN;
    }
    code
}
