#![no_main]
//! SSH identification line and KEXINIT, as a server sends them.
use clinicscan_wire::ssh;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(n)) = ssh::ident_complete(data) {
        let _ = ssh::parse_identification(&data[..n]);
        let rest = &data[n..];
        if let Ok(Some(k)) = ssh::packet_complete(rest) {
            if let Ok(kex) = ssh::parse_kexinit(&rest[..k]) {
                let _ = ssh::weaknesses(&kex);
            }
        }
    }
    let _ = ssh::parse_kexinit(data);
});
