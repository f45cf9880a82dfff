//! The one error of the crate: what a peer sent that does not read as the protocol.

use std::fmt;

/// What a peer sent that clinicscan cannot read as the protocol it expects. Like rustls's
/// `InvalidMessage`, each variant says what the peer did (not what the parser was doing),
/// so that a probe can put it in an error fact as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes end before a field the message needs: `len` bytes were there, the field
    /// ends at byte `need`.
    #[error("{what}: length {len} bytes, need {need}")]
    Truncated {
        /// The message or field being read.
        what: &'static str,
        /// The bytes there were.
        len: usize,
        /// Where the field ends.
        need: usize,
    },
    /// A length field outside what the protocol allows (or what clinicscan reads of it).
    #[error("{what} length {len} out of bounds")]
    BadLength {
        /// Which length.
        what: &'static str,
        /// The length the peer announced.
        len: u64,
    },
    /// A message larger than any real server sends.
    #[error("{what} of {len} bytes exceeds the limit")]
    TooLarge {
        /// Which message.
        what: &'static str,
        /// Its size, as announced or as received.
        len: usize,
    },
    /// More items of one kind than the protocol allows or clinicscan reads.
    #[error("more than {max} {what}")]
    TooMany {
        /// The items.
        what: &'static str,
        /// The most accepted.
        max: usize,
    },
    /// A field holds a value the protocol does not allow at this point (a message type, a
    /// version, a magic number).
    #[error("unexpected {what} {value}")]
    Unexpected {
        /// The field.
        what: &'static str,
        /// The value the peer sent, as the protocol writes it.
        value: String,
    },
    /// The bytes are not this protocol in a way the variants above do not name.
    #[error("invalid message: {0}")]
    Invalid(String),
}

impl Error {
    /// [`Error::Unexpected`]: the peer sent `value` in `what`.
    pub(crate) fn unexpected(what: &'static str, value: impl fmt::Display) -> Self {
        Error::Unexpected {
            what,
            value: value.to_string(),
        }
    }

    /// [`Error::Invalid`] with a description of what the peer sent.
    pub(crate) fn invalid(msg: impl fmt::Display) -> Self {
        Error::Invalid(msg.to_string())
    }

    /// [`Error::BadLength`] of `len` in `what`.
    pub(crate) fn bad_length(what: &'static str, len: impl Into<u64>) -> Self {
        Error::BadLength {
            what,
            len: len.into(),
        }
    }
}
