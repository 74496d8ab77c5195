//! The simulator and `keyrevoke revoke` as child processes.

use super::BIN;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What `keyrevoke sim` generates and serves.
pub struct SimOptions<'a> {
    pub exchanges: &'a [&'a str],
    pub keys_per_exchange: usize,
    /// `self` or `breach3c` (see `keyrevoke sim --help`).
    pub shape: &'a str,
    pub subs_per_master: Option<usize>,
    /// Enforce the documented rate limits.
    pub limits: bool,
}

/// A running `keyrevoke sim`, with the inventory and config it wrote; killed
/// when dropped.
pub struct Sim {
    child: Child,
    /// Set once `stop` has reaped the child: its pid is no longer ours.
    reaped: bool,
    /// Base URL per exchange, as the simulator printed them.
    pub urls: BTreeMap<String, String>,
    pub inventory: PathBuf,
    pub config: PathBuf,
    pub limits: bool,
    dir: tempfile::TempDir,
}

impl Sim {
    pub fn start(options: &SimOptions) -> Result<Sim, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("a temp dir: {e}"))?;
        let inventory = dir.path().join("inventory.csv");
        let config = dir.path().join("config.toml");
        let mut command = Command::new(BIN);
        command
            .arg("sim")
            .arg("--exchanges")
            .arg(options.exchanges.join(","))
            .arg("--keys")
            .arg(options.keys_per_exchange.to_string())
            .arg("--shape")
            .arg(options.shape)
            .arg("--write-inventory")
            .arg(&inventory)
            .arg("--write-config")
            .arg(&config);
        if let Some(n) = options.subs_per_master {
            command.arg("--subs-per-master").arg(n.to_string());
        }
        if !options.limits {
            command.arg("--unlimited");
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {BIN} sim: {e}"))?;
        // The first line comes once the keys are generated and loaded, and
        // the inventory and config written.
        let mut first_line = String::new();
        let stdout = child.stdout.take().expect("stdout is piped");
        let read = BufReader::new(stdout).read_line(&mut first_line);
        let urls = read
            .map_err(|e| e.to_string())
            .and_then(|_| serde_json::from_str(&first_line).map_err(|e| e.to_string()));
        match urls {
            Ok(urls) => Ok(Sim {
                child,
                reaped: false,
                urls,
                inventory,
                config,
                limits: options.limits,
                dir,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "the simulator's first line is not its URLs ({e}): {first_line:?}"
                ))
            }
        }
    }

    /// A fresh folder for one revoke run's journal, audit and output.
    pub fn run_dir(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("a run folder in the temp dir");
        dir
    }

    /// Every exchange's `/__sim/stats`.
    pub fn stats(&self) -> Result<BTreeMap<String, Value>, String> {
        self.urls
            .iter()
            .map(|(x, url)| Ok((x.clone(), http_get_json(url, "/__sim/stats")?)))
            .collect()
    }

    /// A counter summed over every exchange's stats.
    pub fn total(stats: &BTreeMap<String, Value>, counter: &str) -> u64 {
        stats.values().filter_map(|s| s[counter].as_u64()).sum()
    }

    /// Run `keyrevoke revoke` on the simulator's inventory (journal and
    /// audit on, as in production), killing it after `deadline`.
    pub fn revoke(&self, run: &str, deadline: Duration) -> Result<RevokeRun, String> {
        let out = self.run_dir(run);
        let command = self.command("revoke", &out);
        RevokeRun::measure(command, &out, deadline)
    }

    /// `keyrevoke revoke` (or `worker`) on this simulator's inventory and
    /// config, its output in `out`.
    pub fn command(&self, subcommand: &str, out: &Path) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg(subcommand)
            .arg("--inventory")
            .arg(&self.inventory)
            .arg("--config")
            .arg(&self.config)
            .arg("--out")
            .arg(out)
            .arg("--json");
        if subcommand == "revoke" {
            command.arg("--yes");
        }
        if !self.limits {
            // The client's limiter has nothing to respect.
            command.arg("--no-rate-limits");
        }
        // Base URLs come from the config alone.
        for (name, _) in std::env::vars() {
            if name.starts_with("KEYREVOKE_") && name.ends_with("_URL") {
                command.env_remove(name);
            }
        }
        command
    }
}

impl Sim {
    /// Stop the simulator; the CPU time it used, which on a small machine
    /// it took from the revoke process it served.
    pub fn stop(mut self) -> Result<Duration, String> {
        let _ = self.child.kill();
        let (_, usage) = reap(&self.child, 0)?.ok_or("wait4 returned no child")?;
        self.reaped = true;
        Ok(timeval(usage.ru_utime) + timeval(usage.ru_stime))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `wait4` on a child std has not waited on: its exit status and resource
/// usage once it has exited, None while it runs (with `WNOHANG`).
fn reap(child: &Child, flags: libc::c_int) -> Result<Option<(i32, libc::rusage)>, String> {
    let pid = child.id() as libc::pid_t;
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data, valid when zeroed.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are to live locals; the pid is our own
        // child, not yet reaped (std's `Child` has not waited on it).
        let reaped = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if reaped == pid {
            return Ok(Some((status, usage)));
        }
        if reaped == 0 {
            return Ok(None);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {e}"));
        }
    }
}

/// One `keyrevoke revoke` process, measured.
#[derive(Debug)]
pub struct RevokeRun {
    /// From spawn to exit.
    pub wall: Duration,
    /// CPU time of the process (all its threads), user and system.
    pub cpu: Duration,
    /// Peak resident set size.
    pub peak_rss_bytes: u64,
    pub exit_code: Option<i32>,
    /// The `--json` summary, the last line of stdout.
    pub summary: Option<Value>,
    /// The end of stderr, to show when the run went wrong.
    pub stderr_tail: String,
}

/// How often the child is checked for its exit: the wall time is at most
/// this much late.
const POLL: Duration = Duration::from_millis(2);

impl RevokeRun {
    pub fn measure(
        mut command: Command,
        out: &Path,
        deadline: Duration,
    ) -> Result<RevokeRun, String> {
        let stdout_path = out.join("stdout.txt");
        let stderr_path = out.join("stderr.txt");
        let file = |p: &Path| File::create(p).map_err(|e| format!("{}: {e}", p.display()));
        // Files, not pipes: a pipe nobody reads while we wait would fill up
        // and stall the child.
        command
            .stdin(Stdio::null())
            .stdout(file(&stdout_path)?)
            .stderr(file(&stderr_path)?);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {BIN} revoke: {e}"))?;
        let (status, usage) = loop {
            if let Some(exited) = reap(&child, libc::WNOHANG)? {
                break exited;
            }
            if started.elapsed() > deadline {
                // Still our unreaped child, so the pid cannot have been reused.
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "revoke still running after {} s: killed",
                    deadline.as_secs()
                ));
            }
            std::thread::sleep(POLL);
        };
        let wall = started.elapsed();
        let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
        let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        Ok(RevokeRun {
            wall,
            cpu,
            // Linux reports ru_maxrss in KiB.
            peak_rss_bytes: usage.ru_maxrss.max(0) as u64 * 1024,
            exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            summary: stdout
                .lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok()),
            stderr_tail: tail(&stderr, 20),
        })
    }

    /// A count from the summary (0 when absent).
    pub fn count(&self, field: &str) -> u64 {
        self.summary
            .as_ref()
            .and_then(|s| s[field].as_u64())
            .unwrap_or(0)
    }

    /// Why this run did not revoke all `expected` keys, if it did not.
    pub fn shortfall(&self, expected: usize) -> Option<String> {
        let revoked = self.count("revoked");
        if self.summary.is_some() && revoked == expected as u64 && self.exit_code == Some(0) {
            return None;
        }
        let mut why = format!(
            "revoked {revoked} of {expected} (failed {}, escalated {}, pending {}), exit {:?}",
            self.count("failed"),
            self.count("escalated"),
            self.count("pending"),
            self.exit_code
        );
        if !self.stderr_tail.is_empty() {
            why.push_str("\n--- end of stderr:\n");
            why.push_str(&self.stderr_tail);
        }
        Some(why)
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `GET` a JSON document from a loopback `http://` base URL. HTTP/1.0, so
/// the server closes the connection after a plainly delimited body.
pub fn http_get_json(base_url: &str, path: &str) -> Result<Value, String> {
    let host = base_url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not a plain http URL: {base_url}"))?;
    let fail = |e: std::io::Error| format!("GET {base_url}{path}: {e}");
    let mut stream = TcpStream::connect(host).map_err(fail)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(fail)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(fail)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).map_err(fail)?;
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("GET {base_url}{path}: no HTTP reply"))?;
    let status = head.split(' ').nth(1);
    if !head.starts_with("HTTP/1.") || status != Some("200") {
        return Err(format!(
            "GET {base_url}{path}: {}",
            head.lines().next().unwrap_or("")
        ));
    }
    serde_json::from_str(body).map_err(|e| format!("GET {base_url}{path}: {e}"))
}
