//! The storage suite: every case runs against SQLite (in a temporary directory) and against
//! a real PostgreSQL server the test starts on loopback. Both backends must give the same
//! answers: record (idempotently), list, show, the previous scan of the same scope (never
//! another site's), first/last sightings, the newest scan of every site and zone, versioned
//! migrations, the outbox, and crash safety (a writer killed at random moments).

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use clinicscan_store::{
    Delivery, FleetReport, Location, Retry, ScanOutbox, Store, StoreError, StoredScan,
    record_or_keep,
};
use common::pg::{CERT_USER, PASSWORD, PgServer, server_or_skip};
use common::{rerun, scan, site_scan};

/// Marks a store as written by a newer clinicscan (schema version `n`).
type SetVersion<'a> = Box<dyn Fn(&Location, i64) + 'a>;

/// One backend under test: how to get a fresh, empty store.
struct Backend<'a> {
    name: &'static str,
    fresh: Box<dyn Fn() -> Location + 'a>,
    set_version: SetVersion<'a>,
    scratch: PathBuf,
}

fn open(loc: &Location) -> Box<dyn Store> {
    clinicscan_store::open(loc).unwrap_or_else(|e| panic!("open {loc}: {e}"))
}

type Case = fn(&Backend<'_>);

const CASES: &[(&str, Case)] = &[
    (
        "record_list_show_previous_and_sightings",
        record_list_show_previous_and_sightings,
    ),
    (
        "recording_is_idempotent_on_the_scan_id",
        recording_is_idempotent_on_the_scan_id,
    ),
    ("two_sites_never_mix", two_sites_never_mix),
    (
        "newest_per_site_zone_feeds_the_fleet",
        newest_per_site_zone_feeds_the_fleet,
    ),
    ("hostile_text_round_trips", hostile_text_round_trips),
    (
        "migrations_run_once_and_newer_is_refused",
        migrations_run_once_and_newer_is_refused,
    ),
    (
        "outbox_keeps_what_the_store_cannot_take",
        outbox_keeps_what_the_store_cannot_take,
    ),
    (
        "a_kill_at_any_moment_leaves_the_store_consistent",
        a_kill_at_any_moment_leaves_the_store_consistent,
    ),
];

fn run_suite(b: &Backend<'_>) {
    for (name, case) in CASES {
        let t = Instant::now();
        eprintln!("[{}] {name} ...", b.name);
        case(b);
        eprintln!(
            "[{}] {name} ok ({:.1} s)",
            b.name,
            t.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn sqlite_backend() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicU32::new(0);
    let b = Backend {
        name: "sqlite",
        fresh: Box::new(|| {
            let i = n.fetch_add(1, Ordering::SeqCst);
            Location::Sqlite(dir.path().join(format!("case-{i}")).join("history.sqlite"))
        }),
        set_version: Box::new(|loc, v| {
            let Location::Sqlite(p) = loc else {
                unreachable!()
            };
            let conn = rusqlite::Connection::open(p).unwrap();
            conn.pragma_update(None, "user_version", v).unwrap();
        }),
        scratch: dir.path().to_path_buf(),
    };
    run_suite(&b);
}

#[test]
fn postgres_backend() {
    let Some(server) = server_or_skip("postgres_backend") else {
        return;
    };
    let b = Backend {
        name: "postgres",
        fresh: Box::new(|| Location::parse(&server.url(&server.fresh_db())).unwrap()),
        set_version: Box::new(|loc, v| {
            let Location::Postgres(u) = loc else {
                unreachable!()
            };
            let db = u.dbname.clone().unwrap();
            server
                .psql(
                    &db,
                    &format!("INSERT INTO clinicscan.schema_version (version) VALUES ({v})"),
                )
                .unwrap();
        }),
        scratch: server.path("scratch"),
    };
    std::fs::create_dir_all(&b.scratch).unwrap();
    run_suite(&b);
    postgres_tls(&server);
}

// ------------------------------------------------------------------------------ cases

fn record_list_show_previous_and_sightings(b: &Backend<'_>) {
    let loc = (b.fresh)();
    let mut h = open(&loc);
    assert_eq!(h.latest(None).unwrap(), None);
    if let Location::Sqlite(path) = &loc {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(path), 0o600, "database readable by others");
        assert_eq!(
            mode(path.parent().unwrap()),
            0o700,
            "directory open to others"
        );
    }
    assert!(h.list(None).unwrap().is_empty());

    let (po, pa) = scan("prev");
    let (co, ca) = scan("cur");
    let (ho, ha) = scan("hostile");
    let prev = h.record(&po, &pa).unwrap();
    assert!(prev.new);
    let other = h.record(&ho, &ha).unwrap().id; // another scope (guest zone, other site)
    let cur = h.record(&co, &ca).unwrap().id;
    let prev = prev.id;
    assert!(prev < other && other < cur);
    assert_eq!(h.latest(None).unwrap(), Some(cur));

    // The previous scan of the same scope skips the other site's scan in between, also
    // for a scan not recorded yet.
    assert_eq!(h.latest_before(cur).unwrap(), Some(prev));
    assert_eq!(h.latest_of_scope(&co, &ca).unwrap(), Some(cur));
    assert_eq!(h.latest_of_scope(&ho, &ha).unwrap(), Some(other));
    assert_eq!(h.latest_before(prev).unwrap(), None);
    assert_eq!(h.latest_before(other).unwrap(), None);
    assert!(matches!(
        h.latest_before(999),
        Err(StoreError::NoSuchScan(999))
    ));

    let list = h.list(None).unwrap();
    assert_eq!(
        list.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![prev, other, cur]
    );
    let s = &list[2];
    assert_eq!(s.site.as_deref(), Some("さくら内科クリニック"));
    assert_eq!(s.vantage_zones, "general");
    assert_eq!(s.hosts_up, 7);
    assert_eq!(s.findings, 9);
    assert_eq!(s.by_severity, [2, 2, 3, 1, 1]);
    assert_eq!(s.controls_failed, 6);
    assert_eq!(s.started.to_rfc3339(), "2026-11-20T01:00:00+00:00");

    let shown: StoredScan = h.show(cur).unwrap();
    assert_eq!(shown.assessment, ca);
    assert_eq!(shown.observations, co);
    assert_eq!(shown.summary, list[2]);
    assert!(matches!(h.show(999), Err(StoreError::NoSuchScan(999))));

    let seen = h.host_seen(None).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let printer = seen[&ip("10.77.10.50")];
    assert_eq!(printer.first_seen.to_rfc3339(), "2026-11-20T01:00:00+00:00");
    let router = seen[&ip("10.77.10.1")];
    assert_eq!(router.first_seen.to_rfc3339(), "2026-11-13T01:00:00+00:00");
    assert_eq!(router.last_seen.to_rfc3339(), "2026-11-20T01:00:00+00:00");
    assert_eq!(seen.len(), 8, "7 clinic hosts and the hostile one");

    // The inventory of every host ever seen: a later scan without the printer keeps the
    // printer's record from the scan that last saw it.
    let again = rerun(scan("prev"), "prev-again");
    h.record(&again.0, &again.1).unwrap();
    let last = h.last_seen_hosts(None).unwrap();
    let hosts: Vec<(String, String)> = last
        .iter()
        .flat_map(|o| {
            o.hosts
                .iter()
                .map(move |h| (o.scan.id.clone(), h.address.to_string()))
        })
        .collect();
    assert_eq!(hosts.len(), 8);
    assert!(hosts.contains(&(ho[0].scan.id.clone(), "10.77.50.66".into())));
    assert!(hosts.contains(&(co[0].scan.id.clone(), "10.77.10.50".into())));
    assert!(hosts.contains(&("prev-again".into(), "10.77.20.5".into())));

    // Reopening keeps everything and does not migrate twice.
    drop(h);
    let mut h = open(&loc);
    assert_eq!(h.list(None).unwrap().len(), 4);
    assert_eq!(h.show(cur).unwrap(), shown);
}

fn recording_is_idempotent_on_the_scan_id(b: &Backend<'_>) {
    let loc = (b.fresh)();
    let mut h = open(&loc);
    let (o, a) = scan("cur");
    let first = h.record(&o, &a).unwrap();
    let second = h.record(&o, &a).unwrap();
    assert!(first.new && !second.new);
    assert_eq!(first.id, second.id);
    // Another connection (another site's run retrying) sees the same.
    let third = open(&loc).record(&o, &a).unwrap();
    assert_eq!((third.id, third.new), (first.id, false));
    assert_eq!(h.list(None).unwrap().len(), 1);
    // A new run of the same network is a new scan.
    let (o2, a2) = rerun(scan("cur"), "another-run");
    assert!(h.record(&o2, &a2).unwrap().new);
    assert_eq!(h.list(None).unwrap().len(), 2);
}

fn two_sites_never_mix(b: &Backend<'_>) {
    let loc = (b.fresh)();
    let mut h = open(&loc);
    // Same site name, zones and targets: only the site id tells them apart.
    let a1 = site_scan("cur", "site-a", "1", 0);
    let b1 = site_scan("cur", "site-b", "1", 10);
    let a2 = site_scan("cur", "site-a", "2", 20);
    let mut same_name = |mut s: (Vec<_>, clinicscan_model::Assessment)| {
        s.1.site = Some("さくら内科クリニック".into());
        h.record(&s.0, &s.1).unwrap().id
    };
    let a1 = same_name(a1);
    let b1 = same_name(b1);
    let a2 = same_name(a2);
    assert_eq!(h.latest_before(a2).unwrap(), Some(a1));
    let mut b2 = site_scan("cur", "site-b", "3", 30);
    b2.1.site = Some("さくら内科クリニック".into());
    assert_eq!(h.latest_of_scope(&b2.0, &b2.1).unwrap(), Some(b1));
    assert_eq!(
        h.latest_before(b1).unwrap(),
        None,
        "site-b has no earlier scan"
    );
    assert_eq!(h.latest(Some("site-a")).unwrap(), Some(a2));
    assert_eq!(h.latest(Some("site-b")).unwrap(), Some(b1));
    assert_eq!(h.latest(Some("nowhere")).unwrap(), None);
    let only_b = h.list(Some("site-b")).unwrap();
    assert_eq!(only_b.iter().map(|s| s.id).collect::<Vec<_>>(), vec![b1]);
    assert_eq!(only_b[0].site_id.as_deref(), Some("site-b"));
    let seen_b = h.host_seen(Some("site-b")).unwrap();
    let router = seen_b[&"10.77.10.1".parse::<IpAddr>().unwrap()];
    assert_eq!(router.first_seen.to_rfc3339(), "2026-11-20T01:10:00+00:00");
    assert_eq!(router.first_seen, router.last_seen);
    let seen_a = h.host_seen(Some("site-a")).unwrap();
    let router = seen_a[&"10.77.10.1".parse::<IpAddr>().unwrap()];
    assert_eq!(router.last_seen.to_rfc3339(), "2026-11-20T01:20:00+00:00");
    let last_b = h.last_seen_hosts(Some("site-b")).unwrap();
    assert!(last_b.iter().all(|o| o.scan.id == "site-b/1"));
}

fn newest_per_site_zone_feeds_the_fleet(b: &Backend<'_>) {
    let loc = (b.fresh)();
    let mut h = open(&loc);
    let guest = |mut s: (
        Vec<clinicscan_model::Observation>,
        clinicscan_model::Assessment,
    )| {
        for o in &mut s.0 {
            o.scan.vantage.zone = Some("guest".into());
        }
        s
    };
    let scans = [
        site_scan("prev", "site-a", "old", 0),
        site_scan("cur", "site-a", "new", 60),
        guest(site_scan("hostile", "site-a", "guest", 30)),
        site_scan("cur", "site-b", "1", 0),
        site_scan("empty", "site-c", "1", -60 * 24 * 30),
    ];
    let mut ids = Vec::new();
    for (o, a) in &scans {
        ids.push(h.record(o, a).unwrap().id);
    }
    // A scan without a site id (a local history) is not part of any site.
    let (o, a) = scan("cur");
    h.record(&o, &a).unwrap();

    let newest = h.newest_per_site_zone().unwrap();
    let picked: Vec<(String, String, i64)> = newest
        .iter()
        .map(|(s, _)| (s.site_id.clone().unwrap(), s.vantage_zones.clone(), s.id))
        .collect();
    assert_eq!(
        picked,
        vec![
            ("site-a".into(), "general".into(), ids[1]),
            ("site-a".into(), "guest".into(), ids[2]),
            ("site-b".into(), "general".into(), ids[3]),
            ("site-c".into(), "general".into(), ids[4]),
        ]
    );
    assert_eq!(newest[0].1, scans[1].1, "the Assessment comes along whole");

    let newest_a = scans[1].0[0].scan.started.max(scans[2].0[0].scan.started);
    let now = newest_a + chrono::Duration::hours(2);
    let fleet = FleetReport::build(now, 7, &newest);
    assert_eq!(fleet.sites.len(), 3);
    let a = &fleet.sites[0];
    assert_eq!(a.site_id, "site-a");
    assert_eq!(a.vantage_zones, vec!["general", "guest"]);
    assert_eq!(a.scans, vec![ids[1], ids[2]]);
    assert_eq!(a.last_scan, newest_a);
    assert_eq!(a.age_seconds, 2 * 3600);
    let distinct: std::collections::BTreeSet<&str> = scans[1]
        .1
        .findings
        .iter()
        .chain(&scans[2].1.findings)
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(a.findings as usize, distinct.len());
    assert_eq!(fleet.stale_sites, vec!["site-c"]);
    let top = &fleet.common_findings[0];
    assert_eq!(
        top.sites, 2,
        "site-a and site-b share the current scan's findings"
    );
    assert_eq!(top.site_ids, vec!["site-a", "site-b"]);
}

fn hostile_text_round_trips(b: &Backend<'_>) {
    let loc = (b.fresh)();
    let mut h = open(&loc);
    let (mut o, mut a) = rerun(scan("hostile"), "hostile-nul");
    // A NUL, other control characters and quotes, as a hostile device's banner may hold.
    let nasty = "a\u{0}b\u{1b}[31m'\"; DROP TABLE scans; --\u{7f}\u{202e}";
    a.site = Some(nasty.into());
    if let Some(f) = a.findings.first_mut() {
        f.evidence.push(clinicscan_model::Evidence {
            key: "banner".into(),
            value: nasty.into(),
        });
    }
    if let Some(host) = o[0].hosts.first_mut() {
        host.mac = Some(nasty.into());
    }
    let id = h.record(&o, &a).unwrap().id;
    let back = h.show(id).unwrap();
    assert_eq!(back.assessment, a);
    assert_eq!(back.observations, o);
    // The listing column cannot hold NUL in PostgreSQL: both backends show U+FFFD there.
    assert_eq!(back.summary.site, Some(nasty.replace('\0', "\u{fffd}")));
    assert_eq!(h.list(None).unwrap().len(), 1);
}

fn migrations_run_once_and_newer_is_refused(b: &Backend<'_>) {
    let loc = (b.fresh)();
    let (o, a) = scan("cur");
    open(&loc).record(&o, &a).unwrap();
    for _ in 0..3 {
        assert_eq!(open(&loc).list(None).unwrap().len(), 1);
    }
    (b.set_version)(&loc, 99);
    match clinicscan_store::open(&loc) {
        Err(e @ StoreError::TooNew { found: 99, .. }) => {
            assert!(e.to_string().contains("upgrade clinicscan"), "{e}");
            assert!(!e.to_string().contains(PASSWORD), "{e}");
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

fn unreachable_location() -> Location {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }; // closed again: nothing listens there
    Location::parse(&format!(
        "postgres://clinicscan:{PASSWORD}@127.0.0.1:{port}/nowhere?sslmode=disable&connect_timeout=2"
    ))
    .unwrap()
}

fn outbox_keeps_what_the_store_cannot_take(b: &Backend<'_>) {
    let loc = (b.fresh)();
    let outbox = ScanOutbox::new(b.scratch.join(format!("outbox-{}", std::process::id())));
    let quick = Retry {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    let first = site_scan("prev", "site-o", "1", 0);
    let t = Instant::now();
    match record_or_keep(&unreachable_location(), &outbox, &quick, &first.0, &first.1).unwrap() {
        Delivery::Kept { pending, error, .. } => {
            assert_eq!(pending, 1);
            assert!(error.is_transient(), "{error}");
            assert!(!error.to_string().contains(PASSWORD), "{error}");
        }
        Delivery::Recorded { .. } => panic!("nothing listens there"),
    }
    assert!(t.elapsed() < Duration::from_secs(10), "retries are bounded");
    // A second kept copy of the same scan (a run killed after the commit, before removing
    // its file, then kept again) must not be stored twice.
    outbox.keep(&first.0, &first.1, "test").unwrap();
    assert_eq!(outbox.len().unwrap(), 2);
    // A damaged file is set aside, not sent and not deleted.
    std::fs::write(
        outbox.dir().join("00000000T000000Z-garbage.json"),
        "{not json",
    )
    .unwrap();

    let second = site_scan("cur", "site-o", "2", 10);
    match record_or_keep(&loc, &outbox, &quick, &second.0, &second.1).unwrap() {
        Delivery::Recorded {
            mut store,
            recorded,
            flushed,
        } => {
            assert_eq!(flushed, 2);
            assert!(recorded.new);
            let list = store.list(Some("site-o")).unwrap();
            assert_eq!(list.len(), 2, "the kept scan once, then this one");
            assert_eq!(store.latest_before(recorded.id).unwrap(), Some(list[0].id));
        }
        Delivery::Kept { error, .. } => panic!("store reachable: {error}"),
    }
    assert!(outbox.is_empty().unwrap());
    assert!(
        outbox
            .dir()
            .join("unreadable/00000000T000000Z-garbage.json")
            .exists()
    );
}

// ------------------------------------------------------------------ crash safety

const CHILD_ENV: &str = "CLINICSCAN_STORE_KILL_CHILD";

/// The child side of the kill test: records new scans until it is killed. Does nothing in
/// a normal test run (the variable is unset).
#[test]
fn kill_child_writer() {
    let Ok(location) = std::env::var(CHILD_ENV) else {
        return;
    };
    let loc = Location::parse(&location).unwrap();
    let mut h = open(&loc);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let (o, a) = rerun(scan("cur"), &format!("kill-{}-{n}", std::process::id()));
        h.record(&o, &a).unwrap();
    }
}

/// A small deterministic generator for the kill delays (seeded from the clock, printed so
/// a failure can be replayed with CSM_KILL_SEED).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn location_arg(loc: &Location) -> String {
    match loc {
        Location::Sqlite(p) => p.display().to_string(),
        // The child needs the password, which Display masks: rebuild from the suite's URL.
        Location::Postgres(u) => format!(
            "postgres://clinicscan:{PASSWORD}@{}:{}/{}?sslmode=disable",
            u.host,
            u.port,
            u.dbname.clone().unwrap_or_default()
        ),
    }
}

fn spawn_writer(loc: &Location) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "kill_child_writer", "--test-threads=1"])
        .env(CHILD_ENV, location_arg(loc))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn a_kill_at_any_moment_leaves_the_store_consistent(b: &Backend<'_>) {
    let loc = (b.fresh)();
    {
        let mut h = open(&loc);
        for which in ["prev", "hostile", "empty"] {
            let (o, a) = scan(which);
            h.record(&o, &a).unwrap();
        }
    }
    let mut seed: u64 = std::env::var("CSM_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("[{}] kill test seed: CSM_KILL_SEED={seed}", b.name);

    let mut known: BTreeMap<i64, StoredScan> = BTreeMap::new();
    {
        let mut h = open(&loc);
        for s in h.list(None).unwrap() {
            known.insert(s.id, h.show(s.id).unwrap());
        }
    }
    assert_eq!(known.len(), 3);
    let integrity = |loc: &Location, what: &str| {
        if let Location::Sqlite(p) = loc {
            assert_eq!(
                clinicscan_store::SqliteStore::open(p)
                    .unwrap()
                    .integrity_check()
                    .unwrap(),
                Ok(()),
                "{what}"
            );
        }
    };

    // Kills while a fresh store is being created and migrated: the next open must find
    // either no schema or the whole schema, never half of it.
    for round in 0..3 {
        let fresh = (b.fresh)();
        let mut child = spawn_writer(&fresh);
        std::thread::sleep(Duration::from_millis(next(&mut seed) % 60));
        child.kill().unwrap();
        child.wait().unwrap();
        integrity(&fresh, &format!("fresh round {round}"));
        let mut h = open(&fresh);
        for s in h.list(None).unwrap() {
            assert_eq!(h.show(s.id).unwrap().observations.len(), 1);
        }
    }

    let rounds = 8;
    for round in 0..rounds {
        let mut child = spawn_writer(&loc);
        if round == rounds - 1 {
            // However slow the machine, the last round kills mid-stream: it waits until
            // the child has committed a scan, then kills it a moment later.
            let deadline = Instant::now() + Duration::from_secs(30);
            let before = known.len();
            loop {
                let n = open(&loc).list(None).unwrap().len();
                if n > before || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(Duration::from_millis(next(&mut seed) % 20));
        } else {
            let delay = 30 + next(&mut seed) % 400;
            std::thread::sleep(Duration::from_millis(delay));
        }
        child.kill().unwrap(); // SIGKILL: no destructor, no rollback, no flush
        child.wait().unwrap();

        integrity(&loc, &format!("round {round}: integrity_check failed"));
        let mut h = open(&loc);
        let list = h.list(None).unwrap();
        for (id, before) in &known {
            let now = h
                .show(*id)
                .unwrap_or_else(|e| panic!("round {round}: scan {id} lost: {e}"));
            assert_eq!(&now, before, "round {round}: scan {id} changed");
        }
        // Every scan the child managed to commit is whole.
        for s in &list {
            if let std::collections::btree_map::Entry::Vacant(slot) = known.entry(s.id) {
                let whole = h.show(s.id).unwrap();
                assert_eq!(
                    whole.observations.len(),
                    1,
                    "round {round}: scan {} partial",
                    s.id
                );
                assert_eq!(
                    whole.summary.findings as usize,
                    whole.assessment.findings.len()
                );
                slot.insert(whole);
            }
        }
    }
    let written_by_children = known.len() - 3;
    eprintln!(
        "[{}] children committed {written_by_children} scans over {rounds} kills",
        b.name
    );
    assert!(
        written_by_children > 0,
        "the children never committed a scan: the test did not exercise writes"
    );
}

// ------------------------------------------------------------------ PostgreSQL TLS

fn postgres_tls(server: &PgServer) {
    let db = server.fresh_db();
    let dir = server.path("");
    let ca = dir.join("ca.pem");
    let other = dir.join("other-ca.pem");
    let url = |user: &str, host: &str, params: &str| {
        format!("postgres://{user}@{host}:{}/{db}?{params}", server.port)
    };
    let connect = |u: &str| clinicscan_store::open(&Location::parse(u).unwrap());
    let pw_user = format!("clinicscan:{PASSWORD}");

    // verify-full: the chain against sslrootcert and the address in the certificate.
    let full = url(
        &pw_user,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let (o, a) = site_scan("cur", "tls-site", "1", 0);
    connect(&full).unwrap().record(&o, &a).unwrap();
    // A site's role needs no more than this (the operator guide's grants): no DELETE, no
    // UPDATE, no DDL once the schema is current.
    server
        .psql(
            &db,
            &format!(
                "GRANT USAGE ON SCHEMA clinicscan TO {CERT_USER};
                 GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA clinicscan TO {CERT_USER};"
            ),
        )
        .unwrap();

    // A client certificate and no password at all (pg_hba: hostssl ... cert).
    let cert = url(
        CERT_USER,
        "127.0.0.1",
        &format!(
            "sslrootcert={}&sslcert={}&sslkey={}",
            ca.display(),
            dir.join("client.pem").display(),
            dir.join("client.key").display()
        ),
    );
    let mut by_cert = connect(&cert).unwrap_or_else(|e| panic!("client certificate: {e}"));
    let (o, a) = site_scan("cur", "tls-site", "2", 10);
    assert!(by_cert.record(&o, &a).unwrap().new);
    // Without its certificate the same user is refused.
    let e = connect(&url(
        CERT_USER,
        "127.0.0.1",
        &format!("sslrootcert={}", ca.display()),
    ))
    .unwrap_err();
    assert!(!e.is_transient(), "{e}");

    // A name the certificate does not hold: verify-full refuses, verify-ca accepts.
    let e = connect(&url(
        &pw_user,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    ))
    .unwrap_err();
    assert!(!e.is_transient(), "a wrong certificate is not retried: {e}");
    assert!(e.to_string().contains("certificate"), "{e}");
    assert!(!e.to_string().contains(PASSWORD), "{e}");
    connect(&url(
        &pw_user,
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
    ))
    .unwrap_or_else(|e| panic!("verify-ca: {e}"));

    // Another CA: refused unless the URL asks for no verification at all.
    let e = connect(&url(
        &pw_user,
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={}", other.display()),
    ))
    .unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    connect(&url(&pw_user, "127.0.0.1", "sslmode=require")).unwrap();
    // No sslrootcert: the system's roots, which do not know the test CA.
    assert!(connect(&url(&pw_user, "127.0.0.1", "")).is_err());

    // A wrong password: refused, not retried, the password not echoed.
    let e = connect(&url(
        "clinicscan:Wr0ng-Passw0rd",
        "127.0.0.1",
        "sslmode=disable",
    ))
    .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(!e.to_string().contains("Wr0ng-Passw0rd"), "{e}");
    assert!(e.to_string().contains("clinicscan:***@127.0.0.1"), "{e}");

    let mut check = connect(&server.url(&db)).unwrap();
    assert_eq!(check.list(Some("tls-site")).unwrap().len(), 2);
}
