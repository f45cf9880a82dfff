//! `clinicscan doctor`: what this installation uses and whether it works — the site file,
//! the data directory and its date, the history database, raw sockets, the mail server.
//! It connects only to the configured mail server (and opens only the configured history
//! database), each within a bounded time; it sends no packet to any other host.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use chrono::{DateTime, Utc};
use clinicscan_model::Lang;
use clinicscan_report::{EmailSettings, Security};
use clinicscan_store::Location;

use crate::args::DoctorArgs;
use crate::locations::{self, Found, Roots};
use crate::scan::Globals;
use crate::{common, exit};

/// The longest the mail server check may take.
const EMAIL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Ok,
    Warn,
    Broken,
}

struct Check {
    status: Status,
    what: &'static str,
    lines: Vec<String>,
}

/// Picks the Japanese or English text.
fn t(lang: Lang, ja: impl Into<String>, en: impl Into<String>) -> String {
    match lang {
        Lang::Ja => ja.into(),
        Lang::En => en.into(),
    }
}

pub fn run(g: &Globals, args: DoctorArgs) -> Result<u8> {
    let lang = g.lang;
    let (site_check, site) = check_site(lang, args.site.site.as_deref());
    let checks = [
        site_check,
        check_data(lang, args.data.data.as_deref()),
        check_history(lang, args.db.db.clone(), args.offline),
        check_raw_sockets(lang),
        check_email(lang, site.as_ref(), args.offline),
    ];
    let mut out = format!("clinicscan {} doctor\n", env!("CARGO_PKG_VERSION"));
    for c in &checks {
        let mark = match (c.status, lang) {
            (Status::Ok, Lang::Ja) => "[正常]",
            (Status::Warn, Lang::Ja) => "[注意]",
            (Status::Broken, Lang::Ja) => "[要対応]",
            (Status::Ok, Lang::En) => "[ok]",
            (Status::Warn, Lang::En) => "[warn]",
            (Status::Broken, Lang::En) => "[broken]",
        };
        let what = match (c.what, lang) {
            ("site", Lang::Ja) => "サイトファイル",
            ("data", Lang::Ja) => "ルールとデータ",
            ("history", Lang::Ja) => "履歴データベース",
            ("raw", Lang::Ja) => "raw ソケット",
            ("email", Lang::Ja) => "メール",
            ("site", _) => "site file",
            ("data", _) => "rules and data",
            ("history", _) => "history database",
            ("raw", _) => "raw sockets",
            (other, _) => other,
        };
        let _ = writeln!(out, "{mark} {what}: {}", c.lines.first().map_or("", |l| l));
        for line in c.lines.iter().skip(1) {
            let _ = writeln!(out, "    {line}");
        }
    }
    let broken = checks.iter().filter(|c| c.status == Status::Broken).count();
    let warn = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.push_str(&t(
        lang,
        format!("結果: 要対応 {broken} 件、注意 {warn} 件\n"),
        format!("result: {broken} broken, {warn} warning(s)\n"),
    ));
    common::write_output(None, &out)?;
    Ok(if broken > 0 {
        exit::FINDINGS
    } else {
        exit::CLEAN
    })
}

fn from(lang: Lang, found: &Found) -> String {
    let origin = match found.origin {
        locations::Origin::Option => t(lang, "コマンドライン", "command line"),
        locations::Origin::Packaged => t(lang, "パッケージ", "package"),
        other => other.to_string(),
    };
    t(
        lang,
        format!("{} ({origin} より)", found.path.display()),
        format!("{} (from {origin})", found.path.display()),
    )
}

fn check_site(lang: Lang, option: Option<&Path>) -> (Check, Option<clinicscan_policy::Site>) {
    let Some(found) = locations::site_file(option) else {
        let user = Roots::system()
            .user_config_dir()
            .map(|d| format!("{}/clinicscan/site.toml, ", d.display()))
            .unwrap_or_default();
        let places = format!(
            "--site, CLINICSCAN_SITE, {user}{}/site.toml",
            locations::SYSTEM_CONFIG_DIR
        );
        let check = Check {
            status: Status::Warn,
            what: "site",
            lines: vec![
                t(lang, "なし", "none"),
                t(
                    lang,
                    format!("探した場所: {places}"),
                    format!("looked for: {places}"),
                ),
                t(
                    lang,
                    "ゾーンが不明なため、ネットワーク分離の管理策は評価できません",
                    "without zones, the segmentation controls cannot be assessed",
                ),
            ],
        };
        return (check, None);
    };
    match clinicscan_policy::Site::from_file(&found.path) {
        Ok(site) => {
            let zones = site.zones.len();
            let name = site.name.clone().unwrap_or_default();
            let mut lines = vec![from(lang, &found)];
            let status = if zones == 0 {
                lines.push(t(
                    lang,
                    "ゾーンが定義されていません (例を参考に編集してください)",
                    "no zones defined yet (edit it; the file has an example)",
                ));
                Status::Warn
            } else {
                lines.push(t(
                    lang,
                    format!("「{name}」ゾーン {zones} 個"),
                    format!("\"{name}\", {zones} zone(s)"),
                ));
                Status::Ok
            };
            (
                Check {
                    status,
                    what: "site",
                    lines,
                },
                Some(site),
            )
        }
        Err(e) => (
            Check {
                status: Status::Broken,
                what: "site",
                lines: vec![from(lang, &found), e.to_string()],
            },
            None,
        ),
    }
}

fn check_data(lang: Lang, option: Option<&Path>) -> Check {
    let found = locations::data_dir(option);
    let (place, date) = match &found {
        Some(f) => (
            from(lang, f),
            newest_file(&f.path).map(|d| {
                t(
                    lang,
                    format!("ファイルの更新日 {}", d.format("%Y-%m-%d")),
                    format!("files dated {}", d.format("%Y-%m-%d")),
                )
            }),
        ),
        None => (
            t(lang, "clinicscan に内蔵", "built into clinicscan"),
            Some(t(
                lang,
                format!("clinicscan {} と同時に作成", env!("CARGO_PKG_VERSION")),
                format!("as of clinicscan {}", env!("CARGO_PKG_VERSION")),
            )),
        ),
    };
    let loaded = match &found {
        Some(f) => clinicscan_policy::RuleSet::load_with_data(Some(&f.path)),
        None => clinicscan_policy::RuleSet::shipped(),
    };
    match loaded {
        Ok(rules) => {
            let mut summary = t(
                lang,
                format!(
                    "ルール {} 件、管理策 {} 件、既知の悪用脆弱性 {} 件",
                    rules.rules().len(),
                    rules.catalogue().controls().len(),
                    rules.kev().entries().len()
                ),
                format!(
                    "{} rules, {} controls, {} known-exploited entries",
                    rules.rules().len(),
                    rules.catalogue().controls().len(),
                    rules.kev().entries().len()
                ),
            );
            if let Some(date) = date {
                summary.push_str("; ");
                summary.push_str(&date);
            }
            Check {
                status: Status::Ok,
                what: "data",
                lines: vec![place, summary],
            }
        }
        Err(e) => Check {
            status: Status::Broken,
            what: "data",
            lines: vec![place, e.to_string()],
        },
    }
}

/// The newest modification time of the `*.toml` files under `dir`.
fn newest_file(dir: &Path) -> Option<DateTime<Utc>> {
    fn walk(dir: &Path, newest: &mut Option<SystemTime>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, newest);
            } else if path.extension().is_some_and(|e| e == "toml")
                && let Ok(modified) = entry.metadata().and_then(|m| m.modified())
            {
                *newest = Some(newest.map_or(modified, |n| n.max(modified)));
            }
        }
    }
    let mut newest = None;
    walk(dir, &mut newest);
    newest.map(DateTime::<Utc>::from)
}

fn check_history(lang: Lang, option: Option<String>, offline: bool) -> Check {
    let db = match crate::history::Db::resolve(option) {
        Ok(db) => db,
        Err(e) => {
            return Check {
                status: Status::Broken,
                what: "history",
                lines: vec![format!("{e:#}")],
            };
        }
    };
    // A PostgreSQL URL is shown with its password masked.
    let place = db.location.to_string();
    let path = match &db.location {
        Location::Sqlite(path) if !path.exists() => path.clone(),
        Location::Postgres(_) if offline => {
            return Check {
                status: Status::Ok,
                what: "history",
                lines: vec![
                    place,
                    t(
                        lang,
                        "接続は確認していません (--offline)",
                        "not connected (--offline)",
                    ),
                ],
            };
        }
        _ => {
            let listed = db
                .open_existing()
                .and_then(|mut store| Ok(store.list(None)?));
            return match listed {
                Ok(scans) => {
                    let newest = scans
                        .first()
                        .map(|s| s.recorded.format("%Y-%m-%d %H:%M UTC").to_string());
                    let line = match newest {
                        Some(n) => t(
                            lang,
                            format!("記録 {} 件、最新 {n}", scans.len()),
                            format!("{} scan(s), newest {n}", scans.len()),
                        ),
                        None => t(lang, "記録なし", "no scans yet"),
                    };
                    Check {
                        status: Status::Ok,
                        what: "history",
                        lines: vec![place, line],
                    }
                }
                Err(e) => Check {
                    status: Status::Broken,
                    what: "history",
                    lines: vec![place, format!("{e:#}")],
                },
            };
        }
    };
    // Not there yet: the first scan creates it, if the nearest existing directory lets us.
    let mut dir = path.parent().map(Path::to_path_buf);
    while let Some(d) = &dir {
        if d.as_os_str().is_empty() {
            dir = Some(PathBuf::from("."));
            break;
        }
        if d.is_dir() {
            break;
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    let writable = dir
        .as_deref()
        .is_some_and(|d| tempfile::tempfile_in(d).is_ok());
    if writable {
        Check {
            status: Status::Ok,
            what: "history",
            lines: vec![
                place,
                t(
                    lang,
                    "まだありません (最初の走査で作成されます)",
                    "not there yet (the first scan creates it)",
                ),
            ],
        }
    } else {
        let d = dir.map(|d| d.display().to_string()).unwrap_or_default();
        Check {
            status: Status::Broken,
            what: "history",
            lines: vec![
                place,
                t(
                    lang,
                    format!("{d} に書き込めないため作成できません (--db で場所を指定)"),
                    format!("cannot be created: {d} is not writable (give --db)"),
                ),
            ],
        }
    }
}

/// The effective capability set of this process (`CapEff` in /proc/self/status).
fn effective_capabilities() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;

fn check_raw_sockets(lang: Lang) -> Check {
    use socket2::{Domain, Protocol, Socket, Type};
    // Opening (and closing) the sockets is the test: nothing is sent.
    let ip = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).map(drop);
    let packet = Socket::new(Domain::PACKET, Type::RAW, None).map(drop);
    let caps = effective_capabilities();
    let has = |bit: u32| caps.map(|c| c & (1 << bit) != 0);
    let yes_no = |v: Option<bool>| match v {
        Some(true) => t(lang, "あり", "yes"),
        Some(false) => t(lang, "なし", "no"),
        None => t(lang, "不明", "unknown"),
    };
    let mut lines = Vec::new();
    let status = match (&ip, &packet) {
        (Ok(()), Ok(())) => {
            lines.push(t(
                lang,
                "使用可 (SYN スキャン、ICMP と ARP による検出)",
                "allowed (SYN scan, ICMP and ARP discovery)",
            ));
            Status::Ok
        }
        _ => {
            let reason = [("IP", &ip), ("packet", &packet)]
                .iter()
                .filter_map(|(kind, r)| r.as_ref().err().map(|e| format!("{kind}: {e}")))
                .collect::<Vec<_>>()
                .join("; ");
            lines.push(t(
                lang,
                format!("使用不可 ({reason})"),
                format!("not allowed ({reason})"),
            ));
            lines.push(t(
                lang,
                "TCP connect による走査・検出になります (root か CAP_NET_RAW が必要)",
                "scans fall back to TCP connect and TCP pings (needs root or CAP_NET_RAW)",
            ));
            Status::Warn
        }
    };
    lines.push(format!(
        "CAP_NET_RAW: {}, CAP_NET_ADMIN: {}",
        yes_no(has(CAP_NET_RAW)),
        yes_no(has(CAP_NET_ADMIN))
    ));
    if has(CAP_NET_ADMIN) != Some(true) {
        let max = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        lines.push(t(
            lang,
            format!(
                "受信バッファは net.core.rmem_max ({max} バイト) まで (8 MiB には CAP_NET_ADMIN か rmem_max の引き上げが必要。取りこぼした応答は再送で補います)"
            ),
            format!(
                "raw receive buffers up to net.core.rmem_max ({max} bytes): 8 MiB needs CAP_NET_ADMIN or a larger rmem_max; dropped replies are asked again"
            ),
        ));
    }
    Check {
        status,
        what: "raw",
        lines,
    }
}

fn check_email(lang: Lang, site: Option<&clinicscan_policy::Site>, offline: bool) -> Check {
    let table = match site.and_then(|s| s.email.clone()) {
        Some(table) => match table.try_into::<EmailSettings>() {
            Ok(s) => Some(s),
            Err(e) => {
                return Check {
                    status: Status::Broken,
                    what: "email",
                    lines: vec![t(
                        lang,
                        format!("サイトファイルの [email] が不正です: {e}"),
                        format!("the site file's [email] table is invalid: {e}"),
                    )],
                };
            }
        },
        None => None,
    };
    let settings = match EmailSettings::resolve(table, |k| std::env::var(k).ok()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Check {
                status: Status::Ok,
                what: "email",
                lines: vec![t(
                    lang,
                    "未設定 (--email には [email] か CLINICSCAN_SMTP_HOST が必要)",
                    "not configured (--email needs [email] or CLINICSCAN_SMTP_HOST)",
                )],
            };
        }
        Err(e) => {
            return Check {
                status: Status::Broken,
                what: "email",
                lines: vec![e.to_string()],
            };
        }
    };
    let security = format!("{:?}", settings.security).to_lowercase();
    let port = settings.port.map(|p| format!(":{p}")).unwrap_or_default();
    let server = t(
        lang,
        format!(
            "{}{port} ({security})、宛先 {} 件",
            settings.host,
            settings.to.len()
        ),
        format!(
            "{}{port} ({security}), {} recipient(s)",
            settings.host,
            settings.to.len()
        ),
    );
    if offline {
        return Check {
            status: Status::Ok,
            what: "email",
            lines: vec![
                server,
                t(
                    lang,
                    "接続は確認していません (--offline)",
                    "not connected (--offline)",
                ),
            ],
        };
    }
    match clinicscan_report::test_connection(&settings, EMAIL_TIMEOUT) {
        Ok(()) => Check {
            status: Status::Ok,
            what: "email",
            lines: vec![
                server,
                match (settings.username.is_some(), settings.security) {
                    (true, _) => t(
                        lang,
                        "接続・TLS 検証・認証できました (送信はしていません)",
                        "connected, TLS verified, logged in (nothing sent)",
                    ),
                    (false, Security::Plain) => t(
                        lang,
                        "接続できました (送信はしていません)",
                        "connected (nothing sent)",
                    ),
                    (false, _) => t(
                        lang,
                        "接続・TLS 検証できました (送信はしていません)",
                        "connected, TLS verified (nothing sent)",
                    ),
                },
            ],
        },
        Err(e) => Check {
            status: Status::Broken,
            what: "email",
            lines: vec![
                server,
                t(
                    lang,
                    format!("接続できません: {e}"),
                    format!("cannot connect: {e}"),
                ),
            ],
        },
    }
}
