//! The shipped known-exploited version table, on versions at the edges of its ranges.

mod common;

fn cves(vendor: &str, product: &str, version: &str) -> Vec<String> {
    let mut v: Vec<String> = common::rules()
        .kev()
        .lookup(Some(vendor), product, version)
        .into_iter()
        .map(|m| m.cve)
        .collect();
    v.sort();
    v
}

#[test]
fn fortios_branches() {
    assert_eq!(
        cves("Fortinet", "FortiGate SSL-VPN", "6.0.4"),
        vec![
            "CVE-2018-13379",
            "CVE-2022-42475",
            "CVE-2023-27997",
            "CVE-2024-21762"
        ]
    );
    assert_eq!(
        cves("Fortinet", "FortiGate SSL-VPN", "6.0.5"),
        vec!["CVE-2022-42475", "CVE-2023-27997", "CVE-2024-21762"]
    );
    assert_eq!(
        cves("Fortinet", "FortiGate", "v7.2.6,build1575"),
        vec!["CVE-2024-21762"]
    );
    assert!(cves("Fortinet", "FortiGate", "7.2.7").is_empty());
    assert!(cves("Fortinet", "FortiGate", "7.4.3").is_empty());
    assert_eq!(
        cves("Fortinet", "FortiOS", "5.6.7"),
        vec!["CVE-2018-13379", "CVE-2022-42475"]
    );
    assert_eq!(cves("Fortinet", "FortiOS", "5.6.8"), vec!["CVE-2022-42475"]);
}

#[test]
fn ivanti_pulse_fixed_builds() {
    assert_eq!(
        cves("Ivanti", "Ivanti Connect Secure", "22.4R2.1"),
        vec!["CVE-2023-46805", "CVE-2024-21887"]
    );
    assert!(cves("Ivanti", "Ivanti Connect Secure", "22.4R2.2").is_empty());
    assert!(cves("Ivanti", "Ivanti Connect Secure", "9.1R18.3").is_empty());
    assert_eq!(cves("Ivanti", "Connect Secure", "9.1R16").len(), 2);
    // Pulse Secure branding of the same product, and the 2019 flaw.
    assert_eq!(
        cves("Pulse Secure", "Pulse Connect Secure", "9.0R3.3"),
        vec!["CVE-2019-11510", "CVE-2023-46805", "CVE-2024-21887"]
    );
    assert_eq!(
        cves("Ivanti", "Pulse Connect Secure", "9.0R3.4"),
        vec!["CVE-2023-46805", "CVE-2024-21887"]
    );
}

#[test]
fn citrix_palo_alto_sonicwall_cisco() {
    assert_eq!(
        cves("Citrix", "NetScaler Gateway", "13.1-49.13"),
        vec!["CVE-2023-4966"]
    );
    assert!(cves("Citrix", "NetScaler Gateway", "13.1-49.15").is_empty());
    assert_eq!(
        cves("NetScaler", "NetScaler ADC", "13.0-47.22"),
        vec!["CVE-2019-19781", "CVE-2023-4966"]
    );
    assert_eq!(
        cves("Palo Alto Networks", "PAN-OS", "10.2.9"),
        vec!["CVE-2024-3400"]
    );
    assert!(cves("Palo Alto Networks", "PAN-OS", "10.2.9-h1").is_empty());
    assert!(cves("Palo Alto Networks", "PAN-OS", "11.2.0").is_empty());
    assert_eq!(
        cves("SonicWall", "SonicOS SSLVPN", "7.0.1-5035"),
        vec!["CVE-2024-40766"]
    );
    assert!(cves("SonicWall", "SonicOS SSLVPN", "7.0.1-5050").is_empty());
    assert_eq!(
        cves("SonicWall", "SonicOS", "6.5.4.14-109n"),
        vec!["CVE-2024-40766"]
    );
    assert!(cves("SonicWall", "SonicOS", "6.5.4.15-116n").is_empty());
    assert_eq!(cves("Cisco", "ASA", "9.8(4)15"), vec!["CVE-2020-3452"]);
    assert!(cves("Cisco", "ASA", "9.8(4)20").is_empty());
}

#[test]
fn every_entry_is_sourced_and_tagged() {
    for e in common::rules().kev().entries() {
        assert!(e.cve.starts_with("CVE-"), "{}", e.cve);
        assert!(!e.sources.is_empty(), "{}", e.cve);
        assert!(e.kev, "{}: only known-exploited flaws belong here", e.cve);
        assert!(e.kev_added.is_some(), "{}", e.cve);
    }
    assert_eq!(common::rules().kev().entries().len(), 12);
}
