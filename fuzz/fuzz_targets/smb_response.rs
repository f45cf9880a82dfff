#![no_main]
//! SMB1/SMB2 NEGOTIATE and SESSION_SETUP responses.
use clinicscan_wire::smb;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = smb::message_complete(data);
    let _ = smb::parse_smb1_negotiate(data);
    let _ = smb::parse_smb1_session_setup(data);
    let _ = smb::parse_smb2_negotiate(data);
    let _ = smb::parse_smb2_session_setup(data);
});
