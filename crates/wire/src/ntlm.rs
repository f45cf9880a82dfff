//! NTLMSSP (MS-NLMP) as far as the first, anonymous-free leg goes: the NEGOTIATE message a
//! client sends, and the server's CHALLENGE, whose target information (AV pairs) and version
//! tell the host's NetBIOS/DNS names and OS build — what nmap's smb-os-discovery and
//! rdp-ntlm-info read. No credentials are ever computed or sent.
//!
//! Also the minimal SPNEGO (RFC 4178) wrapping SMB's SESSION_SETUP carries. Hand-written:
//! no maintained crate parses only the CHALLENGE without pulling in a whole auth stack.

use crate::{Error, Reader};

/// NTLMSSP signature.
pub const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// Flags of our NEGOTIATE (MS-NLMP 2.2.2.5), those a Windows client sends for CredSSP and
/// SMB: UNICODE | REQUEST_TARGET | SIGN | SEAL | NTLM | ALWAYS_SIGN | EXTENDED_SESSIONSECURITY |
/// VERSION | 128 | KEY_EXCH | 56. They only shape the CHALLENGE; no session is ever keyed.
pub const NEGOTIATE_FLAGS: u32 = 0x0000_0001
    | 0x0000_0004
    | 0x0000_0010
    | 0x0000_0020
    | 0x0000_0200
    | 0x0000_8000
    | 0x0008_0000
    | 0x0200_0000
    | 0x2000_0000
    | 0x4000_0000
    | 0x8000_0000;

/// NTLMSSP_NEGOTIATE_VERSION.
const FLAG_VERSION: u32 = 0x0200_0000;

/// The NTLM NEGOTIATE message (MS-NLMP 2.2.1.1) clinicscan sends: no domain, no workstation.
pub fn negotiate() -> Vec<u8> {
    let mut m = Vec::with_capacity(40);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&NEGOTIATE_FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 8]); // DomainNameFields
    m.extend_from_slice(&[0; 8]); // WorkstationFields
    // Version: 10.0 build 0, NTLMSSP_REVISION_W2K3 (15); informational only.
    m.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 15]);
    m
}

/// Flags of the anonymous AUTHENTICATE: UNICODE | REQUEST_TARGET | NTLM | ANONYMOUS |
/// ALWAYS_SIGN | EXTENDED_SESSIONSECURITY | 128 | 56. No SIGN, SEAL or KEY_EXCH: an anonymous
/// session has no key to sign or seal with.
pub const ANONYMOUS_FLAGS: u32 = 0x0000_0001
    | 0x0000_0004
    | 0x0000_0200
    | 0x0000_0800
    | 0x0000_8000
    | 0x0008_0000
    | 0x2000_0000
    | 0x8000_0000;

/// The anonymous NTLM AUTHENTICATE message (MS-NLMP 2.2.1.3, 3.1.5.1.2): empty LM and NT
/// responses, empty domain, user and workstation, no session key, the ANONYMOUS flag — what
/// `smbclient -U% -N` sends. Samba and Windows log it as a successful anonymous logon; any
/// user name instead (even "guest") is an account lookup a server logs as a failure.
pub fn anonymous_authenticate() -> Vec<u8> {
    // Header only (64 bytes): every field is empty and points at the end of the header.
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&3u32.to_le_bytes());
    for _ in 0..6 {
        // Lm, Nt, Domain, User, Workstation, EncryptedRandomSessionKey: len 0 at offset 64
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&64u32.to_le_bytes());
    }
    m.extend_from_slice(&ANONYMOUS_FLAGS.to_le_bytes());
    m
}

/// Facts from a CHALLENGE message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    /// TargetName (the domain or server name), when present.
    pub target_name: Option<String>,
    /// MsvAvNbComputerName.
    pub netbios_computer: Option<String>,
    /// MsvAvNbDomainName.
    pub netbios_domain: Option<String>,
    /// MsvAvDnsComputerName.
    pub dns_computer: Option<String>,
    /// MsvAvDnsDomainName.
    pub dns_domain: Option<String>,
    /// MsvAvDnsTreeName (forest).
    pub dns_tree: Option<String>,
    /// Version "major.minor.build", when the NEGOTIATE_VERSION flag is set.
    pub os_version: Option<String>,
}

fn no_signature() -> Error {
    Error::invalid("no NTLMSSP signature")
}

/// Finds an NTLMSSP message inside `bytes` (a raw message, or one wrapped in SPNEGO or a
/// CredSSP TSRequest) and parses it as CHALLENGE.
pub fn find_challenge(bytes: &[u8]) -> Result<Challenge, Error> {
    let at = bytes
        .windows(SIGNATURE.len())
        .position(|w| w == SIGNATURE)
        .ok_or_else(no_signature)?;
    parse_challenge(&bytes[at..])
}

/// Parses a CHALLENGE message (MS-NLMP 2.2.1.2) starting at its signature. Trailing bytes
/// (outer DER) are ignored; offsets are relative to the signature.
pub fn parse_challenge(m: &[u8]) -> Result<Challenge, Error> {
    let mut r = Reader::new(m, "NTLM CHALLENGE");
    if r.take(8).ok() != Some(&SIGNATURE[..]) {
        return Err(no_signature());
    }
    let ty = r.u32_le()?;
    if ty != 2 {
        return Err(Error::unexpected("NTLM message type", ty));
    }
    r.skip(8)?; // TargetNameFields, read by `field`
    let flags = r.u32_le()?;
    let target_name = field(m, 12)?.map(utf16).filter(|s| !s.is_empty());
    let mut c = Challenge {
        target_name,
        ..Challenge::default()
    };
    if let Some(info) = field(m, 40)? {
        let mut pairs = Reader::new(info, "NTLM target information");
        while pairs.remaining() >= 4 {
            let id = pairs.u16_le()?;
            let len = usize::from(pairs.u16_le()?);
            let value = pairs.take(len)?;
            let slot = match id {
                0 => break, // MsvAvEOL
                1 => &mut c.netbios_computer,
                2 => &mut c.netbios_domain,
                3 => &mut c.dns_computer,
                4 => &mut c.dns_domain,
                5 => &mut c.dns_tree,
                _ => continue,
            };
            let s = utf16(value);
            if !s.is_empty() {
                *slot = Some(s);
            }
        }
    }
    let mut version = Reader::new(m, "NTLM version");
    if flags & FLAG_VERSION != 0
        && version.seek(48).is_ok()
        && let Ok([major, minor, b0, b1, ..]) = version.array::<8>()
    {
        // An all-zero version means the server did not fill it in.
        if [major, minor, b0, b1] != [0, 0, 0, 0] {
            c.os_version = Some(format!("{major}.{minor}.{}", u16::from_le_bytes([b0, b1])));
        }
    }
    Ok(c)
}

/// The bytes of a (len u16, maxlen u16, offset u32) field at `at`; `None` when empty.
fn field(m: &[u8], at: usize) -> Result<Option<&[u8]>, Error> {
    let mut r = Reader::new(m, "NTLM CHALLENGE");
    r.seek(at)?;
    let len = usize::from(r.u16_le()?);
    r.skip(2)?;
    let off = usize::try_from(r.u32_le()?).unwrap_or(usize::MAX);
    if len == 0 {
        return Ok(None);
    }
    r.seek(off)?;
    r.take(len).map(Some)
}

/// UTF-16LE to a String, lossy, control characters dropped.
pub fn utf16(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

// ------------------------------------------------------------------ SPNEGO / DER

/// A DER TLV header for `len` content bytes.
pub(crate) fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

/// SPNEGO OID 1.3.6.1.5.5.2.
const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// NTLMSSP OID 1.3.6.1.4.1.311.2.2.10.
const OID_NTLMSSP: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

/// A SPNEGO NegTokenInit offering only NTLMSSP, carrying `token` as its mechToken.
pub fn spnego_init(token: &[u8]) -> Vec<u8> {
    let mech_types = der(0xa0, &der(0x30, &der(0x06, OID_NTLMSSP)));
    let mech_token = der(0xa2, &der(0x04, token));
    let neg_token_init = der(0x30, &[mech_types, mech_token].concat());
    let inner = [der(0x06, OID_SPNEGO), der(0xa0, &neg_token_init)].concat();
    der(0x60, &inner)
}

/// A SPNEGO NegTokenResp (RFC 4178 4.2.2) carrying `token` as its responseToken: the
/// client's second leg.
pub fn spnego_response(token: &[u8]) -> Vec<u8> {
    der(0xa1, &der(0x30, &der(0xa2, &der(0x04, token))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16s(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// A CHALLENGE built by hand after MS-NLMP 4.2.4.
    pub(crate) fn challenge() -> Vec<u8> {
        let name = u16s("CSRLAB");
        let mut info = Vec::new();
        for (id, s) in [
            (2u16, "CSRLAB"),
            (1, "CSRSMB1"),
            (4, "lab.example"),
            (3, "csrsmb1.lab.example"),
        ] {
            let v = u16s(s);
            info.extend_from_slice(&id.to_le_bytes());
            info.extend_from_slice(&(v.len() as u16).to_le_bytes());
            info.extend_from_slice(&v);
        }
        info.extend_from_slice(&[0, 0, 0, 0]);
        let mut m = SIGNATURE.to_vec();
        m.extend_from_slice(&2u32.to_le_bytes());
        let name_off = 56u32;
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&(name.len() as u16).to_le_bytes());
        m.extend_from_slice(&name_off.to_le_bytes());
        m.extend_from_slice(&(NEGOTIATE_FLAGS | 0x0080_0000).to_le_bytes());
        m.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        m.extend_from_slice(&[0; 8]);
        let info_off = name_off + name.len() as u32;
        m.extend_from_slice(&(info.len() as u16).to_le_bytes());
        m.extend_from_slice(&(info.len() as u16).to_le_bytes());
        m.extend_from_slice(&info_off.to_le_bytes());
        m.extend_from_slice(&[6, 1, 0xb1, 0x1d, 0, 0, 0, 15]); // 6.1.7601
        m.extend_from_slice(&name);
        m.extend_from_slice(&info);
        m
    }

    #[test]
    fn parses_challenge() {
        let mut wrapped = vec![0xa1, 0x81, 0x00];
        wrapped.extend_from_slice(&challenge());
        let c = find_challenge(&wrapped).unwrap();
        assert_eq!(c.target_name.as_deref(), Some("CSRLAB"));
        assert_eq!(c.netbios_computer.as_deref(), Some("CSRSMB1"));
        assert_eq!(c.netbios_domain.as_deref(), Some("CSRLAB"));
        assert_eq!(c.dns_computer.as_deref(), Some("csrsmb1.lab.example"));
        assert_eq!(c.dns_domain.as_deref(), Some("lab.example"));
        assert_eq!(c.dns_tree, None);
        assert_eq!(c.os_version.as_deref(), Some("6.1.7601"));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(find_challenge(b"nothing here"), Err(no_signature()));
        assert_eq!(
            parse_challenge(&negotiate()),
            Err(Error::unexpected("NTLM message type", 1))
        );
        let c = challenge();
        for cut in [10, 30, 45, 60, c.len() - 3] {
            assert!(
                matches!(parse_challenge(&c[..cut]), Err(Error::Truncated { .. })),
                "cut at {cut}"
            );
        }
        // an AV pair whose length runs past the end
        let mut bad = c.clone();
        let n = bad.len();
        bad[n - 4..].copy_from_slice(&[1, 0, 0xff, 0x7f]);
        assert!(matches!(
            parse_challenge(&bad),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn negotiate_and_spnego_shape() {
        let n = negotiate();
        assert_eq!(n.len(), 40);
        assert_eq!(&n[..8], SIGNATURE);
        assert_eq!(
            u32::from_le_bytes([n[12], n[13], n[14], n[15]]),
            0xe208_8235
        );
        let s = spnego_init(&n);
        assert_eq!(s[0], 0x60);
        assert_eq!(s[1] as usize, s.len() - 2);
        assert!(s.windows(8).any(|w| w == SIGNATURE));
        assert_eq!(der(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(der(0x04, &[0; 300])[..4], [0x04, 0x82, 1, 44]);
    }

    #[test]
    fn anonymous_authenticate_is_empty() {
        let a = anonymous_authenticate();
        assert_eq!(a.len(), 64);
        assert_eq!(&a[..8], SIGNATURE);
        assert_eq!(a[8], 3);
        // every field (LM, NT, domain, user, workstation, session key) is empty
        for f in 0..6 {
            let at = 12 + f * 8;
            assert_eq!(&a[at..at + 4], &[0, 0, 0, 0], "field {f}");
        }
        let flags = u32::from_le_bytes([a[60], a[61], a[62], a[63]]);
        assert_ne!(flags & 0x0000_0800, 0, "ANONYMOUS");
        assert_eq!(
            flags & (0x10 | 0x20 | 0x4000_0000),
            0,
            "no SIGN, SEAL, KEY_EXCH"
        );
        let r = spnego_response(&a);
        assert_eq!(&r[..6], &[0xa1, 70, 0x30, 68, 0xa2, 66]);
        assert_eq!(&r[6..8], &[0x04, 64]);
    }
}

/// Recorded CHALLENGE messages (fixtures/ntlm/README.md, fixtures/smb/README.md).
#[cfg(test)]
mod fixtures {
    use super::*;

    #[test]
    fn freerdp_credssp() {
        let b = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/ntlm/freerdp-credssp-tsrequest-challenge.bin"
        ));
        assert_eq!(crate::rdp::der_complete(b), Ok(Some(b.len())));
        let c = find_challenge(b).unwrap();
        assert_eq!(c.target_name.as_deref(), Some("VM"));
        assert_eq!(c.netbios_computer.as_deref(), Some("VM"));
        assert_eq!(c.netbios_domain.as_deref(), Some("VM"));
        assert_eq!(c.dns_computer.as_deref(), Some("vm"));
        assert_eq!(c.dns_domain.as_deref(), Some("vm"));
        assert_eq!(c.os_version.as_deref(), Some("6.1.7601"));
    }

    #[test]
    fn truncated() {
        let b = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/ntlm/malformed-truncated-challenge.bin"
        ));
        assert!(matches!(find_challenge(b), Err(Error::Truncated { .. })));
    }
}

#[cfg(test)]
mod prop {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = super::find_challenge(&b);
            let mut m = super::SIGNATURE.to_vec();
            m.extend_from_slice(&2u32.to_le_bytes());
            m.extend_from_slice(&b);
            let _ = super::parse_challenge(&m);
        }
    }
}
