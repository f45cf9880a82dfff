//! Where the history is: a file path (SQLite) or a libpq-style URL (PostgreSQL).
//!
//! The URL is parsed strictly: the parameters clinicscan supports are read, any other is
//! refused with the list of those it knows, so a setting that would silently be ignored
//! (or weaken TLS) never is. The password is kept out of every message ([`mask_url`]).

use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::StoreError;

/// The URL parameters clinicscan understands (libpq names and meanings).
const SUPPORTED_PARAMS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "application_name",
    "host",
];

/// What must be escaped in a URL's user name.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A parsed `--db` / `CLINICSCAN_DB`.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file on this machine (the default).
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by several sites.
    Postgres(PgUrl),
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Location::Postgres(u) => f.debug_tuple("Postgres").field(&u.masked()).finish(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(u) => f.write_str(&u.masked()),
        }
    }
}

impl Location {
    /// Parses what the user gave: `postgres://…` or `postgresql://…` is PostgreSQL, any
    /// other `scheme://` is refused, anything else is a file path.
    pub fn parse(s: &str) -> Result<Location, StoreError> {
        if s.is_empty() {
            return Err(StoreError::Location("empty database location".into()));
        }
        match s.split_once("://") {
            Some((scheme, _)) if scheme == "postgres" || scheme == "postgresql" => {
                Ok(Location::Postgres(PgUrl::parse(s)?))
            }
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                Err(StoreError::Location(format!(
                    "{}: unsupported database URL scheme {scheme:?}: use a file path (SQLite) or postgres://",
                    mask_url(s)
                )))
            }
            _ => Ok(Location::Sqlite(PathBuf::from(s))),
        }
    }

    /// Whether several sites write here, so every scan needs a site id.
    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }
}

/// How the PostgreSQL connection is protected (libpq's `sslmode`, restricted to the
/// modes that never fall back silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS: only to a loopback address or a Unix socket.
    Disable,
    /// TLS without checking the server's certificate: only when the URL asks for it.
    Require,
    /// TLS; the chain is verified against the roots, the host name is not.
    VerifyCa,
    /// TLS; chain and host name verified (the default).
    VerifyFull,
}

impl SslMode {
    /// The libpq name.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A PostgreSQL URL, parsed: `postgres://[user[:password]@]host[:port]/dbname?params`.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// Host name, address, or a Unix socket directory (starting with `/`).
    pub host: String,
    /// Port (5432 by default).
    pub port: u16,
    /// User name.
    pub user: Option<String>,
    /// Password (never printed).
    pub(crate) password: Option<String>,
    /// Database name.
    pub dbname: Option<String>,
    /// TLS mode.
    pub sslmode: SslMode,
    /// CA certificates (PEM) to verify the server with; `None`: the system's roots.
    pub sslrootcert: Option<PathBuf>,
    /// Client certificate chain (PEM).
    pub sslcert: Option<PathBuf>,
    /// Client private key (PEM).
    pub sslkey: Option<PathBuf>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// `application_name` shown in `pg_stat_activity`.
    pub application_name: String,
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl PgUrl {
    /// Parses a `postgres://` or `postgresql://` URL.
    pub fn parse(s: &str) -> Result<PgUrl, StoreError> {
        let masked = mask_url(s);
        let bad = |why: String| StoreError::Location(format!("{masked}: {why}"));
        let url = url::Url::parse(s).map_err(|e| bad(e.to_string()))?;
        let decode = |v: &str| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("user name or password is not UTF-8".into()))
        };
        let user = match url.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = url.password().map(decode).transpose()?;
        let mut host = match url.host() {
            None => None,
            Some(url::Host::Ipv6(a)) => Some(a.to_string()),
            Some(h) => Some(decode(&h.to_string())?),
        };
        if host.as_deref().is_some_and(|h| h.contains(',')) {
            return Err(bad(
                "several hosts are not supported: name one server (or a virtual address in front of them)".into(),
            ));
        }
        let dbname = match url.path().trim_start_matches('/') {
            "" => None,
            d if d.contains('/') => return Err(bad(format!("{d:?} is not a database name"))),
            d => Some(decode(d)?),
        };
        let mut sslmode = None;
        let mut out = PgUrl {
            host: String::new(),
            port: url.port().unwrap_or(5432),
            user,
            password,
            dbname,
            sslmode: SslMode::VerifyFull,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            connect_timeout: Duration::from_secs(10),
            application_name: "clinicscan".into(),
        };
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "sslmode" => {
                    sslmode = Some(match v.as_ref() {
                        "disable" => SslMode::Disable,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        "allow" | "prefer" => {
                            return Err(bad(format!(
                                "sslmode={v} is not supported: it falls back to an unencrypted connection without saying so; use verify-full (the default), verify-ca, require, or disable (loopback only)"
                            )));
                        }
                        other => return Err(bad(format!("unknown sslmode {other:?}"))),
                    })
                }
                "sslrootcert" => {
                    out.sslrootcert = (v != "system").then(|| PathBuf::from(v.as_ref()))
                }
                "sslcert" => out.sslcert = Some(PathBuf::from(v.as_ref())),
                "sslkey" => out.sslkey = Some(PathBuf::from(v.as_ref())),
                "connect_timeout" => {
                    let secs: u64 = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=600).contains(n))
                        .ok_or_else(|| {
                            bad(format!("connect_timeout {v:?} is not 1-600 seconds"))
                        })?;
                    out.connect_timeout = Duration::from_secs(secs);
                }
                "application_name" => out.application_name = v.into_owned(),
                "host" => {
                    if host.is_some() {
                        return Err(bad(
                            "the host is given twice (in the URL and as ?host=)".into()
                        ));
                    }
                    host = Some(v.into_owned());
                }
                // The value of an unknown key is never echoed: it may be a password.
                other => {
                    return Err(bad(format!(
                        "unsupported parameter {other:?}; supported: {}",
                        SUPPORTED_PARAMS.join(", ")
                    )));
                }
            }
        }
        out.host = host
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host: postgres://HOST/DBNAME (or ?host=/socket/dir)".into()))?;
        let unix = out.host.starts_with('/');
        out.sslmode = match sslmode {
            Some(m) => m,
            // libpq never uses TLS over a Unix socket.
            None if unix => SslMode::Disable,
            None => SslMode::VerifyFull,
        };
        if unix && out.sslmode != SslMode::Disable {
            return Err(bad(format!(
                "sslmode={} over a Unix socket: TLS is not used there; drop sslmode",
                out.sslmode.as_str()
            )));
        }
        if out.sslmode == SslMode::Disable && !unix && !is_loopback(&out.host) {
            return Err(bad(format!(
                "refusing an unencrypted connection to {}: sslmode=disable is allowed only to a loopback address or a Unix socket; use verify-full",
                out.host
            )));
        }
        if out.sslcert.is_some() != out.sslkey.is_some() {
            return Err(bad("sslcert and sslkey go together".into()));
        }
        if out.sslmode == SslMode::Disable && (out.sslcert.is_some() || out.sslrootcert.is_some()) {
            return Err(bad("certificates given with sslmode=disable".into()));
        }
        Ok(out)
    }

    /// The URL with the password replaced by `***`, for messages.
    pub fn masked(&self) -> String {
        let mut s = String::from("postgres://");
        if let Some(u) = &self.user {
            s.push_str(&percent_encoding::utf8_percent_encode(u, USERINFO).to_string());
            if self.password.is_some() {
                s.push_str(":***");
            }
            s.push('@');
        }
        if self.host.starts_with('/') {
            s.push_str(&format!(
                "/{}?host={}",
                self.dbname.as_deref().unwrap_or(""),
                self.host
            ));
            return s;
        }
        if self.host.contains(':') {
            s.push_str(&format!("[{}]", self.host));
        } else {
            s.push_str(&self.host);
        }
        s.push_str(&format!(
            ":{}/{}?sslmode={}",
            self.port,
            self.dbname.as_deref().unwrap_or(""),
            self.sslmode.as_str()
        ));
        s
    }

    /// Replaces the password in a text (an error message from below).
    pub(crate) fn scrub(&self, text: String) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "***"),
            _ => text,
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

/// A database location with any password masked: `postgres://user:***@host/db`. Also
/// masks a `password=` parameter. Safe on text that does not parse as a URL.
pub fn mask_url(s: &str) -> String {
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return s.to_string();
    };
    let mut out = s.to_string();
    // The userinfo ends at the last '@' before the path (a password may hold '@' or '/').
    let end_of_authority = s[start..].find(['?', '#']).map_or(s.len(), |i| start + i);
    if let Some(at) = s[start..end_of_authority].rfind('@').map(|i| start + i)
        && let Some(colon) = s[start..at].find(':').map(|i| start + i)
    {
        out = format!("{}:***{}", &s[..colon], &s[at..]);
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

/// The default SQLite path.
///
/// `system` (asked for by the user), or running as root without `HOME`:
/// [`SYSTEM_DB_PATH`](crate::SYSTEM_DB_PATH). In a systemd unit with a `StateDirectory=`,
/// `$STATE_DIRECTORY/history.sqlite`. Otherwise
/// `$XDG_DATA_HOME/clinicscan/history.sqlite`, else
/// `$HOME/.local/share/clinicscan/history.sqlite`. `None` when neither variable is set for
/// a non-root user (the caller then asks for `--db`).
pub fn default_db_path(system: bool) -> Option<PathBuf> {
    resolve_db_path(system, is_root(), |k| std::env::var_os(k))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self is owned by the process's effective uid.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

pub(crate) fn resolve_db_path(
    system: bool,
    is_root: bool,
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if system {
        return Some(PathBuf::from(crate::SYSTEM_DB_PATH));
    }
    // A systemd unit's StateDirectory= (the first, when it names several): the service's
    // own user may have no home at all (DynamicUser).
    if let Some(state) = env("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        let first = state
            .to_string_lossy()
            .split(':')
            .next()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        if let Some(dir) = first {
            return Some(dir.join("history.sqlite"));
        }
    }
    let home = set("HOME");
    if is_root && home.is_none() {
        return Some(PathBuf::from(crate::SYSTEM_DB_PATH));
    }
    let base = set("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".local").join("share")))?;
    Some(base.join("clinicscan").join("history.sqlite"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(s: &str) -> PgUrl {
        match Location::parse(s) {
            Ok(Location::Postgres(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match Location::parse(s) {
            Err(e) => e.to_string(),
            Ok(l) => panic!("{s} parsed as {l:?}"),
        }
    }

    #[test]
    fn paths_and_urls_are_told_apart() {
        assert_eq!(
            Location::parse("/var/lib/clinicscan/history.sqlite").unwrap(),
            Location::Sqlite("/var/lib/clinicscan/history.sqlite".into())
        );
        assert_eq!(
            Location::parse("relative/h.sqlite").unwrap(),
            Location::Sqlite("relative/h.sqlite".into())
        );
        assert!(err("mysql://u:pw@db/x").contains("unsupported database URL scheme \"mysql\""));
        assert!(!err("mysql://u:pw@db/x").contains("pw"));
        assert!(Location::parse("").is_err());
    }

    #[test]
    fn full_url_parses_with_defaults_and_parameters() {
        let u = pg(
            "postgres://scan%40site:p%40ss%2Fw@db.example.jp:6432/clinicscan?sslrootcert=/etc/ca.pem&sslcert=/etc/c.pem&sslkey=/etc/k.pem&connect_timeout=5&application_name=site-01",
        );
        assert_eq!(u.host, "db.example.jp");
        assert_eq!(u.port, 6432);
        assert_eq!(u.user.as_deref(), Some("scan@site"));
        assert_eq!(u.password.as_deref(), Some("p@ss/w"));
        assert_eq!(u.dbname.as_deref(), Some("clinicscan"));
        assert_eq!(u.sslmode, SslMode::VerifyFull, "verify-full by default");
        assert_eq!(u.sslrootcert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(u.connect_timeout, Duration::from_secs(5));
        assert_eq!(u.application_name, "site-01");
        let shown = format!("{u:?} {} {}", u.masked(), Location::Postgres(u.clone()));
        assert!(!shown.contains("p@ss"), "{shown}");
        assert!(
            shown.contains("scan%40site:***@db.example.jp:6432/clinicscan"),
            "{shown}"
        );

        let v6 = pg("postgresql://[::1]/x?sslmode=disable");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 5432));
        assert_eq!(v6.masked(), "postgres://[::1]:5432/x?sslmode=disable");
        let sock = pg("postgres:///clinicscan?host=/run/postgresql");
        assert_eq!(sock.host, "/run/postgresql");
        assert_eq!(sock.sslmode, SslMode::Disable);
        assert_eq!(pg("postgres://h/d?sslrootcert=system").sslrootcert, None);
        assert_eq!(
            pg("postgres://h/d?sslmode=require").sslmode,
            SslMode::Require
        );
        assert_eq!(
            pg("postgres://h/d?sslmode=verify-ca").sslmode,
            SslMode::VerifyCa
        );
    }

    #[test]
    fn unsafe_or_unknown_settings_are_refused_without_echoing_secrets() {
        let e = err("postgres://u:hunter2@10.0.0.5/db?sslmode=disable");
        assert!(
            e.contains("refusing an unencrypted connection to 10.0.0.5"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        assert!(
            Location::parse("postgres://u:pw@127.0.0.1/db?sslmode=disable").is_ok(),
            "loopback may go without TLS"
        );
        let e = err("postgres://u:hunter2@db/x?sslmode=prefer");
        assert!(e.contains("falls back to an unencrypted connection"), "{e}");
        let e = err("postgres://u@db/x?password=hunter2");
        assert!(
            e.contains("unsupported parameter \"password\"; supported: sslmode"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        assert!(err("postgres://db/x?sslcert=/c.pem").contains("sslcert and sslkey go together"));
        assert!(err("postgres://a,b/x").contains("several hosts"));
        assert!(err("postgres:///x").contains("no host"));
        assert!(err("postgres://h/x?connect_timeout=0").contains("connect_timeout"));
        assert!(err("postgres://h/x?sslmode=bogus").contains("unknown sslmode"));
        assert!(err("postgres://h/a/b").contains("is not a database name"));
        assert!(err("postgres://u:pw@h:99999/x").contains("invalid port"));
        assert!(!err("postgres://u:pw@h:99999/x").contains(":pw@"));
    }

    #[test]
    fn mask_url_hides_passwords_anywhere() {
        assert_eq!(
            mask_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            mask_url("postgres://u:se@cr/et@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            mask_url("postgres://h/db?password=x&sslmode=require"),
            "postgres://h/db?password=***&sslmode=require"
        );
        assert_eq!(mask_url("/plain/path"), "/plain/path");
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_units_state_directory_holds_the_history() {
        let p = |vars: &[(&str, &str)]| resolve_db_path(false, false, env(vars));
        assert_eq!(
            p(&[("STATE_DIRECTORY", "/var/lib/clinicscan"), ("HOME", "/")]),
            Some(PathBuf::from("/var/lib/clinicscan/history.sqlite"))
        );
        assert_eq!(
            p(&[
                ("STATE_DIRECTORY", "/var/lib/a:/var/lib/b"),
                ("XDG_DATA_HOME", "/x")
            ]),
            Some(PathBuf::from("/var/lib/a/history.sqlite"))
        );
        assert_eq!(
            p(&[("STATE_DIRECTORY", ""), ("XDG_DATA_HOME", "/x")]),
            Some(PathBuf::from("/x/clinicscan/history.sqlite"))
        );
    }

    #[test]
    fn db_path_follows_xdg_then_home_then_system() {
        let p = |system, root, vars: &[(&str, &str)]| resolve_db_path(system, root, env(vars));
        assert_eq!(
            p(
                false,
                false,
                &[("XDG_DATA_HOME", "/x/data"), ("HOME", "/home/a")]
            ),
            Some(PathBuf::from("/x/data/clinicscan/history.sqlite"))
        );
        assert_eq!(
            p(
                false,
                false,
                &[("XDG_DATA_HOME", "relative"), ("HOME", "/home/a")]
            ),
            Some(PathBuf::from(
                "/home/a/.local/share/clinicscan/history.sqlite"
            ))
        );
        assert_eq!(
            p(false, true, &[]),
            Some(PathBuf::from(crate::SYSTEM_DB_PATH)),
            "root without HOME"
        );
        assert_eq!(
            p(false, true, &[("HOME", "/root")]),
            Some(PathBuf::from(
                "/root/.local/share/clinicscan/history.sqlite"
            ))
        );
        assert_eq!(
            p(true, false, &[("HOME", "/home/a")]),
            Some(PathBuf::from(crate::SYSTEM_DB_PATH))
        );
        assert_eq!(p(false, false, &[]), None);
    }
}
