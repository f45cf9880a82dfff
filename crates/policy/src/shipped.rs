//! The `rules/` tree embedded at build time (see `build.rs`).

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// Shipped files whose path starts with `prefix` and has no further directory, as
/// ("rules/<path>", contents).
pub(crate) fn files_under(prefix: &str) -> Vec<(&'static str, &'static str)> {
    SHIPPED
        .iter()
        .filter(|(p, _)| {
            p.strip_prefix(prefix)
                .is_some_and(|rest| !rest.contains('/'))
        })
        .map(|(p, t)| (*p, *t))
        .collect()
}

/// One shipped file by its path under `rules/`.
pub(crate) fn file(path: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}
