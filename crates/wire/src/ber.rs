//! The small subset of ASN.1 BER (X.690) that SNMP needs: definite-length TLVs with
//! single-byte tags, INTEGER, OCTET STRING, NULL and OBJECT IDENTIFIER.
//!
//! Hand-written rather than a crate: SNMP needs a dozen lines of encoding and a strict,
//! allocation-bounded decoder over untrusted datagrams; the general BER crates accept far
//! more (indefinite lengths, high tag numbers) than an SNMP agent may send. The decoder
//! never recurses on its own: callers walk the fixed SNMP structure level by level, so
//! nesting is bounded by the code, and every length is checked against the bytes that
//! are actually there before anything is sliced or allocated.

use crate::{Error, Frame, Reader, frame};

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

/// One decoded element: its tag and content bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag byte.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
}

/// Framing: a whole element (header and content) at the start of `buf`; an error for a
/// header that can never be valid (high tag number, indefinite length).
pub fn element_len(buf: &[u8]) -> Frame {
    frame(buf, "BER element", |r| {
        let (_, len) = header(r)?;
        Ok(r.position().saturating_add(len))
    })
}

/// The tag and the content length of the element `r` is at.
fn header(r: &mut Reader<'_>) -> Result<(u8, usize), Error> {
    let tag = r.u8()?;
    if tag & 0x1f == 0x1f {
        return Err(Error::unexpected(
            "BER tag",
            format_args!("0x{tag:02x} (high tag number form)"),
        ));
    }
    let first = r.u8()?;
    if first < 0x80 {
        return Ok((tag, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 {
        return Err(Error::invalid("BER indefinite length"));
    }
    if n > 4 {
        return Err(Error::bad_length("BER length field", n as u64));
    }
    let len = r
        .take(n)?
        .iter()
        .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    Ok((tag, len))
}

/// Reads one element.
pub fn read<'a>(r: &mut Reader<'a>) -> Result<Tlv<'a>, Error> {
    let (tag, len) = header(r)?;
    Ok(Tlv {
        tag,
        content: r.take(len)?,
    })
}

/// Reads one element that must carry `tag`; returns its content.
pub fn expect<'a>(r: &mut Reader<'a>, tag: u8) -> Result<&'a [u8], Error> {
    let t = read(r)?;
    if t.tag != tag {
        return Err(Error::unexpected(
            "BER tag",
            format_args!("0x{:02x} where 0x{tag:02x} belongs", t.tag),
        ));
    }
    Ok(t.content)
}

/// Reads one constructed element that must carry `tag`; a reader over its content, which
/// holds `what`.
pub fn nested<'a>(r: &mut Reader<'a>, tag: u8, what: &'static str) -> Result<Reader<'a>, Error> {
    Ok(Reader::new(expect(r, tag)?, what))
}

/// Decodes INTEGER content (two's complement, at most 8 bytes after sign padding).
pub fn integer(content: &[u8]) -> Result<i64, Error> {
    if content.is_empty() {
        return Err(bad_integer(content));
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
        return Err(bad_integer(content));
    }
    let negative = content[0] & 0x80 != 0;
    let mut v: i64 = if negative { -1 } else { 0 };
    for &b in trimmed {
        v = (v << 8) | i64::from(b);
    }
    Ok(v)
}

fn bad_integer(content: &[u8]) -> Error {
    Error::bad_length("BER integer", content.len() as u64)
}

/// Reads an INTEGER element.
pub fn read_integer(r: &mut Reader<'_>) -> Result<i64, Error> {
    integer(expect(r, INTEGER)?)
}

/// Decodes an unsigned 32-bit value from INTEGER-like content (Counter32, Gauge32,
/// TimeTicks, or a non-negative INTEGER).
pub fn unsigned32(content: &[u8]) -> Result<u32, Error> {
    let trimmed = match content {
        [0, rest @ ..] if !rest.is_empty() => rest,
        c => c,
    };
    if trimmed.is_empty() || trimmed.len() > 4 {
        return Err(bad_integer(content));
    }
    Ok(trimmed.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b)))
}

/// Decodes OBJECT IDENTIFIER content into dotted text ("1.3.6.1.2.1.1.1.0").
pub fn oid_text(content: &[u8]) -> Result<String, Error> {
    let arcs = oid_arcs(content)?;
    Ok(arcs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join("."))
}

fn bad_oid() -> Error {
    Error::invalid("malformed object identifier")
}

/// Decodes OBJECT IDENTIFIER content into arcs.
pub fn oid_arcs(content: &[u8]) -> Result<Vec<u64>, Error> {
    if content.is_empty() {
        return Err(bad_oid());
    }
    let mut arcs = Vec::new();
    let mut v: u64 = 0;
    let mut in_arc = false;
    for &b in content {
        if v > (u64::MAX >> 7) {
            return Err(bad_oid());
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
                return Err(bad_oid());
            }
            v = 0;
        }
    }
    if in_arc {
        return Err(bad_oid());
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
            let mut r = Reader::new(&e, "t");
            assert_eq!(read_integer(&mut r), Ok(v), "{v}");
            assert!(r.is_empty());
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
        let mut r = Reader::new(&e, "t");
        assert_eq!(expect(&mut r, OCTET_STRING), Ok(&content[..]));
    }

    #[test]
    fn malformed_elements_are_errors() {
        let err = |b: &[u8]| read(&mut Reader::new(b, "BER element")).unwrap_err();
        assert_eq!(
            err(&[0x04, 0x80, 0, 0]).to_string(),
            "invalid message: BER indefinite length"
        );
        assert_eq!(
            err(&[0x04, 0x85, 1, 1, 1, 1, 1]).to_string(),
            "BER length field length 5 out of bounds"
        );
        assert!(matches!(
            err(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff, 1]),
            Error::Truncated { .. }
        ));
        assert!(matches!(err(&[0x1f, 0x01, 0]), Error::Unexpected { .. }));
        assert_eq!(
            err(&[0x04, 0x05, 1]).to_string(),
            "BER element: length 3 bytes, need 7"
        );
        assert!(matches!(err(&[0x04]), Error::Truncated { .. }));
        assert_eq!(
            expect(&mut Reader::new(&[0x05, 0x00], "t"), INTEGER)
                .unwrap_err()
                .to_string(),
            "unexpected BER tag 0x05 where 0x02 belongs"
        );
        assert!(integer(&[]).is_err());
        assert!(integer(&[1; 9]).is_err());
        assert!(unsigned32(&[1; 5]).is_err());
        assert_eq!(unsigned32(&[0, 0xff, 0xff, 0xff, 0xff]), Ok(u32::MAX));
        assert!(oid_arcs(&[]).is_err());
        assert!(oid_arcs(&[0x2b, 0x86]).is_err());
        assert!(oid_arcs(&[0xff; 12]).is_err());
        assert!(oid_arcs(&[1; 200]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = element_len(&b);
            let mut r = Reader::new(&b, "t");
            while let Ok(t) = read(&mut r) {
                let _ = integer(t.content);
                let _ = unsigned32(t.content);
                let _ = oid_text(t.content);
            }
        }

        #[test]
        fn integer_round_trip(v in any::<i64>()) {
            let e = encode_integer(v);
            prop_assert_eq!(read_integer(&mut Reader::new(&e, "t")), Ok(v));
        }
    }
}
