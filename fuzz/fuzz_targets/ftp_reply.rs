#![no_main]
//! FTP replies (single and multi-line), FEAT, banners.
use clinicscan_wire::ftp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = ftp::reply_complete(data) {
        if let Ok(r) = ftp::parse_reply(&data[..n]) {
            let _ = ftp::feat_offers_auth_tls(&r);
            let _ = ftp::software_from_banner(&r.text());
        }
    }
});
