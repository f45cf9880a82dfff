//! Every shipped rule fires on one fixture and stays quiet on another.
//! Organised by guideline section; each test is named after the control it evidences.

mod common;

use std::collections::BTreeSet;
use std::sync::Mutex;

use common::fires_and_quiet;

/// Rules exercised by the tests below (checked for completeness at the end).
static COVERED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// (rule, fixture where it fires, finding key, fixture where it stays quiet)
type Case = (&'static str, &'static str, &'static str, &'static str);

fn check(cases: &[Case]) {
    for (rule, fire, key, quiet) in cases {
        fires_and_quiet(rule, fire, key, quiet);
        COVERED.lock().expect("lock").push(rule);
    }
}

// ---- GL6 システム運用編 §8: services, patches, passwords ----------------------------

const GL6_SO_8_1: &[Case] = &[
    (
        "telnet-service",
        "bad.json",
        "telnet-service|10.77.10.22|tcp/23",
        "good.json",
    ),
    (
        "telnet-port-open",
        "bad.json",
        "telnet-port-open|10.77.10.30|tcp/23",
        "good.json",
    ),
    (
        "ftp-plaintext",
        "bad.json",
        "ftp-plaintext|10.77.10.23|tcp/21",
        "good.json",
    ),
    (
        "smb-signing-not-required",
        "bad.json",
        "smb-signing-not-required|10.77.10.21|tcp/445",
        "good.json",
    ),
    (
        "snmp-community-accepted",
        "bad.json",
        "snmp-community-accepted|10.77.10.23|udp/161",
        "good.json",
    ),
    (
        "dicom-accepts-unknown-ae",
        "bad.json",
        "dicom-accepts-unknown-ae|10.77.40.5|tcp/104",
        "good.json",
    ),
    (
        "database-reachable-from-general",
        "bad.json",
        "database-reachable-from-general|10.77.20.5|tcp/1433",
        "good.json",
    ),
    (
        "database-port-reachable-from-general",
        "bad.json",
        "database-port-reachable-from-general|10.77.20.6|tcp/3306",
        "good.json",
    ),
    (
        "printer-raw-port-open",
        "bad.json",
        "printer-raw-port-open|10.77.10.23|tcp/9100",
        "good.json",
    ),
    (
        "printer-raw-port-open-guess",
        "bad.json",
        "printer-raw-port-open-guess|10.77.10.30|tcp/9100",
        "good.json",
    ),
];

#[test]
fn gl6_so_8_1_unused_services_and_ports() {
    check(GL6_SO_8_1);
}

const GL6_SO_8_3: &[Case] = &[
    (
        "smb1-enabled",
        "bad.json",
        "smb1-enabled|10.77.10.21|tcp/445",
        "good.json",
    ),
    (
        "eol-windows",
        "bad.json",
        "eol-windows|10.77.10.21|tcp/445",
        "good.json",
    ),
    (
        "vpn-known-exploited-version",
        "bad.json",
        "vpn-known-exploited-version|10.77.60.5|tcp/443",
        "good.json",
    ),
    (
        "ssl-vpn-version-unknown",
        "bad.json",
        "ssl-vpn-version-unknown|10.77.60.6|tcp/10443",
        "good.json",
    ),
    (
        "ssh-weak-algorithms",
        "bad.json",
        "ssh-weak-algorithms|10.77.10.28|tcp/22",
        "good.json",
    ),
    (
        "ssh-protocol-1",
        "bad.json",
        "ssh-protocol-1|10.77.10.28|tcp/22",
        "good.json",
    ),
];

#[test]
fn gl6_so_8_3_security_patches() {
    check(GL6_SO_8_3);
}

/// Samba announces NTLM version 6.1 build 0; no Windows has build 0. Found in the clinic
/// lab, where every Samba host was reported as an end-of-life Windows.
#[test]
fn eol_windows_is_quiet_on_samba_ntlm_build_0() {
    let mut obs = common::observation("bad.json");
    for host in &mut obs.hosts {
        for svc in &mut host.services {
            if let Some(ntlm) = svc.facts.smb.as_mut().and_then(|s| s.ntlm.as_mut()) {
                ntlm.os_version = Some("6.1.0".into());
            }
            if let Some(smb) = svc.facts.smb.as_mut() {
                smb.native_os = Some("Windows 6.1".into());
            }
        }
    }
    let a = clinicscan_policy::assess_with(
        &[obs],
        Some(&common::site_for("bad.json")),
        common::rules(),
        &common::opts(),
    );
    let eol: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.rule_id == "eol-windows" && f.port == Some(445))
        .map(|f| f.key.clone())
        .collect();
    assert!(
        eol.is_empty(),
        "eol-windows fired on Samba's NTLM 6.1.0: {eol:?}"
    );
}

const GL6_SO_8_5: &[Case] = &[
    (
        "vnc-no-auth",
        "bad.json",
        "vnc-no-auth|10.77.10.22|tcp/5900",
        "good.json",
    ),
    (
        "ftp-anonymous",
        "bad.json",
        "ftp-anonymous|10.77.10.23|tcp/21",
        "good.json",
    ),
    (
        "snmp-public-community",
        "bad.json",
        "snmp-public-community|10.77.10.23|udp/161",
        "good.json",
    ),
    (
        "cert-shared-across-hosts",
        "bad.json",
        "cert-shared-across-hosts|10.77.10.26|tcp/443",
        "good.json",
    ),
    (
        "postgres-login-without-password",
        "bad.json",
        "postgres-login-without-password|10.77.20.5|tcp/5432",
        "good.json",
    ),
    (
        "ssh-password-auth",
        "bad.json",
        "ssh-password-auth|10.77.10.28|tcp/22",
        "good.json",
    ),
];

#[test]
fn gl6_so_8_5_equipment_passwords() {
    check(GL6_SO_8_5);
}

// ---- GL6 システム運用編 §7.2 / §10.1: remote access and maintenance -------------------

const GL6_SO_10_1: &[Case] = &[
    (
        "rdp-nla-not-required",
        "bad.json",
        "rdp-nla-not-required|10.77.10.21|tcp/3389",
        "good.json",
    ),
    (
        "rdp-standard-security",
        "bad.json",
        "rdp-standard-security|10.77.10.21|tcp/3389",
        "good.json",
    ),
    (
        "remote-access-service",
        "bad.json",
        "remote-access-service|10.77.10.21|tcp/3389",
        "lab-guest.json",
    ),
    (
        "remote-support-tool",
        "bad.json",
        "remote-support-tool|10.77.10.29|tcp/7070",
        "good.json",
    ),
    (
        "pptp-vpn",
        "bad.json",
        "pptp-vpn|10.77.60.8|tcp/1723",
        "good.json",
    ),
];

#[test]
fn gl6_so_10_1_remote_maintenance() {
    check(GL6_SO_10_1);
}

const GL6_SO_7_2: &[Case] = &[
    (
        "ssl-vpn-portal",
        "bad.json",
        "ssl-vpn-portal|10.77.60.5|tcp/443",
        "lab-general.json",
    ),
    (
        "ike-responder",
        "bad.json",
        "ike-responder|10.77.60.7|udp/500",
        "lab-general.json",
    ),
    (
        "openvpn-responder",
        "bad.json",
        "openvpn-responder|10.77.60.8|udp/1194",
        "good.json",
    ),
];

#[test]
fn gl6_so_7_2_access_from_outside() {
    check(GL6_SO_7_2);
}

// ---- GL6 システム運用編 §13: networks --------------------------------------------------

const GL6_SO_13_TLS: &[Case] = &[
    (
        "tls-ssl2-ssl3",
        "bad.json",
        "tls-ssl2-ssl3|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-legacy-versions",
        "bad.json",
        "tls-legacy-versions|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-null-anon-export",
        "bad.json",
        "tls-null-anon-export|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-rc4",
        "bad.json",
        "tls-rc4|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-single-des",
        "bad.json",
        "tls-single-des|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-3des",
        "bad.json",
        "tls-3des|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-cbc-sha1",
        "bad.json",
        "tls-cbc-sha1|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-no-forward-secrecy",
        "bad.json",
        "tls-no-forward-secrecy|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "tls-md5-mac",
        "bad.json",
        "tls-md5-mac|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "cert-expired",
        "bad.json",
        "cert-expired|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "cert-expiring-soon",
        "bad.json",
        "cert-expiring-soon|10.77.10.25|tcp/8443",
        "good.json",
    ),
    (
        "cert-self-signed",
        "bad.json",
        "cert-self-signed|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "cert-weak-rsa-key",
        "bad.json",
        "cert-weak-rsa-key|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "cert-weak-ec-key",
        "bad.json",
        "cert-weak-ec-key|10.77.10.25|tcp/8443",
        "good.json",
    ),
    (
        "cert-weak-signature",
        "bad.json",
        "cert-weak-signature|10.77.10.24|tcp/443",
        "good.json",
    ),
    (
        "http-login-plaintext",
        "bad.json",
        "http-login-plaintext|10.77.10.27|tcp/80",
        "good.json",
    ),
    (
        "mssql-encryption-not-forced",
        "bad.json",
        "mssql-encryption-not-forced|10.77.20.5|tcp/1433",
        "good.json",
    ),
    (
        "tls13-not-offered",
        "bad.json",
        "tls13-not-offered|10.77.10.25|tcp/8443",
        "good.json",
    ),
    (
        "http-hsts-missing",
        "bad.json",
        "http-hsts-missing|10.77.60.6|tcp/10443",
        "good.json",
    ),
    (
        "postgres-cleartext-password",
        "bad.json",
        "postgres-cleartext-password|10.77.20.6|tcp/5432",
        "good.json",
    ),
];

#[test]
fn gl6_so_13_tls_clause() {
    check(GL6_SO_13_TLS);
}

const GL6_SO_13_4_AND_12: &[Case] = &[
    (
        "ike-aggressive-mode-psk",
        "bad.json",
        "ike-aggressive-mode-psk|10.77.60.7|udp/500",
        "good.json",
    ),
    (
        "ike-weak-parameters",
        "bad.json",
        "ike-weak-parameters|10.77.60.7|udp/500",
        "good.json",
    ),
    (
        "remote-portal-no-client-cert",
        "bad.json",
        "remote-portal-no-client-cert|10.77.60.5|tcp/443",
        "good.json",
    ),
];

#[test]
fn gl6_so_13_4_and_13_12_communication_and_mutual_authentication() {
    check(GL6_SO_13_4_AND_12);
}

const GL6_SO_13_SEGMENTATION: &[Case] = &[
    (
        "remote-access-cross-zone",
        "lab-general.json",
        "remote-access-cross-zone|10.77.20.10|tcp/22|from:general",
        "lab-general-isolated.json",
    ),
    (
        "segmentation-flow-not-allowed",
        "lab-general.json",
        "segmentation-flow-not-allowed|10.77.20.10|tcp/8080|from:general",
        "lab-general-isolated.json",
    ),
    (
        "guest-reaches-internal",
        "lab-guest.json",
        "guest-reaches-internal|10.77.20.10|tcp/443|from:guest",
        "lab-guest-isolated.json",
    ),
    (
        "admin-ui-reachable",
        "bad.json",
        "admin-ui-reachable|10.77.10.27|tcp/80",
        "good.json",
    ),
];

#[test]
fn gl6_so_13_11_and_13_13_cl_r7_2_13_source_restriction() {
    check(GL6_SO_13_SEGMENTATION);
}

// ---- GL6 §18 / CL-R7-3-2: backups ------------------------------------------------------

const GL6_SO_18_1: &[Case] = &[(
    "file-share-reachable-across-zones",
    "bad.json",
    "file-share-reachable-across-zones|10.77.20.5|tcp/445",
    "good.json",
)];

#[test]
fn gl6_so_18_1_isolated_backups() {
    check(GL6_SO_18_1);
}

// ---- CL-R7-2-1 / GL6-PM-9: asset register -----------------------------------------------

const CL_R7_2_1: &[Case] = &[
    (
        "host-inventory",
        "bad.json",
        "host-inventory|10.77.10.21",
        "empty.json",
    ),
    (
        "unknown-device",
        "bad.json",
        "unknown-device|10.77.10.99",
        "good.json",
    ),
    (
        "scanner-refused",
        "bad.json",
        "scanner-refused|10.77.10.22|tcp/5901",
        "good.json",
    ),
];

#[test]
fn cl_r7_2_1_asset_register() {
    check(CL_R7_2_1);
    // Only the unlisted host is unknown.
    let a = common::assessed("bad.json");
    let unknown: Vec<&str> = a
        .findings
        .iter()
        .filter(|f| f.rule_id == "unknown-device")
        .map(|f| f.key.as_str())
        .collect();
    assert_eq!(unknown, vec!["unknown-device|10.77.10.99"]);
}

// ---- オン資 (ONS) ---------------------------------------------------------------------

const ONS: &[Case] = &[
    (
        "oqv-remote-access-reachable",
        "lab-general.json",
        "oqv-remote-access-reachable|10.77.30.10|tcp/3389|from:general",
        "lab-general-isolated.json",
    ),
    (
        "oqv-inbound-not-allowed",
        "lab-general.json",
        "oqv-inbound-not-allowed|10.77.30.10|tcp/8081|from:general",
        "lab-general-isolated.json",
    ),
    (
        "oqv-outbound-internal",
        "lab-oqv.json",
        "oqv-outbound-internal|10.77.20.10|tcp/443|from:oqv",
        "lab-oqv-closed.json",
    ),
    (
        "oqv-internet-egress",
        "lab-oqv.json",
        "oqv-internet-egress|198.51.100.10|tcp/443|from:oqv",
        "lab-oqv-closed.json",
    ),
];

#[test]
fn ons_1_to_3_online_eligibility_terminal() {
    check(ONS);
}

/// Every shipped rule appears in some table above.
#[test]
fn every_shipped_rule_has_a_fire_and_a_quiet_case() {
    let tables: &[&[Case]] = &[
        GL6_SO_8_1,
        GL6_SO_8_3,
        GL6_SO_8_5,
        GL6_SO_10_1,
        GL6_SO_7_2,
        GL6_SO_13_TLS,
        GL6_SO_13_4_AND_12,
        GL6_SO_13_SEGMENTATION,
        GL6_SO_18_1,
        CL_R7_2_1,
        ONS,
    ];
    let tested: BTreeSet<&str> = tables.iter().flat_map(|t| t.iter().map(|c| c.0)).collect();
    let shipped: BTreeSet<&str> = common::rules()
        .rules()
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let missing: Vec<_> = shipped.difference(&tested).collect();
    let unknown: Vec<_> = tested.difference(&shipped).collect();
    assert!(
        missing.is_empty(),
        "rules without fixture tests: {missing:?}"
    );
    assert!(unknown.is_empty(), "tests name unknown rules: {unknown:?}");
}
