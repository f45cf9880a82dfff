//! The one way this crate reads bytes from a peer, and the one framing signature.

use crate::Error;

/// A cursor over bytes a peer sent (after rustls's `codec::Reader` and hickory's
/// `BinDecoder`). Every read checks the length before it slices, and running out is an
/// [`Error::Truncated`] that names the message being read and how many bytes were there,
/// e.g. "SMB2 header: length 4 bytes, need 64".
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`, which holds `what` ("TLS record", "SMB2 header").
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    fn truncated(&self, n: usize) -> Error {
        Error::Truncated {
            what: self.what,
            len: self.buf.len(),
            need: self.pos.saturating_add(n),
        }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.truncated(n))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.take(n).map(|_| ())
    }

    /// Moves to offset `pos` from the start (for formats whose fields are offsets into the
    /// message, as SMB, NTLM and TDS have).
    pub fn seek(&mut self, pos: usize) -> Result<(), Error> {
        if pos > self.buf.len() {
            return Err(Error::Truncated {
                what: self.what,
                len: self.buf.len(),
                need: pos,
            });
        }
        self.pos = pos;
        Ok(())
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A little-endian u16.
    pub fn u16_le(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// A big-endian 24-bit length.
    pub fn u24(&mut self) -> Result<usize, Error> {
        let [a, b, c] = self.array()?;
        Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    /// A little-endian 24-bit length.
    pub fn u24_le(&mut self) -> Result<usize, Error> {
        let [a, b, c] = self.array()?;
        Ok(usize::from(c) << 16 | usize::from(b) << 8 | usize::from(a))
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Bytes prefixed with their length as one byte.
    pub fn vec_u8(&mut self) -> Result<&'a [u8], Error> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }

    /// Bytes prefixed with their length as a big-endian u16.
    pub fn vec_u16(&mut self) -> Result<&'a [u8], Error> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }

    /// Bytes prefixed with their length as a big-endian 24-bit number.
    pub fn vec_u24(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u24()?;
        self.take(n)
    }

    /// Bytes prefixed with their length as a big-endian u32.
    pub fn vec_u32(&mut self) -> Result<&'a [u8], Error> {
        let n = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
        self.take(n)
    }

    /// A reader over the next `n` bytes, which hold `what`.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, Error> {
        Ok(Reader::new(self.take(n)?, what))
    }

    /// The bytes up to the next `byte`, which is consumed but not returned; `None` (and
    /// nothing consumed) when no such byte follows.
    pub fn until(&mut self, byte: u8) -> Option<&'a [u8]> {
        let rest = &self.buf[self.pos..];
        let i = rest.iter().position(|&b| b == byte)?;
        self.pos += i + 1;
        Some(&rest[..i])
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// The next byte, without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Everything has been read.
    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// What a framing function says about the bytes received so far: `Ok(Some(n))`, the first
/// `n` bytes are one whole message; `Ok(None)`, more bytes are needed; `Err`, these bytes
/// cannot become a message of the protocol (not the protocol, or a length out of bounds).
/// Every protocol's framing function is a `fn(&[u8]) -> Frame`.
pub type Frame = Result<Option<usize>, Error>;

/// Framing for a message whose header tells its total length: `header` reads the start of
/// `buf` (named `what`) and returns that length, or an error for a header that can never
/// start a message. Running out of bytes inside the header means more are needed.
pub(crate) fn frame(
    buf: &[u8],
    what: &'static str,
    header: impl FnOnce(&mut Reader<'_>) -> Result<usize, Error>,
) -> Frame {
    match header(&mut Reader::new(buf, what)) {
        Ok(total) => Ok((buf.len() >= total).then_some(total)),
        Err(Error::Truncated { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_read_checks_the_length_and_names_the_message() {
        let mut r = Reader::new(&[0xfe, b'S', b'M', b'B'], "SMB2 header");
        assert_eq!(r.take(2).unwrap(), &[0xfe, b'S']);
        assert_eq!(
            r.take(62).unwrap_err().to_string(),
            "SMB2 header: length 4 bytes, need 64"
        );
        // a failed read consumes nothing
        assert_eq!(r.u16().unwrap(), u16::from_be_bytes([b'M', b'B']));
        assert!(r.is_empty());
        assert!(matches!(r.u8(), Err(Error::Truncated { need: 5, .. })));
        assert!(matches!(
            Reader::new(&[1], "x").take(usize::MAX),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn numbers_and_length_prefixed_vectors() {
        let bytes = [1, 2, 3, 4, 5, 6, 0, 2, 9, 9, 0, 0, 1, 7];
        let mut r = Reader::new(&bytes, "t");
        assert_eq!(r.u16_le().unwrap(), 0x0201);
        assert_eq!(r.u24().unwrap(), 0x030405);
        assert_eq!(r.u8().unwrap(), 6);
        assert_eq!(r.vec_u16().unwrap(), &[9, 9]);
        assert_eq!(r.vec_u24().unwrap(), &[7]);
        let mut r = Reader::new(&[0, 0, 0, 9, 1], "t");
        assert!(r.vec_u32().is_err());
        let mut r = Reader::new(b"abc\0de", "t");
        assert_eq!(r.until(0), Some(&b"abc"[..]));
        assert_eq!(r.until(0), None);
        assert_eq!(r.rest(), b"de");
    }

    #[test]
    fn seek_and_sub_stay_inside_the_message() {
        let mut r = Reader::new(&[0, 1, 2, 3], "m");
        r.seek(4).unwrap();
        assert!(r.is_empty());
        assert!(r.seek(5).is_err());
        r.seek(1).unwrap();
        let mut s = r.sub(2, "field").unwrap();
        assert_eq!(s.rest(), &[1, 2]);
        assert_eq!(r.position(), 3);
        assert!(r.sub(2, "field").is_err());
    }

    #[test]
    fn framing_waits_inside_the_header_and_rejects_bad_ones() {
        let f = |b: &[u8]| {
            frame(b, "tpkt", |r| {
                if r.u8()? != 3 {
                    return Err(Error::unexpected("TPKT version", 0));
                }
                r.skip(1)?;
                Ok(usize::from(r.u16()?))
            })
        };
        assert_eq!(f(&[]), Ok(None));
        assert_eq!(f(&[3, 0, 0]), Ok(None));
        assert_eq!(f(&[3, 0, 0, 5]), Ok(None));
        assert_eq!(f(&[3, 0, 0, 5, 1, 2]), Ok(Some(5)));
        assert!(f(&[4]).is_err());
    }
}
