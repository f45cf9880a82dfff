//! The TLS/HTTP/SMTP probes against real daemons (nginx, openssl s_server, gnutls-serv,
//! aiosmtpd) in the TLS lab (`tests/labs/tls/lab.sh`, endpoints in its header), checked
//! against what `sslscan` and `openssl s_client` see on the same endpoints.
//!
//! Root and the lab's packages needed: see `clinicscan_testlab` for when the lab test does
//! not run. `record_fixtures` (ignored) re-records `fixtures/tls` and `fixtures/http` from
//! the same lab.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clinicscan_model::{ProbeErrorKind, SuiteWeakness, TlsFacts, TlsVersion};
use clinicscan_probe::hooks;
use clinicscan_testlab::{Lab, LabSpec};
use clinicscan_wire::tls::{self as wire, ClientHello};

const LAB_IP: &str = "10.254.71.2";

fn repo() -> PathBuf {
    clinicscan_testlab::workspace()
}

/// The TLS lab, stopped and removed when dropped (`TLS_LAB_DIR=DIR`: the one started by hand
/// in DIR, left running).
fn tls_lab() -> Option<Lab> {
    LabSpec::script("tls")
        .needs(&["nginx", "openssl", "gnutls-serv", "sslscan", "ip"])
        .start()
}

fn lab_addr(port: u16) -> SocketAddr {
    format!("{LAB_IP}:{port}").parse().unwrap()
}

/// What sslscan saw: accepted versions and (version, suite id) pairs.
fn sslscan(port: u16) -> (BTreeSet<String>, BTreeSet<(String, u16)>) {
    let out = Command::new("timeout")
        .args([
            "60",
            "sslscan",
            "--no-colour",
            "--show-cipher-ids",
            "--no-heartbleed",
        ])
        .args([
            "--no-renegotiation",
            "--no-compression",
            "--no-fallback",
            "--no-groups",
        ])
        .args(["--no-check-certificate", &format!("{LAB_IP}:{port}")])
        .output()
        .expect("sslscan runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut versions = BTreeSet::new();
    let mut suites = BTreeSet::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 2 && f[1] == "enabled" {
            versions.insert(f[0].to_string());
        }
        if f.len() >= 5 && (f[0] == "Accepted" || f[0] == "Preferred") {
            let id = u16::from_str_radix(f[4].trim_start_matches("0x"), 16).unwrap();
            suites.insert((f[1].to_string(), id));
        }
    }
    (versions, suites)
}

fn version_label(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::Ssl2 => "SSLv2",
        TlsVersion::Ssl3 => "SSLv3",
        TlsVersion::Tls10 => "TLSv1.0",
        TlsVersion::Tls11 => "TLSv1.1",
        TlsVersion::Tls12 => "TLSv1.2",
        TlsVersion::Tls13 => "TLSv1.3",
    }
}

fn ours(facts: &TlsFacts) -> (BTreeSet<String>, BTreeSet<(String, u16)>) {
    let versions = facts
        .accepted_versions
        .iter()
        .map(|v| version_label(*v).to_string())
        .collect();
    let suites = facts
        .versions
        .iter()
        .flat_map(|v| {
            v.suites
                .iter()
                .map(move |s| (version_label(v.version).to_string(), s.id))
        })
        .collect();
    (versions, suites)
}

fn suites_of(facts: &TlsFacts, v: TlsVersion) -> Vec<&str> {
    facts
        .versions
        .iter()
        .find(|r| r.version == v)
        .map(|r| r.suites.iter().map(|s| s.name.as_str()).collect())
        .unwrap_or_default()
}

/// `openssl s_client` completes a handshake with exactly this version.
fn s_client_accepts(port: u16, flag: &str) -> bool {
    let out = Command::new("timeout")
        .args([
            "10",
            "openssl",
            "s_client",
            "-connect",
            &format!("{LAB_IP}:{port}"),
            flag,
        ])
        .args(["-cipher", "ALL:@SECLEVEL=0"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.contains("Cipher is ") && !text.contains("Cipher is (NONE)")
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

async fn audit(port: u16) -> (TlsFacts, Duration) {
    let t = Instant::now();
    let facts = hooks::tls_audit(lab_addr(port), None, now(), Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("audit of :{port} failed: {e:?}"));
    (facts, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_audit_matches_sslscan_and_openssl() {
    let Some(_lab) = tls_lab() else {
        return;
    };

    // The weak nginx: exact versions, suites in server order, weaknesses, certificate.
    let (weak, elapsed) = audit(4431).await;
    eprintln!("weak nginx audited in {elapsed:?}");
    assert_eq!(
        weak.accepted_versions,
        vec![TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12]
    );
    let legacy = vec![
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_NULL_SHA",
    ];
    assert_eq!(suites_of(&weak, TlsVersion::Tls10), legacy);
    assert_eq!(suites_of(&weak, TlsVersion::Tls11), legacy);
    let mut t12 = vec!["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"];
    t12.extend(&legacy);
    assert_eq!(suites_of(&weak, TlsVersion::Tls12), t12);
    assert_eq!(
        weak.weaknesses,
        vec![
            SuiteWeakness::Null,
            SuiteWeakness::Anonymous,
            SuiteWeakness::CbcSha1,
            SuiteWeakness::NoForwardSecrecy
        ]
    );
    assert_eq!(weak.client_cert_requested, Some(false));
    let cert = weak.certificate.as_ref().expect("certificate");
    assert_eq!(cert.subject, "C=JP,O=Old Clinic,CN=emr.clinic.invalid");
    assert!(cert.expired && cert.self_signed && cert.weak_signature);
    assert_eq!(cert.not_after, "2023-03-31T23:59:59Z");
    assert_eq!(cert.signature_algorithm, "sha1WithRSAEncryption");
    assert_eq!((cert.key_bits, cert.days_left < -1000), (2048, true));

    // The good nginx.
    let (good, elapsed) = audit(4432).await;
    eprintln!("good nginx audited in {elapsed:?}");
    assert_eq!(
        good.accepted_versions,
        vec![TlsVersion::Tls12, TlsVersion::Tls13]
    );
    assert_eq!(
        suites_of(&good, TlsVersion::Tls12),
        vec![
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        ]
    );
    assert!(good.weak_suites.is_empty() && good.weaknesses.is_empty());
    let cert = good.certificate.as_ref().expect("certificate");
    assert_eq!(
        cert.sans,
        vec!["good.lab.invalid".to_string(), LAB_IP.to_string()]
    );
    assert!(!cert.expired && !cert.self_signed);
    assert_eq!(
        (cert.key_bits, cert.signature_algorithm.as_str()),
        (256, "sha256WithRSAEncryption")
    );
    assert_eq!(good.chain.len(), 2);
    assert!(good.chain[1].self_signed);

    // TLS 1.3 only: the certificate comes from the rustls handshake.
    let (t13, _) = audit(4433).await;
    assert_eq!(t13.accepted_versions, vec![TlsVersion::Tls13]);
    assert_eq!(t13.client_cert_requested, None);
    let cert = t13
        .certificate
        .as_ref()
        .expect("TLS 1.3 certificate via rustls");
    assert_eq!(
        (cert.key_bits, cert.sans.clone()),
        (3072, vec!["tls13.lab.invalid".to_string()])
    );

    // Client certificate requested.
    let (cr, _) = audit(4434).await;
    assert_eq!(cr.client_cert_requested, Some(true));

    // 3DES and RC4 from GnuTLS.
    let (legacy, _) = audit(4435).await;
    for w in [SuiteWeakness::Rc4, SuiteWeakness::Des64BitBlock] {
        assert!(
            legacy.weaknesses.contains(&w),
            "{w:?} in {:?}",
            legacy.weaknesses
        );
    }
    assert!(
        legacy
            .weak_suites
            .contains(&"TLS_RSA_WITH_3DES_EDE_CBC_SHA".to_string())
    );

    // HelloRetryRequest still tells the version and suite.
    let (hrr, _) = audit(4436).await;
    assert_eq!(hrr.accepted_versions, vec![TlsVersion::Tls13]);
    assert_eq!(suites_of(&hrr, TlsVersion::Tls13).len(), 3);

    // Same versions and suites as sslscan on every endpoint it can handshake with, and the
    // same version verdicts as openssl s_client.
    for (port, facts) in [(4431, &weak), (4432, &good), (4433, &t13), (4435, &legacy)] {
        let ssl2 = facts
            .versions
            .iter()
            .find(|v| v.version == TlsVersion::Ssl2);
        assert_eq!(
            ssl2.and_then(|v| v.accepted),
            Some(false),
            "SSLv2 on :{port}"
        );
        let (our_versions, our_suites) = ours(facts);
        let (their_versions, their_suites) = sslscan(port);
        assert_eq!(our_versions, their_versions, "versions on :{port}");
        assert_eq!(our_suites, their_suites, "suites on :{port}");
        for (v, flag) in [
            (TlsVersion::Tls10, "-tls1"),
            (TlsVersion::Tls11, "-tls1_1"),
            (TlsVersion::Tls12, "-tls1_2"),
            (TlsVersion::Tls13, "-tls1_3"),
        ] {
            assert_eq!(
                facts.accepted_versions.contains(&v),
                s_client_accepts(port, flag),
                "{v:?} on :{port} against openssl s_client"
            );
        }
    }

    // Not TLS: the plain HTTP port answers a ClientHello with an HTTP error.
    let err = hooks::tls_audit(lab_addr(8081), None, now(), Duration::from_secs(10))
        .await
        .expect_err("plain HTTP is not TLS");
    assert_eq!(err.kind, ProbeErrorKind::InvalidMessage);
    assert_eq!(err.detail, "invalid message: not TLS: record type 0x48");

    // HTTP: redirect to HTTPS on the same host; Shift_JIS title; login form; Basic auth.
    let svc = hooks::probe("http", lab_addr(8080), None, now(), Duration::from_secs(10)).await;
    let http = svc.facts.http.expect("http facts");
    assert_eq!(http.status, 301);
    assert_eq!(http.redirects_to_https, Some(true));
    assert_eq!(http.redirect.as_deref(), Some("https://10.254.71.2:4432/"));
    assert_eq!(
        http.title.as_deref(),
        Some("電子カルテ サーバ ログイン & 管理")
    );
    assert_eq!(http.login_form, Some(true));
    assert_eq!(
        svc.software.map(|s| (s.product, s.version)),
        Some(("nginx".into(), Some("1.22.1".into())))
    );

    let svc = hooks::probe(
        "https",
        lab_addr(4432),
        None,
        now(),
        Duration::from_secs(10),
    )
    .await;
    let https = svc.facts.http.expect("https facts");
    assert_eq!(
        https.products.first().map(|p| p.vendor.as_str()),
        Some("Fortinet")
    );
    // no security header on 4432; all of them on 4433
    assert_eq!((https.hsts, https.hsts_max_age), (Some(false), None));
    assert_eq!(https.x_frame_options, None);
    let svc = hooks::probe(
        "https",
        lab_addr(4433),
        None,
        now(),
        Duration::from_secs(10),
    )
    .await;
    let https = svc.facts.http.expect("https facts");
    assert_eq!(
        (https.hsts, https.hsts_max_age),
        (Some(true), Some(63_072_000))
    );
    assert_eq!(https.x_frame_options.as_deref(), Some("DENY"));
    assert_eq!(https.x_content_type_options.as_deref(), Some("nosniff"));
    assert_eq!(https.frame_ancestors.as_deref(), Some("'none'"));

    // HTTPS on a TLS 1.0/1.1-only server: rustls cannot, and says why.
    let svc = hooks::probe(
        "https",
        lab_addr(4437),
        None,
        now(),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(svc.facts.http, None);
    assert_eq!(svc.probe_errors.len(), 1);
    assert_eq!(svc.probe_errors[0].kind, ProbeErrorKind::PeerIncompatible);
    assert!(
        svc.probe_errors[0].detail.contains("only TLS below 1.2"),
        "{:?}",
        svc.probe_errors
    );
    let (old, _) = audit(4437).await;
    assert_eq!(
        old.accepted_versions,
        vec![TlsVersion::Tls10, TlsVersion::Tls11]
    );

    // SMTP STARTTLS: the audit runs through the prelude.
    let svc = hooks::probe("smtp", lab_addr(2525), None, now(), Duration::from_secs(20)).await;
    assert_eq!(svc.protocol.as_deref(), Some("smtp"));
    let tls = svc.facts.tls.expect("STARTTLS audit");
    assert_eq!(tls.via, "starttls-smtp");
    assert_eq!(
        tls.accepted_versions,
        vec![TlsVersion::Tls12, TlsVersion::Tls13]
    );
    assert_eq!(
        tls.certificate.map(|c| c.subject),
        Some("CN=good.lab.invalid,O=clinicscan lab,C=JP".to_string())
    );
}

/// Timing for `tests/labs/tls/bench.sh`: the median of 5 audits per endpoint, and what was found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run by tests/labs/tls/bench.sh"]
async fn bench_clinicscan() {
    let _lab = tls_lab().expect("the TLS lab");
    for port in [4431u16, 4432, 4433, 4435] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let (facts, t) = audit(port).await;
            times.push(t);
            last = Some(facts);
        }
        times.sort();
        let facts = last.unwrap();
        let versions: Vec<&str> = facts
            .accepted_versions
            .iter()
            .map(|v| version_label(*v))
            .collect();
        let suites: usize = facts.versions.iter().map(|v| v.suites.len()).sum();
        println!(
            "clinicscan :{port} median {:.1} ms; versions {}; suites (version x suite) {suites}; weak {}: {}",
            times[2].as_secs_f64() * 1000.0,
            versions.join(","),
            facts.weak_suites.len(),
            facts.weak_suites.join(" ")
        );
    }
}

// ---------------------------------------------------------------- fixture recording

/// Sends `request` and returns everything the server sends until it goes quiet (300 ms),
/// closes, or 64 KiB.
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 8192];
    while out.len() < 65_536 {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    out
}

fn hello(version: u16, suites: &[u16]) -> Vec<u8> {
    ClientHello {
        version,
        suites,
        server_name: None,
        random: [7; 32],
        // RFC 7748 §6.1 Alice's public key.
        x25519_public: [
            0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e,
            0xf7, 0x5a, 0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e,
            0xaa, 0x9b, 0x4e, 0x6a,
        ],
    }
    .encode()
}

#[test]
#[ignore = "re-records fixtures from the lab; run as root"]
fn record_fixtures() {
    let lab = tls_lab().expect("the TLS lab");
    let lab_dir = lab.dir().expect("the lab's run directory");
    let tls = repo().join("fixtures/tls");
    let http = repo().join("fixtures/http");
    let all12 = wire::suites_for(wire::TLS12);
    let all13 = wire::suites_for(wire::TLS13);
    let put = |dir: &Path, name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();

    put(&tls, "client-hello-tls12.bin", &hello(wire::TLS12, &all12));
    put(&tls, "client-hello-tls13.bin", &hello(wire::TLS13, &all13));
    // What each endpoint answers to one ClientHello.
    let des3: &[u16] = &[0x000A];
    for (name, port, version, suites) in [
        ("nginx-weak-tls10-flight.bin", 4431, wire::TLS10, &all12[..]),
        ("nginx-weak-tls12-flight.bin", 4431, wire::TLS12, &all12),
        ("nginx-weak-tls13-alert.bin", 4431, wire::TLS13, &all13),
        ("nginx-good-tls11-alert.bin", 4432, wire::TLS11, &all12),
        (
            "nginx-good-tls13-serverhello.bin",
            4432,
            wire::TLS13,
            &all13,
        ),
        ("nginx-good-tls12-flight.bin", 4432, wire::TLS12, &all12),
        (
            "s_server-tls12-certreq-flight.bin",
            4434,
            wire::TLS12,
            &all12,
        ),
        ("gnutls-tls10-3des-flight.bin", 4435, wire::TLS10, des3),
        ("s_server-tls13-hrr.bin", 4436, wire::TLS13, &all13),
        ("nginx-http-port-reply.bin", 8081, wire::TLS12, &all12),
    ] {
        put(
            &tls,
            name,
            &exchange(lab_addr(port), &hello(version, suites)),
        );
    }
    for name in ["weak", "good", "ca", "t13"] {
        let out = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(lab_dir.join(format!("{name}.crt")))
            .output()
            .unwrap();
        put(&tls, &format!("cert-{name}.der"), &out.stdout);
    }

    // SMTP: greeting, EHLO and STARTTLS replies of aiosmtpd on one connection.
    {
        let mut s = TcpStream::connect_timeout(&lab_addr(2525), Duration::from_secs(3)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        // One whole reply: until a line `ddd ` ends it (aiosmtpd writes line by line).
        let read = |s: &mut TcpStream| {
            let mut out = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = s.read(&mut chunk).unwrap();
                out.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&out).to_string();
                let last = text
                    .trim_end_matches("\r\n")
                    .rsplit("\r\n")
                    .next()
                    .unwrap_or("");
                if n == 0 || (text.ends_with("\r\n") && last.as_bytes().get(3) == Some(&b' ')) {
                    return out;
                }
            }
        };
        put(&tls, "smtp-aiosmtpd-greeting.txt", &read(&mut s));
        s.write_all(b"EHLO clinicscan.invalid\r\n").unwrap();
        put(&tls, "smtp-aiosmtpd-ehlo.txt", &read(&mut s));
        s.write_all(b"STARTTLS\r\n").unwrap();
        put(&tls, "smtp-aiosmtpd-starttls.txt", &read(&mut s));
    }

    let get = |path: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {LAB_IP}\r\nUser-Agent: clinicscan/0.1.0\r\nConnection: close\r\n\r\n")
            .into_bytes()
    };
    for (name, port, path) in [
        ("nginx-301-to-https.bin", 8080, "/"),
        ("nginx-200-sjis.bin", 8081, "/"),
        ("nginx-401-basic.bin", 8081, "/admin/"),
        ("nginx-404.bin", 8081, "/nothing-here"),
        ("nginx-fortigate-like.bin", 8081, "/remote/login"),
    ] {
        put(&http, name, &exchange(lab_addr(port), &get(path)));
    }
}
