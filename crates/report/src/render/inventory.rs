//! The asset inventory (台帳): every host seen, one a row, as CSV with a UTF-8 BOM and CRLF
//! so that Japanese Excel opens it correctly.
//!
//! Columns: address, MAC, vendor, names, zone, open services, products and versions, first
//! and last seen (from the history, else this scan), number of findings and the worst
//! severity. Unknown values are empty cells, never guesses.

use super::csv_out::{cell, finish, header, writer};
use super::view::View;
use super::{RenderError, ReportInput, fmt_time, sev_label};
use crate::strings::S;

pub(crate) fn render(
    input: &ReportInput<'_>,
    zones: Option<&std::collections::BTreeMap<std::net::IpAddr, String>>,
) -> Result<String, RenderError> {
    let v = View::of(input);
    let lang = v.lang;
    let mut w = writer();
    header(
        &mut w,
        &[
            S::Address,
            S::Mac,
            S::Vendor,
            S::Names,
            S::Zone,
            S::OpenServices,
            S::Products,
            S::FirstSeen,
            S::LastSeen,
            S::Findings,
            S::WorstSeverity,
        ],
        lang,
        None,
    )?;
    for h in &v.hosts {
        let services: Vec<String> = h
            .services
            .iter()
            .map(|s| format!("{} {}", s.port, s.name))
            .collect();
        let products: Vec<String> = h
            .services
            .iter()
            .filter_map(|s| s.product.as_ref().map(|p| format!("{} {p}", s.port)))
            .collect();
        // Without a history, this scan is the first and the last time the host was seen.
        let (first, last) = match h.seen {
            Some(seen) => (seen.first_seen, seen.last_seen),
            None => (v.started, v.started),
        };
        w.write_record([
            h.address.to_string(),
            cell(h.mac.unwrap_or("")),
            cell(h.vendor.unwrap_or("")),
            cell(&h.names.join("; ")),
            cell(
                zones
                    .and_then(|z| z.get(&h.address))
                    .map(String::as_str)
                    .or(h.zone)
                    .unwrap_or(""),
            ),
            cell(&services.join("; ")),
            cell(&products.join("; ")),
            fmt_time(first),
            fmt_time(last),
            h.findings.len().to_string(),
            h.worst
                .map(|s| sev_label(s).get(lang))
                .unwrap_or("")
                .to_string(),
        ])?;
    }
    finish(w, true)
}
