//! A PostgreSQL server owned by one test: initdb into a temp dir, served on a
//! free loopback port, stopped by its PID and started again. Tests that
//! restart a server use this, never the shared one (other tests use it).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's postgresql-15 package installs the server binaries.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
    /// The user the server runs as (PostgreSQL refuses to run as root).
    ids: Option<(u32, u32)>,
    server: Option<Child>,
}

impl PrivatePostgres {
    /// A fresh cluster, started; None (the test skips) when the server
    /// binaries are not installed, except in CI, where `.ci/run` installs
    /// them and their absence fails the test.
    pub fn start() -> Option<PrivatePostgres> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but there are no PostgreSQL server binaries in {PG_BIN}: .ci/pg-setup.sh installs them"
            );
            eprintln!("SKIPPED: no PostgreSQL server binaries in {PG_BIN}");
            return None;
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        // SAFETY: geteuid has no preconditions.
        let ids = (unsafe { libc::geteuid() } == 0).then(postgres_user_ids);
        if let Some((uid, gid)) = ids {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the data dir");
        }
        let mut pg = PrivatePostgres {
            port: free_port(),
            dir,
            ids,
            server: None,
        };
        let status = pg
            .command("initdb")
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
            .arg(pg.data())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("initdb runs");
        assert!(
            status.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        pg.restart();
        Some(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(Path::new(PG_BIN).join(program));
        if let Some((uid, gid)) = self.ids {
            c.uid(uid).gid(gid);
        }
        c
    }

    /// The URL of the `postgres` database on this server.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Start the server (again) and wait until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.server.is_none(), "the server is already running");
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres starts");
        self.server = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self
                .command("pg_isready")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "postgres did not become ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stop the server by its PID the way a crash does (SIGQUIT: immediate
    /// shutdown, no checkpoint) and wait for it to be gone.
    pub fn kill(&mut self) {
        let mut child = self.server.take().expect("the server is running");
        // SAFETY: signalling our own child by its PID.
        unsafe { libc::kill(child.id() as i32, libc::SIGQUIT) };
        child.wait().expect("postgres exits");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.server.is_some() {
            self.kill();
        }
    }
}

fn postgres_user_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id runs");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("running as root needs a `postgres` user to run the server as")
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
