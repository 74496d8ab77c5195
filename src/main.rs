//! The `keyrevoke` command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use keyrevoke::app::{demo, exit, revoke, summary::Summary, worker};
use keyrevoke::core::ExchangeId;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "keyrevoke",
    version,
    about = "Revoke exchange API keys in bulk: rate-limited, journaled, audited."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Neutralize every key of an inventory by the strongest channel each exchange allows.
    Revoke(RevokeArgs),
    /// Join a job a `revoke` planned in a PostgreSQL journal and work on it
    /// (any number of workers, on any machines).
    Worker(WorkerArgs),
    /// Revoke every key the config's credentials can list (their sub
    /// accounts' keys), sparing named ones; the credentials themselves last
    /// with --include-self.
    Panic(PanicArgs),
    /// Replace the plan's sub keys that are due with new ones of the same
    /// shape: create, store the new secret (age files or Vault), test it,
    /// make it current, then delete the old key.
    Rotate(RotateArgs),
    /// Show a job's state from its journal.
    Status {
        #[arg(long)]
        journal: String,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write report.html and report.json again from a journal (of a finished or interrupted job).
    Report {
        /// The job's journal: a SQLite file or a postgres:// URL.
        #[arg(long)]
        journal: String,
        /// The job's audit trail (default: audit.jsonl beside a SQLite journal, if there).
        #[arg(long)]
        audit: Option<PathBuf>,
        /// Config with the audit signing key, to check the audit's HMACs.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Folder for the report and the escalation files it names.
        #[arg(long)]
        out: PathBuf,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Serve the exchange simulator on loopback; prints its base URLs as JSON on the first line.
    Sim(SimArgs),
    /// List the supported exchanges and the channels each offers.
    Exchanges {
        /// An array of {"id", "channels"} objects.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a synthetic breach on the built-in simulator.
    Demo {
        /// Keys in the synthetic inventory.
        #[arg(long, default_value_t = 2000)]
        keys: usize,
        /// Folder for the inventory, journal, audit and escalation files (default: a fresh one).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct RevokeArgs {
    /// The key inventory: CSV with a header row, or JSON Lines.
    #[arg(long)]
    inventory: PathBuf,
    /// TOML config: credentials, base URLs, limits, retries, audit key.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder for the journal, audit and escalation files.
    #[arg(long, default_value = "keyrevoke-run")]
    out: PathBuf,
    /// Journal: a SQLite file (default OUT/journal.sqlite) or a postgres:// URL.
    #[arg(long)]
    journal: Option<String>,
    /// Audit trail (default OUT/audit.jsonl).
    #[arg(long)]
    audit: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// Validate and show the plan; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// End stdout with the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Revoke the valid rows even if some rows are invalid (they are listed).
    #[arg(long)]
    skip_invalid: bool,
    /// Probe every key before acting on it (one more request per key): a
    /// dead key gets no write, and keys that can move funds go first.
    #[arg(long)]
    triage: bool,
    /// Send without client-side rate limiting (only for a simulator with limits off).
    #[arg(long, hide = true)]
    no_rate_limits: bool,
}

#[derive(Args)]
struct WorkerArgs {
    /// The job's journal: postgres://…?job=NAME.
    #[arg(long)]
    journal: String,
    /// TOML config: credentials, limits, egress addresses.
    #[arg(long)]
    config: PathBuf,
    /// The inventory the job was planned from (the same file: checked).
    #[arg(long)]
    inventory: PathBuf,
    /// Folder for this worker's audit trail.
    #[arg(long, default_value = "keyrevoke-worker")]
    out: PathBuf,
    /// Exit once nothing is left to claim, instead of waiting for more work.
    #[arg(long)]
    exit_when_idle: bool,
    /// End stdout with the job's summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Send without client-side rate limiting (only for a simulator with limits off).
    #[arg(long, hide = true)]
    no_rate_limits: bool,
}

#[derive(Args)]
struct PanicArgs {
    /// TOML config: the credentials whose keys are listed and revoked.
    #[arg(long)]
    config: PathBuf,
    /// Leave this key alone: its API key or its label on the exchange (repeatable).
    #[arg(long)]
    spare: Vec<String>,
    /// After every other key, revoke the credentials themselves (by the
    /// strongest channel the exchange allows, else escalate).
    #[arg(long)]
    include_self: bool,
    /// Material for discovered keys (e.g. KuCoin passphrases): an inventory, as for `revoke`.
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Folder for the discovered keys, journal, audit, report and escalation files.
    #[arg(long, default_value = "keyrevoke-panic")]
    out: PathBuf,
    /// Journal: a SQLite file (default OUT/journal.sqlite) or a postgres:// URL.
    #[arg(long)]
    journal: Option<String>,
    /// Audit trail (default OUT/audit.jsonl).
    #[arg(long)]
    audit: Option<PathBuf>,
    /// List the keys and show the plan; revoke nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
    /// End stdout with the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct RotateArgs {
    /// TOML plan: the sink for new secrets ([sink]) and the keys ([[keys]]).
    #[arg(long)]
    plan: PathBuf,
    /// TOML config: the credentials (`via`) that create and delete the sub keys.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rotate every key of the plan, whatever its age.
    #[arg(long)]
    all: bool,
    /// Folder for the journal, audit, report and the old keys' file.
    #[arg(long, default_value = "keyrevoke-rotate")]
    out: PathBuf,
    /// Journal: a SQLite file (default OUT/journal.sqlite) or a postgres:// URL.
    #[arg(long)]
    journal: Option<String>,
    /// Audit trail (default OUT/audit.jsonl).
    #[arg(long)]
    audit: Option<PathBuf>,
    /// Read each key's age and show what is due; create and delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (never asked without a terminal).
    #[arg(long)]
    yes: bool,
    /// End stdout with the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Shape {
    #[value(name = "self")]
    SelfRevocable,
    Breach3c,
    /// One master per exchange (Bybit, Binance) holding sub accounts of
    /// --keys-per-sub labelled keys each, for `panic` to discover.
    Panic,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain (and HMACs, with the config's signing key).
    Verify {
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Args)]
struct SimArgs {
    /// Exchanges to serve (comma-separated; default all the simulator speaks).
    #[arg(long, value_delimiter = ',')]
    exchanges: Vec<String>,
    /// Generate N keys per exchange, shaped by --shape.
    #[arg(long, default_value_t = 0)]
    keys: usize,
    /// The generated keys: `self` (keys that delete themselves where the
    /// exchange allows it, else sub keys of a few masters) or `breach3c`
    /// (many masters' sub keys, deleted by the masters; none on exchanges
    /// where no API deletes a key). --write-config names the masters.
    #[arg(long, value_enum, default_value_t = Shape::SelfRevocable)]
    shape: Shape,
    /// With --shape breach3c: sub keys per master account.
    #[arg(long, default_value_t = 45)]
    subs_per_master: usize,
    /// With --shape panic: keys per sub account.
    #[arg(long, default_value_t = 10)]
    keys_per_sub: usize,
    /// Turn the documented rate limits off.
    #[arg(long)]
    unlimited: bool,
    /// Write the generated keys as an inventory (CSV).
    #[arg(long)]
    write_inventory: Option<PathBuf>,
    /// Write a config pointing at the simulator.
    #[arg(long)]
    write_config: Option<PathBuf>,
    /// Load these keys (JSON: {"bybit": [SimKey, ...]}).
    #[arg(long)]
    seed_keys: Option<PathBuf>,
    /// Port to bind the first exchange on (others follow); 0 = any.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// IP ban length in seconds, when limits are on.
    #[arg(long, default_value_t = 10)]
    ip_ban_secs: u64,
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::COULD_NOT_RUN
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYREVOKE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = runtime.block_on(dispatch(cli.command));
    std::process::exit(code);
}

async fn dispatch(command: Command) -> i32 {
    match command {
        Command::Revoke(a) => {
            revoke::run(revoke::RevokeOptions {
                inventory: a.inventory,
                config: a.config,
                out: a.out,
                journal: a.journal,
                audit: a.audit,
                yes: a.yes,
                dry_run: a.dry_run,
                json: a.json,
                skip_invalid: a.skip_invalid,
                rate_limits: !a.no_rate_limits,
                command: "revoke",
                triage: a.triage,
            })
            .await
        }
        Command::Worker(a) => {
            worker::run(worker::WorkerOptions {
                journal: a.journal,
                config: a.config,
                inventory: a.inventory,
                out: a.out,
                exit_when_idle: a.exit_when_idle,
                json: a.json,
                rate_limits: !a.no_rate_limits,
            })
            .await
        }
        Command::Panic(a) => {
            keyrevoke::app::panic::run(keyrevoke::app::panic::PanicOptions {
                run: revoke::RevokeOptions {
                    inventory: PathBuf::new(),
                    config: Some(a.config),
                    out: a.out,
                    journal: a.journal,
                    audit: a.audit,
                    yes: a.yes,
                    dry_run: a.dry_run,
                    json: a.json,
                    skip_invalid: false,
                    rate_limits: true,
                    command: "panic",
                    triage: false,
                },
                spare: a.spare,
                include_self: a.include_self,
                inventory: a.inventory,
            })
            .await
        }
        Command::Rotate(a) => {
            keyrevoke::app::rotate::run(keyrevoke::app::rotate::RotateOptions {
                plan: a.plan,
                run: revoke::RevokeOptions {
                    inventory: PathBuf::new(),
                    config: a.config,
                    out: a.out,
                    journal: a.journal,
                    audit: a.audit,
                    yes: a.yes,
                    dry_run: a.dry_run,
                    json: a.json,
                    skip_invalid: false,
                    rate_limits: true,
                    command: "rotate",
                    triage: false,
                },
                all: a.all,
            })
            .await
        }
        Command::Status { journal, json } => status(&journal, json).await,
        Command::Report {
            journal,
            audit,
            config,
            out,
        } => {
            use keyrevoke::app::report_command::{ReportOptions, run};
            run(ReportOptions {
                journal,
                audit,
                config,
                out,
            })
            .await
        }
        Command::Audit {
            command: AuditCommand::Verify { file, config },
        } => audit_verify(&file, config.as_ref()),
        Command::Sim(a) => sim(a).await,
        Command::Exchanges { json } => {
            use keyrevoke::app::exchanges;
            let shown = if json {
                exchanges::list().map(|l| serde_json::to_string(&l).expect("serializes") + "\n")
            } else {
                exchanges::table()
            };
            match shown {
                Ok(text) => {
                    print!("{text}");
                    exit::OK
                }
                Err(e) => {
                    eprintln!("{e}");
                    exit::COULD_NOT_RUN
                }
            }
        }
        Command::Demo { keys, out, json } => demo::run(demo::DemoOptions { keys, out, json }).await,
    }
}

async fn status(journal: &str, json: bool) -> i32 {
    if !journal.starts_with("postgres") && !std::path::Path::new(journal).exists() {
        eprintln!("{journal}: no such journal");
        return exit::COULD_NOT_RUN;
    }
    let store = match keyrevoke::journal::open_journal(journal).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return exit::COULD_NOT_RUN;
        }
    };
    match store.counts().await {
        Ok(c) => {
            let s = Summary::from_counts(&c);
            if json {
                println!("{}", s.json());
            } else {
                print!("{}", s.table());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::COULD_NOT_RUN
        }
    }
}

fn audit_verify(file: &std::path::Path, config: Option<&PathBuf>) -> i32 {
    let config = match revoke::load_config(config) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return exit::COULD_NOT_RUN;
        }
    };
    let key = config.audit_signing_key.as_ref();
    match keyrevoke::audit::verify(file, key) {
        Ok(r) => {
            println!(
                "{}: intact: {} records, last seq {}, last hash {}{}",
                file.display(),
                r.records,
                r.last_seq,
                r.last_hash,
                match (r.signed, key) {
                    (false, _) => "",
                    (true, Some(_)) => ", HMAC-signed, every HMAC checked",
                    // The chain holds, but anyone can sign with a key of
                    // their own: say that the signatures were not checked.
                    (true, None) => {
                        ", HMAC-signed, HMACs not checked (no signing key: pass the config with --config)"
                    }
                }
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("{e}");
            exit::COULD_NOT_RUN
        }
    }
}

async fn sim(a: SimArgs) -> i32 {
    use keyrevoke::sim::{SimConfig, dialects, generate::Population};
    let spoken = dialects::names();
    let exchanges = if a.exchanges.is_empty() {
        dialects::SUPPORTED.to_vec()
    } else {
        match a.exchanges.iter().map(|x| spoken.parse(x)).collect() {
            Ok(ids) => ids,
            Err(e) => {
                eprintln!("--exchanges: {e}");
                return exit::COULD_NOT_RUN;
            }
        }
    };
    let handle = match keyrevoke::sim::start(SimConfig {
        exchanges: exchanges.clone(),
        limits: !a.unlimited,
        ip_ban: std::time::Duration::from_secs(a.ip_ban_secs),
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], a.port)),
        ..SimConfig::default()
    })
    .await
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot start the simulator: {e}");
            return exit::COULD_NOT_RUN;
        }
    };
    if let Some(path) = &a.seed_keys {
        let loaded = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                serde_json::from_str::<
                    std::collections::BTreeMap<ExchangeId, Vec<keyrevoke::sim::keys::SimKey>>,
                >(&t)
                .map_err(|e| e.to_string())
            });
        match loaded {
            Ok(map) => {
                for (x, keys) in map {
                    if let Some(s) = handle.exchanges.get(&x) {
                        keys.into_iter().for_each(|k| s.keys.insert(k));
                    }
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return exit::COULD_NOT_RUN;
            }
        }
    }
    let population = match a.shape {
        Shape::SelfRevocable => Population::self_revocable(&exchanges, a.keys, 7),
        Shape::Breach3c => Population::breach3c(&exchanges, a.keys, a.subs_per_master, 7),
        Shape::Panic => {
            let per_sub = a.keys_per_sub.max(1);
            Population::panic(&exchanges, a.keys.div_ceil(per_sub), per_sub, 7)
        }
    };
    population.load_into(&handle);
    if let Some(p) = &a.write_inventory
        && let Err(e) = population.write_inventory(p)
    {
        eprintln!("{}: {e}", p.display());
        return exit::COULD_NOT_RUN;
    }
    if let Some(p) = &a.write_config
        && let Err(e) = std::fs::write(p, population.config_toml(&handle.urls))
    {
        eprintln!("{}: {e}", p.display());
        return exit::COULD_NOT_RUN;
    }
    println!("{}", handle.urls_json());
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown();
    exit::OK
}
