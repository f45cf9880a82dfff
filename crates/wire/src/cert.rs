//! Facts read from one X.509 certificate (DER), via x509-parser.
//!
//! Only facts: nothing here decides whether a certificate is trusted. `self_signed` is
//! issuer == subject *and* the signature verifies with the certificate's own key (a CA-issued
//! certificate whose issuer name happens to equal its subject is not self-signed).

use chrono::{DateTime, Utc};
use clinicscan_model::{CertificateFacts, KeyType};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::Error;

/// Signature algorithm OIDs that use SHA-1 or MD5 (or worse).
const WEAK_SIGNATURES: &[&str] = &[
    "1.2.840.113549.1.1.2", // md2WithRSAEncryption
    "1.2.840.113549.1.1.3", // md4WithRSAEncryption
    "1.2.840.113549.1.1.4", // md5WithRSAEncryption
    "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
    "1.3.14.3.2.29",        // sha1WithRSAEncryption (OIW)
    "1.2.840.10040.4.3",    // dsa-with-sha1
    "1.2.840.10045.4.1",    // ecdsa-with-SHA1
];

/// Names for signature algorithms the OID registry may not know.
fn signature_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.10040.4.3" => "dsa-with-sha1",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-sha256",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "ed25519",
        "1.3.101.113" => "ed448",
        _ => return None,
    })
}

fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "2.5.4.5" => "serialNumber",
        _ => return None,
    })
}

/// Escapes an attribute value as RFC 4514 §2.4 requires.
fn escape_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
            out.push(c);
        } else if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

/// A distinguished name as an RFC 4514 string: the last RDN first, `,` between RDNs, `+`
/// within one; unknown attribute types as dotted OIDs; non-string values as `#` + hex DER.
pub fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let ty = attribute_name(&oid).map_or(oid.clone(), str::to_string);
                    let value = match atv.as_str() {
                        Ok(v) => escape_value(v),
                        Err(_) => format!("#{}", hex(atv.attr_value().data)),
                    };
                    format!("{ty}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Bits of a big-endian unsigned integer, ignoring leading zero bytes.
fn integer_bits(bytes: &[u8]) -> u32 {
    let trimmed: &[u8] = match bytes.iter().position(|b| *b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    let len = u32::try_from(trimmed.len()).unwrap_or(u32::MAX / 8);
    len.saturating_mul(8) - trimmed[0].leading_zeros()
}

/// Bits of the first DER INTEGER in `content` (the body of a SEQUENCE).
fn first_der_integer_bits(content: &[u8]) -> u32 {
    let [0x02, len0, rest @ ..] = content else {
        return 0;
    };
    let (len, rest) = if *len0 < 0x80 {
        (usize::from(*len0), rest)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 2 || rest.len() < n {
            return 0;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| a << 8 | usize::from(*b));
        (len, &rest[n..])
    };
    rest.get(..len).map_or(0, integer_bits)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn rfc3339(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> (KeyType, u32) {
    let alg = spki.algorithm.algorithm.to_id_string();
    match alg.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => (KeyType::Rsa, integer_bits(rsa.modulus)),
            _ => (KeyType::Rsa, 0),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string());
            let bits = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => 256,
                Some("1.3.132.0.34") => 384,
                Some("1.3.132.0.35") => 521,
                Some("1.3.132.0.10") => 256, // secp256k1
                Some("1.3.36.3.3.2.8.1.1.7") => 256,
                Some("1.3.36.3.3.2.8.1.1.11") => 384,
                Some("1.3.36.3.3.2.8.1.1.13") => 512,
                _ => match spki.parsed() {
                    Ok(k) => u32::try_from(k.key_size()).unwrap_or(0),
                    Err(_) => 0,
                },
            };
            (KeyType::Ec, bits)
        }
        "1.3.101.112" => (KeyType::Ed25519, 256),
        "1.3.101.113" => (KeyType::Ed448, 456),
        "1.2.840.10040.4.1" => {
            // DSA: the size is that of the prime p in the parameters.
            let bits = spki
                .algorithm
                .parameters
                .as_ref()
                .map(|p| first_der_integer_bits(p.data))
                .unwrap_or(0);
            (KeyType::Dsa, bits)
        }
        _ => (KeyType::Other, 0),
    }
}

/// Reads the facts of one DER certificate at scan time `now`.
pub fn certificate_facts(der: &[u8], now: DateTime<Utc>) -> Result<CertificateFacts, Error> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| Error::invalid(format_args!("certificate: {e}")))?;
    let subject = rfc4514(cert.subject());
    let issuer = rfc4514(cert.issuer());

    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(n) => sans.push((*n).to_string()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => sans.push(std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3]).to_string()),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        sans.push(std::net::Ipv6Addr::from(b).to_string());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let now_ts = now.timestamp();
    let days_left = not_after.saturating_sub(now_ts).div_euclid(86_400);

    let sig_oid = cert.signature_algorithm.algorithm.to_id_string();
    let signature_algorithm = signature_name(&sig_oid)
        .map(str::to_string)
        .or_else(|| {
            x509_parser::objects::oid2sn(&cert.signature_algorithm.algorithm, oid_registry())
                .ok()
                .map(str::to_string)
        })
        .unwrap_or(sig_oid.clone());
    let weak_signature = WEAK_SIGNATURES.contains(&sig_oid.as_str());

    // Issuer == subject compared on the DER encoding; then the signature must verify with
    // the certificate's own key.
    let same_name = cert.subject().as_raw() == cert.issuer().as_raw();
    let self_signed = same_name && cert.verify_signature(None).is_ok();

    let (key_type, key_bits) = key_facts(cert.public_key());
    let digest = ring::digest::digest(&ring::digest::SHA256, der);

    Ok(CertificateFacts {
        subject,
        issuer,
        sans,
        serial: hex(cert.raw_serial()),
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        days_left,
        expired: now_ts > not_after,
        not_yet_valid: now_ts < not_before,
        self_signed,
        key_type,
        key_bits,
        signature_algorithm,
        weak_signature,
        sha256: hex(digest.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/tls/",
                $name
            ))
        };
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn expired_self_signed_sha1_certificate() {
        let c = certificate_facts(fixture!("cert-weak.der"), at("2026-11-25T00:00:00Z")).unwrap();
        assert_eq!(c.subject, "C=JP,O=Old Clinic,CN=emr.clinic.invalid");
        assert_eq!(c.issuer, c.subject);
        assert_eq!(c.serial, "1000");
        assert_eq!(c.not_before, "2020-04-01T00:00:00Z");
        assert_eq!(c.not_after, "2023-03-31T23:59:59Z");
        assert_eq!(c.days_left, -1335);
        assert!(c.expired && !c.not_yet_valid && c.self_signed && c.weak_signature);
        assert_eq!((c.key_type, c.key_bits), (KeyType::Rsa, 2048));
        assert_eq!(c.signature_algorithm, "sha1WithRSAEncryption");
        assert_eq!(c.sans, Vec::<String>::new());
        assert_eq!(
            c.sha256,
            "02b9bad5926899424bab95ae919d396d92e4ed14b3474db0061bce0e08e3303a"
        );
    }

    #[test]
    fn ca_issued_ecdsa_certificate() {
        let c = certificate_facts(fixture!("cert-good.der"), at("2026-11-26T16:13:03Z")).unwrap();
        assert_eq!(c.subject, "CN=good.lab.invalid,O=clinicscan lab,C=JP");
        assert_eq!(c.issuer, "CN=clinicscan lab CA,O=clinicscan lab,C=JP");
        assert_eq!(c.sans, vec!["good.lab.invalid", "10.254.71.2"]);
        assert_eq!(c.serial, "2d75eca96da048258777f52345543a0ef4833765");
        assert_eq!(c.not_after, "2029-02-27T16:13:03Z");
        assert_eq!(c.days_left, 824);
        assert!(!c.expired && !c.self_signed && !c.weak_signature);
        assert_eq!((c.key_type, c.key_bits), (KeyType::Ec, 256));
        assert_eq!(c.signature_algorithm, "sha256WithRSAEncryption");
    }

    #[test]
    fn not_yet_valid_and_last_day() {
        let der = fixture!("cert-t13.der");
        let c = certificate_facts(der, at("2026-11-25T00:00:00Z")).unwrap();
        assert!(c.not_yet_valid && !c.expired);
        assert_eq!((c.key_type, c.key_bits), (KeyType::Rsa, 3072));
        // One hour before the end: 0 whole days left; one hour after: -1, expired.
        let c = certificate_facts(der, at("2029-02-27T15:13:03Z")).unwrap();
        assert_eq!((c.days_left, c.expired), (0, false));
        let c = certificate_facts(der, at("2029-02-27T17:13:03Z")).unwrap();
        assert_eq!((c.days_left, c.expired), (-1, true));
    }

    #[test]
    fn lab_ca_is_self_signed() {
        let c = certificate_facts(fixture!("cert-ca.der"), at("2026-11-26T00:00:00Z")).unwrap();
        assert!(c.self_signed);
    }

    #[test]
    fn same_names_but_a_bad_signature_is_not_self_signed() {
        let mut der = fixture!("cert-weak.der").to_vec();
        let last = der.len() - 1;
        der[last] ^= 0x01;
        let c = certificate_facts(&der, at("2026-11-25T00:00:00Z")).unwrap();
        assert_eq!(c.issuer, c.subject);
        assert!(!c.self_signed);
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert!(certificate_facts(b"not a certificate", Utc::now()).is_err());
        let der = fixture!("cert-good.der");
        for cut in [0, 1, 10, der.len() / 2, der.len() - 1] {
            assert!(
                certificate_facts(&der[..cut], Utc::now()).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn rfc4514_escapes() {
        assert_eq!(escape_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_value(" #x "), "\\ #x\\ ");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = certificate_facts(&bytes, Utc::now());
        }

        #[test]
        fn never_panics_on_mutated_certificates(i in 0usize..687, b in proptest::num::u8::ANY) {
            let mut der = fixture!("cert-good.der").to_vec();
            der[i] = b;
            let _ = certificate_facts(&der, Utc::now());
        }
    }
}
