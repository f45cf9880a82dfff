//! The `rules/` tree embedded at build time (see `build.rs`); [`crate::DataTree`] reads it.

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));
