//! nmap XML import on recorded runs (fixtures/nmap), and on malformed input. The imported
//! Observations are also assessed: a mapping is only right if the shipped rules fire on it.

use std::sync::OnceLock;

use clinicscan_import::{ImportError, import_nmap_xml};
use clinicscan_model::{
    Assessment, HostReason, HostState, KeyType, NameSource, Observation, PortReason, PortState,
    ScanKind, TlsVersion, Transport,
};
use clinicscan_policy::{AssessOptions, RuleSet, assess_with};
use serde_json::Value;

fn nmap_fixture(name: &str) -> String {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/nmap")
        .join(name);
    std::fs::read_to_string(p).expect("fixture")
}

/// The shipped rules, without a site, at a fixed time (certificate expiry is relative).
fn assessed(o: Observation) -> Assessment {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    let rules = RULES.get_or_init(|| RuleSet::shipped().unwrap_or_else(|e| panic!("{e}")));
    let opts = AssessOptions {
        editions: None,
        tool_version: "test".into(),
        now: "2026-11-20T02:00:00Z".parse().expect("time"),
    };
    assess_with(&[o], None, rules, &opts)
}

#[test]
fn recorded_tcp_run_maps_ports_and_scripts() {
    let o = import_nmap_xml(&nmap_fixture("csp-lab-tcp.xml")).expect("imports");
    assert_eq!(o.scan.tool.name, "nmap");
    assert_eq!(o.scan.tool.version, "7.93");
    assert_eq!(o.scan.options.scan_kind, ScanKind::Imported);
    assert!(!o.scan.options.discovery); // -Pn
    assert!(o.scan.options.service_probes);
    assert_eq!(o.scan.started.to_rfc3339(), "2026-11-25T16:13:32+00:00");
    assert_eq!(o.hosts.len(), 1);
    let h = &o.hosts[0];
    assert_eq!(h.address.to_string(), "127.0.0.1");
    assert_eq!(h.status.state, HostState::Up);
    assert_eq!(h.status.reason, HostReason::Imported);
    let ports: Vec<u16> = h.services.iter().map(|s| s.port).collect();
    assert_eq!(ports, vec![21, 139, 443, 445, 3389, 5900]);
    assert!(
        h.services
            .iter()
            .all(|s| s.state == PortState::Open && s.reason == PortReason::Imported)
    );
    assert_eq!(h.port_summary.open, 6);
    assert!(
        h.names
            .iter()
            .any(|n| n.name == "CSPSAMBA" && n.source == NameSource::Netbios)
    );

    let by = |p: u16| h.services.iter().find(|s| s.port == p).expect("port");
    // FTP
    let ftp = by(21);
    assert_eq!(ftp.protocol.as_deref(), Some("ftp"));
    assert_eq!(ftp.facts.ftp.as_ref().and_then(|f| f.anonymous), Some(true));
    let sw = ftp.software.as_ref().expect("software");
    assert_eq!(
        (sw.product.as_str(), sw.version.as_deref()),
        ("vsftpd", Some("3.0.3"))
    );
    // TLS
    let tls = by(443).facts.tls.as_ref().expect("tls");
    assert_eq!(by(443).protocol.as_deref(), Some("https"));
    assert_eq!(
        tls.accepted_versions,
        vec![TlsVersion::Tls10, TlsVersion::Tls11, TlsVersion::Tls12]
    );
    let v13 = tls
        .versions
        .iter()
        .find(|v| v.version == TlsVersion::Tls13)
        .expect("tried");
    assert_eq!(v13.accepted, Some(false));
    assert_eq!(
        tls.versions
            .iter()
            .find(|v| v.version == TlsVersion::Tls12)
            .map(|v| v.suites.len()),
        Some(13)
    );
    assert!(
        tls.weak_suites
            .contains(&"TLS_RSA_WITH_AES_128_CBC_SHA".to_string())
    );
    let c = tls.certificate.as_ref().expect("cert");
    assert_eq!(c.subject, "CN=csp-tls10.test");
    assert!(c.self_signed);
    assert_eq!((c.key_type, c.key_bits), (KeyType::Rsa, 1024));
    assert!(c.weak_signature);
    assert_eq!(c.days_left, 19);
    assert!(!c.expired);
    // SMB (host scripts land on 445)
    let smb = by(445).facts.smb.as_ref().expect("smb");
    assert_eq!(smb.smb1, Some(true));
    assert_eq!(smb.dialects, vec!["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]);
    assert_eq!(
        (smb.signing_enabled, smb.signing_required),
        (Some(true), Some(false))
    );
    assert_eq!(smb.native_os.as_deref(), Some("Windows 6.1"));
    assert!(by(139).facts.smb.is_none());
    // RDP: nmap's CredSSP/SSL "SUCCESS" is not trusted (see fixtures/nmap/README.md).
    let rdp = by(3389).facts.rdp.as_ref().expect("rdp");
    assert_eq!(
        (rdp.standard_rdp, rdp.nla_required, rdp.credssp, rdp.tls),
        (Some(true), Some(false), None, None)
    );
    // VNC
    let vnc = by(5900).facts.vnc.as_ref().expect("vnc");
    assert_eq!(vnc.no_auth, Some(true));
    assert_eq!(vnc.protocol_version, "3.8");
    assert_eq!(vnc.security_types.len(), 1);
    // The Observation round-trips through JSON (it is a valid contract document).
    let json = serde_json::to_string(&o).expect("serialises");
    let back: clinicscan_model::Observation = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, o);
}

#[test]
fn recorded_tcp_run_assessed() {
    let o = import_nmap_xml(&nmap_fixture("csp-lab-tcp.xml")).expect("imports");
    let a = assessed(o);
    assert!(a.rule_errors.is_empty(), "{:?}", a.rule_errors);
    let mut fired: Vec<String> = a
        .findings
        .iter()
        .filter(|f| f.severity > clinicscan_model::Severity::Info)
        .map(|f| format!("{} {}", f.rule_id, f.port.unwrap_or(0)))
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        vec![
            "cert-expiring-soon 443",
            "cert-self-signed 443",
            "cert-weak-rsa-key 443",
            "cert-weak-signature 443",
            // No ftp-plaintext: nmap's scripts do not say whether AUTH TLS is offered, and
            // an unknown never makes a rule fire.
            "ftp-anonymous 21",
            "rdp-nla-not-required 3389",
            "rdp-standard-security 3389",
            "smb-signing-not-required 445",
            "smb1-enabled 445",
            "tls-cbc-sha1 443",
            "tls-legacy-versions 443",
            "tls-no-forward-secrecy 443",
            // nmap 7.93's ssl-enum-ciphers enumerates TLS 1.3; the recorded weak server
            // offers TLS 1.0-1.2 only.
            "tls13-not-offered 443",
            "vnc-no-auth 5900",
        ]
    );
}

#[test]
fn recorded_hardened_run_stays_quiet() {
    let o = import_nmap_xml(&nmap_fixture("csp-lab-hardened-tcp.xml")).expect("imports");
    let h = &o.hosts[0];
    let by = |p: u16| h.services.iter().find(|s| s.port == p).expect("port");
    let tls = by(443).facts.tls.as_ref().expect("tls");
    assert_eq!(
        tls.accepted_versions,
        vec![TlsVersion::Tls12, TlsVersion::Tls13]
    );
    assert!(tls.weak_suites.is_empty(), "{:?}", tls.weak_suites);
    let c = tls.certificate.as_ref().expect("cert");
    assert_eq!(
        (c.key_bits, c.weak_signature, c.expired),
        (2048, false, false)
    );
    assert_eq!(c.sans, vec!["csp-hardened.test", "127.0.0.1"]);
    let smb = by(445).facts.smb.as_ref().expect("smb");
    assert_eq!(smb.smb1, Some(false));
    assert_eq!(
        (smb.signing_enabled, smb.signing_required),
        (Some(true), Some(true))
    );
    assert_eq!(
        by(5900).facts.vnc.as_ref().and_then(|v| v.no_auth),
        Some(false)
    );
    // The failed rdp-enum-encryption run establishes nothing.
    assert!(by(3389).facts.rdp.is_none());
    let a = assessed(o);
    let fired: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.severity > clinicscan_model::Severity::Info)
        .map(|f| f.rule_id.as_str())
        .collect();
    // Only the self-signed certificate remains.
    assert_eq!(fired, vec!["cert-self-signed"]);
}

#[test]
fn recorded_snmp_run() {
    let o = import_nmap_xml(&nmap_fixture("csp-lab-snmp-udp.xml")).expect("imports");
    let s = &o.hosts[0].services[0];
    assert_eq!(
        (s.port, s.transport, s.state),
        (161, Transport::Udp, PortState::Open)
    );
    let snmp = s.facts.snmp.as_ref().expect("snmp");
    assert_eq!(snmp.communities_accepted, vec!["public"]);
    assert_eq!(snmp.versions, vec!["v1", "v3"]);
    assert_eq!(
        snmp.sys_descr.as_deref(),
        Some("Linux vm 6.18.44-fc-v595 #1 SMP PREEMPT_DYNAMIC @0 x86_64")
    );
    let e = snmp.engine.as_ref().expect("engine");
    assert_eq!(
        (e.engine_id.as_str(), e.boots, e.time),
        ("a02be4352209076b00000000", Some(1), Some(31))
    );
    let a = assessed(o);
    assert!(
        a.findings
            .iter()
            .any(|f| f.rule_id == "snmp-public-community")
    );
}

#[test]
fn synthetic_ike_run_with_down_host_and_mac() {
    let o = import_nmap_xml(&nmap_fixture("ike-version-synthetic.xml")).expect("imports");
    assert_eq!(o.hosts.len(), 2);
    let up = &o.hosts[0];
    assert_eq!(up.mac.as_deref(), Some("52:54:00:12:34:56"));
    assert_eq!(up.vendor.as_deref(), Some("QEMU virtual NIC"));
    assert_eq!(up.names[0].source, NameSource::Ptr);
    assert_eq!(up.rtt_ms, Some(1.2));
    assert_eq!(
        (
            up.port_summary.scanned,
            up.port_summary.closed,
            up.port_summary.open,
            up.port_summary.filtered
        ),
        (5, 3, 1, 1)
    );
    let ike = up.services[0].facts.ike.as_ref().expect("ike");
    assert_eq!(ike.v1, Some(true));
    let names: Vec<&str> = ike
        .vendor_ids
        .iter()
        .filter_map(|v| v.name.as_deref())
        .collect();
    assert_eq!(
        names,
        vec!["strongSwan", "XAUTH", "Dead Peer Detection v1.0"]
    );
    assert_eq!(up.services[1].state, PortState::OpenFiltered);
    assert_eq!(o.hosts[1].status.state, HostState::Down);
    assert_eq!(o.scan.stats.hosts_up, 1);
}

#[test]
fn malformed_and_foreign_input_are_errors() {
    assert!(matches!(
        import_nmap_xml("<nmaprun"),
        Err(ImportError::Xml(_))
    ));
    assert!(matches!(import_nmap_xml(""), Err(ImportError::Xml(_))));
    assert_eq!(
        import_nmap_xml("<html/>").expect_err("foreign").to_string(),
        "not an nmap XML run: root element is <html>, not <nmaprun>"
    );
    assert_eq!(
        import_nmap_xml("<nmaprun><host><address addr='x' addrtype='ipv4'/></host></nmaprun>")
            .expect_err("bad address")
            .to_string(),
        "bad nmap element <host>: bad address \"x\""
    );
    assert_eq!(
        import_nmap_xml("<nmaprun><host><address addr='10.0.0.1' addrtype='ipv4'/><ports><port protocol='tcp' portid='70000'/></ports></host></nmaprun>")
            .expect_err("bad port")
            .to_string(),
        "bad nmap element <port>: bad portid Some(\"70000\")"
    );
    // Truncated recordings never panic.
    let full = nmap_fixture("csp-lab-tcp.xml");
    for cut in (0..full.len()).step_by(997) {
        let _ = import_nmap_xml(full.get(..cut).unwrap_or(""));
    }
    // A minimal run without start time or hosts still imports.
    let o = import_nmap_xml("<nmaprun version='7.93'/>").expect("imports");
    assert!(o.hosts.is_empty());
}

/// The Observation schema is the public contract: an import that breaks it is not one.
#[test]
fn imported_nmap_runs_follow_the_observation_schema() {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../crates/model/schemas/observation.v1.json");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(p).expect("schema")).expect("json");
    let v = jsonschema::validator_for(&schema).expect("valid schema");
    for f in [
        "csp-lab-tcp.xml",
        "csp-lab-hardened-tcp.xml",
        "csp-lab-snmp-udp.xml",
        "ike-version-synthetic.xml",
    ] {
        let o = import_nmap_xml(&nmap_fixture(f)).expect("imports");
        let doc = serde_json::to_value(&o).expect("json");
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{f}: {errors:?}");
    }
}

mod properties {
    use proptest::prelude::*;

    fn recorded() -> String {
        super::nmap_fixture("csp-lab-tcp.xml")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Arbitrary text never panics the importer.
        #[test]
        fn never_panics_on_arbitrary_text(s in ".{0,2000}") {
            let _ = clinicscan_import::import_nmap_xml(&s);
        }

        /// A recorded run with one byte range replaced never panics the importer.
        #[test]
        fn never_panics_on_mutated_recordings(at in 0usize..20_000, len in 0usize..64, junk in "[<>&\"'a-z0-9 =/:.-]{0,16}") {
            let full = recorded();
            let at = at.min(full.len());
            let end = (at + len).min(full.len());
            if full.is_char_boundary(at) && full.is_char_boundary(end) {
                let mutated = format!("{}{}{}", &full[..at], junk, &full[end..]);
                let _ = clinicscan_import::import_nmap_xml(&mutated);
            }
        }
    }
}
