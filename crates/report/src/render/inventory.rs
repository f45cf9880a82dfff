//! The asset inventory (台帳): every host seen, one a row, as CSV with a UTF-8 BOM and CRLF
//! so that Japanese Excel opens it correctly.
//!
//! Columns: address, MAC, vendor, names, zone, open services, products and versions, first
//! and last seen (from the history, else this scan), number of findings and the worst
//! severity. Unknown values are empty cells, never guesses.

use super::csv_out::{cell, finish, writer};
use super::{
    RenderError, ReportInput, fmt_time, host_views, product, service_name, sev_label, transport_str,
};
use crate::strings::S;

pub(crate) fn render(
    input: &ReportInput<'_>,
    zones: Option<&std::collections::BTreeMap<std::net::IpAddr, String>>,
) -> Result<String, RenderError> {
    let lang = input.lang;
    let t = |s: S| s.get(lang);
    let mut w = writer();
    w.write_record([
        t(S::Address),
        t(S::Mac),
        t(S::Vendor),
        t(S::Names),
        t(S::Zone),
        t(S::OpenServices),
        t(S::Products),
        t(S::FirstSeen),
        t(S::LastSeen),
        t(S::Findings),
        t(S::WorstSeverity),
    ])?;
    let this_scan = crate::diff::scan_started(input.assessment, input.observations);
    for h in host_views(input) {
        let services: Vec<String> = h
            .services
            .iter()
            .map(|s| {
                format!(
                    "{}/{} {}",
                    s.port,
                    transport_str(s.transport),
                    service_name(s)
                )
            })
            .collect();
        let products: Vec<String> = h
            .services
            .iter()
            .filter_map(|s| {
                product(s).map(|p| format!("{}/{} {}", s.port, transport_str(s.transport), p))
            })
            .collect();
        let (first, last) = match input.seen.and_then(|m| m.get(&h.address)) {
            Some(seen) => (seen.first_seen, seen.last_seen),
            None => (this_scan, this_scan),
        };
        let worst = h.findings.iter().map(|f| f.severity).max();
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
            worst
                .map(|s| sev_label(s).get(lang))
                .unwrap_or("")
                .to_string(),
        ])?;
    }
    finish(w, true)
}
