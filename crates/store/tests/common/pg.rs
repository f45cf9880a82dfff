//! A real PostgreSQL server for the tests, on loopback: initdb into a temporary directory,
//! pg_ctl on 127.0.0.1 with a free port, TLS with a throwaway CA, stopped and removed by
//! the guard's `Drop`.
//!
//! initdb refuses to run as root, so as root every server command runs as the `postgres`
//! user (Debian's package creates it) through `runuser`. Under `CI=true` a server that
//! cannot start fails the test; elsewhere the test says "not run: why" and returns.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::pki::TestCa;

/// The superuser's password (scram-sha-256 over TCP).
pub const PASSWORD: &str = "pg-test-S3cret";
/// A role that logs in with a client certificate only.
pub const CERT_USER: &str = "site_cert";

/// A running test server; dropping it stops the server and removes its files.
pub struct PgServer {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    as_postgres: bool,
    pub port: u16,
    databases: std::sync::atomic::AtomicU32,
}

/// Starts a server, or explains why it cannot. Under `CI=true` a failure panics.
pub fn server_or_skip(test: &str) -> Option<PgServer> {
    match PgServer::start() {
        Ok(s) => Some(s),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: the PostgreSQL test server did not start (CI=true): {why}")
        }
        Err(why) => {
            eprintln!("{test}: not run: {why}");
            None
        }
    }
}

fn bindir() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("CLINICSCAN_PG_BINDIR") {
        return Ok(PathBuf::from(d));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| {
            format!("no /usr/lib/postgresql ({e}): install postgresql (scripts/install-deps)")
        })?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, b)| b)
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn ok(what: &str, out: std::io::Result<Output>) -> Result<String, String> {
    let out = out.map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl PgServer {
    fn start() -> Result<PgServer, String> {
        let bindir = bindir()?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("clinicscan-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mut server = PgServer {
            dir,
            bindir,
            as_postgres,
            port: 0,
            databases: std::sync::atomic::AtomicU32::new(0),
        };
        server.init()?;
        // A free port can be taken between the probe and the server's bind: try again.
        let mut last = String::new();
        for _ in 0..3 {
            server.port = free_port()?;
            match server.pg_ctl_start() {
                Ok(()) => {
                    server.psql("postgres", &format!("CREATE ROLE {CERT_USER} LOGIN"))?;
                    return Ok(server);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn cmd(&self, program: &str) -> Command {
        let exe = self.bindir.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn give_to_server(&self, path: &Path) -> Result<(), String> {
        if self.as_postgres {
            ok(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(path)
                    .output(),
            )?;
        }
        Ok(())
    }

    fn init(&self) -> Result<(), String> {
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        let ca = TestCa::new("clinicscan test CA");
        let server = ca.server(&["pg.test"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        let client = ca.client(CERT_USER);
        let other_ca = TestCa::new("some other CA");
        let write = |name: &str, text: &str, mode: u32| -> Result<(), String> {
            let p = self.path(name);
            std::fs::write(&p, text).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                .map_err(|e| e.to_string())
        };
        write("ca.pem", &ca.cert_pem(), 0o644)?;
        write("other-ca.pem", &other_ca.cert_pem(), 0o644)?;
        write("server.pem", &server.cert_pem, 0o644)?;
        write("server.key", &server.key_pem, 0o600)?;
        write("client.pem", &client.cert_pem, 0o644)?;
        write("client.key", &client.key_pem, 0o600)?;
        write("pwfile", PASSWORD, 0o600)?;
        std::fs::create_dir(self.path("sock")).map_err(|e| e.to_string())?;
        for f in ["server.pem", "server.key", "pwfile", "sock"] {
            self.give_to_server(&self.path(f))?;
        }
        self.give_to_server(self.dir.path())?;
        ok(
            "initdb",
            self.cmd("initdb")
                .arg("-D")
                .arg(self.path("data"))
                .args([
                    "-U",
                    "clinicscan",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                ])
                .arg(format!("--pwfile={}", self.path("pwfile").display()))
                .args(["-E", "UTF8", "--no-locale", "--no-sync"])
                .output(),
        )?;
        let hba = format!(
            "local all all trust\n\
             hostssl all {CERT_USER} 127.0.0.1/32 cert\n\
             host all all 127.0.0.1/32 scram-sha-256\n"
        );
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{sock}'\n\
             ssl = on\n\
             ssl_cert_file = '{dir}/server.pem'\n\
             ssl_key_file = '{dir}/server.key'\n\
             ssl_ca_file = '{dir}/ca.pem'\n\
             fsync = off\n\
             full_page_writes = off\n\
             max_connections = 100\n\
             shared_buffers = 16MB\n\
             log_min_messages = warning\n",
            sock = self.path("sock").display(),
            dir = self.dir.path().display(),
        );
        let data = self.path("data");
        std::fs::write(data.join("pg_hba.conf"), hba).map_err(|e| e.to_string())?;
        let mut pg_conf =
            std::fs::read_to_string(data.join("postgresql.conf")).map_err(|e| e.to_string())?;
        pg_conf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), pg_conf).map_err(|e| e.to_string())?;
        self.give_to_server(&data)
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        ok(
            "pg_ctl start",
            self.cmd("pg_ctl")
                .arg("-D")
                .arg(self.path("data"))
                .arg("-l")
                .arg(self.path("server.log"))
                .args(["-o", &format!("-p {}", self.port)])
                .args(["-w", "-t", "30", "start"])
                .output(),
        )
        .map(|_| ())
        .map_err(|e| {
            let log = std::fs::read_to_string(self.path("server.log")).unwrap_or_default();
            format!("{e}\nserver log:\n{log}")
        })
    }

    /// Starts the server again after [`PgServer::stop`], on the same port.
    pub fn restart(&self) {
        self.pg_ctl_start().expect("restart");
    }

    /// Stops the server (fast shutdown: open sessions are ended).
    pub fn stop(&self) {
        ok(
            "pg_ctl stop",
            self.cmd("pg_ctl")
                .arg("-D")
                .arg(self.path("data"))
                .args(["-m", "fast", "-w", "stop"])
                .output(),
        )
        .expect("stop");
    }

    /// Runs SQL as the superuser over the Unix socket.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        ok(
            "psql",
            self.cmd("psql")
                .arg("-h")
                .arg(self.path("sock"))
                .args(["-p", &self.port.to_string(), "-U", "clinicscan", "-d", db])
                .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .output(),
        )
    }

    /// A new, empty database for one test case.
    pub fn fresh_db(&self) -> String {
        let n = self
            .databases
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("case_{n}");
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .expect("create database");
        self.psql(
            name.as_str(),
            &format!("GRANT ALL ON DATABASE {name} TO {CERT_USER}"),
        )
        .expect("grant");
        name
    }

    /// A password URL over loopback without TLS (allowed to loopback only).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://clinicscan:{PASSWORD}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.path("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
