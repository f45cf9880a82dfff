//! The small subset of ASN.1 BER (X.690) that SNMP needs: definite-length TLVs with
//! single-byte tags, INTEGER, OCTET STRING, NULL and OBJECT IDENTIFIER.
//!
//! Hand-written rather than a crate: SNMP needs a dozen lines of encoding and a strict,
//! allocation-bounded decoder over untrusted datagrams; the general BER crates accept far
//! more (indefinite lengths, high tag numbers) than an SNMP agent may send. The decoder
//! never recurses on its own: callers walk the fixed SNMP structure level by level, so
//! nesting is bounded by the code, and every length is checked against the bytes that
//! are actually there before anything is sliced or allocated.

/// INTEGER.
pub const INTEGER: u8 = 0x02;
/// OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// NULL.
pub const NULL: u8 = 0x05;
/// OBJECT IDENTIFIER.
pub const OID: u8 = 0x06;
/// SEQUENCE (constructed).
pub const SEQUENCE: u8 = 0x30;

/// Longest OID accepted, in arcs.
pub const MAX_OID_ARCS: usize = 128;

/// Why a BER element does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    /// Not enough bytes.
    #[error("truncated element")]
    Truncated,
    /// A multi-byte (high-number) tag, which SNMP never uses.
    #[error("high tag number form")]
    HighTag,
    /// The indefinite length form, which SNMP forbids.
    #[error("indefinite length")]
    IndefiniteLength,
    /// A length of more than four bytes, or larger than the data.
    #[error("length out of bounds")]
    BadLength,
    /// A different tag than the one expected.
    #[error("expected tag 0x{expected:02x}, found 0x{found:02x}")]
    UnexpectedTag {
        /// The tag the structure requires.
        expected: u8,
        /// The tag found.
        found: u8,
    },
    /// An INTEGER that does not fit 64 bits or is empty.
    #[error("integer out of range")]
    BadInteger,
    /// An OBJECT IDENTIFIER that is empty, too long, or has an unterminated arc.
    #[error("malformed object identifier")]
    BadOid,
}

/// One decoded element: its tag and content bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag byte.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
}

/// Total length (header + content) of the element at the start of `buf`, once all of it is
/// there; `None` while incomplete. Errors on an element that can never be valid.
pub fn element_len(buf: &[u8]) -> Result<Option<usize>, BerError> {
    match header(buf) {
        Ok((hlen, clen)) => Ok((buf.len() >= hlen + clen).then_some(hlen + clen)),
        Err(BerError::Truncated) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Header length and content length.
fn header(buf: &[u8]) -> Result<(usize, usize), BerError> {
    let tag = *buf.first().ok_or(BerError::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(BerError::HighTag);
    }
    let first = *buf.get(1).ok_or(BerError::Truncated)?;
    if first < 0x80 {
        return Ok((2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 {
        return Err(BerError::IndefiniteLength);
    }
    if n > 4 {
        return Err(BerError::BadLength);
    }
    let bytes = buf.get(2..2 + n).ok_or(BerError::Truncated)?;
    let len = bytes
        .iter()
        .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    Ok((2 + n, len))
}

/// Reads one element from the front of `buf`, advancing it.
pub fn read<'a>(buf: &mut &'a [u8]) -> Result<Tlv<'a>, BerError> {
    let (hlen, clen) = header(buf)?;
    let end = hlen.checked_add(clen).ok_or(BerError::BadLength)?;
    if end > buf.len() {
        return Err(BerError::BadLength);
    }
    let tlv = Tlv {
        tag: buf[0],
        content: &buf[hlen..end],
    };
    *buf = &buf[end..];
    Ok(tlv)
}

/// Reads one element that must carry `tag`.
pub fn expect<'a>(buf: &mut &'a [u8], tag: u8) -> Result<&'a [u8], BerError> {
    let t = read(buf)?;
    if t.tag != tag {
        return Err(BerError::UnexpectedTag {
            expected: tag,
            found: t.tag,
        });
    }
    Ok(t.content)
}

/// Decodes INTEGER content (two's complement, at most 8 bytes after sign padding).
pub fn integer(content: &[u8]) -> Result<i64, BerError> {
    if content.is_empty() {
        return Err(BerError::BadInteger);
    }
    // Drop redundant sign bytes of a non-minimal encoding.
    let mut trimmed = content;
    while trimmed.len() > 8
        && ((trimmed[0] == 0 && trimmed[1] & 0x80 == 0)
            || (trimmed[0] == 0xff && trimmed[1] & 0x80 != 0))
    {
        trimmed = &trimmed[1..];
    }
    if trimmed.len() > 8 {
        return Err(BerError::BadInteger);
    }
    let negative = content[0] & 0x80 != 0;
    let mut v: i64 = if negative { -1 } else { 0 };
    for &b in trimmed {
        v = (v << 8) | i64::from(b);
    }
    Ok(v)
}

/// Reads an INTEGER element.
pub fn read_integer(buf: &mut &[u8]) -> Result<i64, BerError> {
    integer(expect(buf, INTEGER)?)
}

/// Decodes an unsigned 32-bit value from INTEGER-like content (Counter32, Gauge32,
/// TimeTicks, or a non-negative INTEGER).
pub fn unsigned32(content: &[u8]) -> Result<u32, BerError> {
    let trimmed = match content {
        [0, rest @ ..] if !rest.is_empty() => rest,
        c => c,
    };
    if trimmed.is_empty() || trimmed.len() > 4 {
        return Err(BerError::BadInteger);
    }
    Ok(trimmed.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b)))
}

/// Decodes OBJECT IDENTIFIER content into dotted text ("1.3.6.1.2.1.1.1.0").
pub fn oid_text(content: &[u8]) -> Result<String, BerError> {
    let arcs = oid_arcs(content)?;
    Ok(arcs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join("."))
}

/// Decodes OBJECT IDENTIFIER content into arcs.
pub fn oid_arcs(content: &[u8]) -> Result<Vec<u64>, BerError> {
    if content.is_empty() {
        return Err(BerError::BadOid);
    }
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    let mut in_arc = false;
    for &b in content {
        if v > (u64::MAX >> 7) {
            return Err(BerError::BadOid);
        }
        v = (v << 7) | u64::from(b & 0x7f);
        in_arc = b & 0x80 != 0;
        if !in_arc {
            if arcs.is_empty() {
                let first = (v / 40).min(2);
                arcs.push(first);
                arcs.push(v - first * 40);
            } else {
                arcs.push(v);
            }
            if arcs.len() > MAX_OID_ARCS {
                return Err(BerError::BadOid);
            }
            v = 0;
        }
    }
    if in_arc {
        return Err(BerError::BadOid);
    }
    Ok(arcs)
}

/// Appends a definite-length header and `content` with `tag` to `out`.
pub fn put(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u32).to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (4 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// An encoded element.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    put(&mut out, tag, content);
    out
}

/// An encoded INTEGER (minimal two's complement).
pub fn encode_integer(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    tlv(INTEGER, &bytes[start..])
}

/// An encoded OBJECT IDENTIFIER from arcs (the first two must be valid: 0..2, 0..39).
pub fn encode_oid(arcs: &[u32]) -> Vec<u8> {
    let mut content = Vec::new();
    let mut push_arc = |mut v: u64| {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = (v & 0x7f) as u8 | if i == tmp.len() - 1 { 0 } else { 0x80 };
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        content.extend_from_slice(&tmp[i..]);
    };
    match arcs {
        [a, b, rest @ ..] => {
            push_arc(u64::from(*a) * 40 + u64::from(*b));
            for &r in rest {
                push_arc(u64::from(r));
            }
        }
        [a] => push_arc(u64::from(*a) * 40),
        [] => push_arc(0),
    }
    tlv(OID, &content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers_round_trip() {
        for v in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            i64::MAX,
            i64::MIN,
            0x7fff_ffff,
        ] {
            let e = encode_integer(v);
            let mut s = &e[..];
            assert_eq!(read_integer(&mut s), Ok(v), "{v}");
            assert!(s.is_empty());
        }
        assert_eq!(encode_integer(128), vec![2, 2, 0, 128]);
        assert_eq!(encode_integer(-1), vec![2, 1, 0xff]);
    }

    #[test]
    fn oids_round_trip() {
        let e = encode_oid(&[1, 3, 6, 1, 2, 1, 1, 1, 0]);
        assert_eq!(e, vec![6, 8, 0x2b, 6, 1, 2, 1, 1, 1, 0]);
        assert_eq!(oid_text(&e[2..]).as_deref(), Ok("1.3.6.1.2.1.1.1.0"));
        let e = encode_oid(&[1, 3, 6, 1, 4, 1, 8072, 3, 2, 10]);
        assert_eq!(oid_text(&e[2..]).as_deref(), Ok("1.3.6.1.4.1.8072.3.2.10"));
        let e = encode_oid(&[2, 999, u32::MAX]);
        assert_eq!(oid_text(&e[2..]), Ok(format!("2.999.{}", u32::MAX)));
    }

    #[test]
    fn long_lengths() {
        let content = vec![7u8; 300];
        let e = tlv(OCTET_STRING, &content);
        assert_eq!(&e[..4], &[4, 0x82, 1, 44]);
        assert_eq!(element_len(&e), Ok(Some(304)));
        assert_eq!(element_len(&e[..100]), Ok(None));
        let mut s = &e[..];
        assert_eq!(expect(&mut s, OCTET_STRING), Ok(&content[..]));
    }

    #[test]
    fn malformed_elements_are_errors() {
        let mut s: &[u8] = &[0x04, 0x80, 0, 0];
        assert_eq!(read(&mut s), Err(BerError::IndefiniteLength));
        let mut s: &[u8] = &[0x04, 0x85, 1, 1, 1, 1, 1];
        assert_eq!(read(&mut s), Err(BerError::BadLength));
        let mut s: &[u8] = &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 1];
        assert_eq!(read(&mut s), Err(BerError::BadLength));
        let mut s: &[u8] = &[0x1f, 0x01, 0];
        assert_eq!(read(&mut s), Err(BerError::HighTag));
        let mut s: &[u8] = &[0x04, 0x05, 1];
        assert_eq!(read(&mut s), Err(BerError::BadLength));
        let mut s: &[u8] = &[0x04];
        assert_eq!(read(&mut s), Err(BerError::Truncated));
        let mut s: &[u8] = &[0x05, 0x00];
        assert_eq!(
            expect(&mut s, INTEGER),
            Err(BerError::UnexpectedTag {
                expected: 2,
                found: 5
            })
        );
        assert_eq!(integer(&[]), Err(BerError::BadInteger));
        assert_eq!(integer(&[1; 9]), Err(BerError::BadInteger));
        assert_eq!(unsigned32(&[1; 5]), Err(BerError::BadInteger));
        assert_eq!(unsigned32(&[0, 0xff, 0xff, 0xff, 0xff]), Ok(u32::MAX));
        assert_eq!(oid_arcs(&[]), Err(BerError::BadOid));
        assert_eq!(oid_arcs(&[0x2b, 0x86]), Err(BerError::BadOid));
        assert_eq!(oid_arcs(&[0xff; 12]), Err(BerError::BadOid));
        assert_eq!(oid_arcs(&[1; 200]), Err(BerError::BadOid));
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = element_len(&b);
            let mut s = &b[..];
            while let Ok(t) = read(&mut s) {
                let _ = integer(t.content);
                let _ = unsigned32(t.content);
                let _ = oid_text(t.content);
            }
        }

        #[test]
        fn integer_round_trip(v in any::<i64>()) {
            let e = encode_integer(v);
            let mut s = &e[..];
            prop_assert_eq!(read_integer(&mut s), Ok(v));
        }
    }
}
