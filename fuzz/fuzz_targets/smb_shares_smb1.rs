#![no_main]
//! The answers of an anonymous SMB1 share listing: SESSION_SETUP_ANDX, TREE_CONNECT_ANDX,
//! NT_CREATE_ANDX of the srvsvc pipe, the TransactNmPipe answers carrying DCE/RPC, the RAP
//! NetShareEnum TRANSACTION and TRANS2 FIND_FIRST2.
use clinicscan_wire::{smb, smb1, srvsvc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = smb1::parse_response(data);
    let _ = smb::parse_smb1_session_setup(data);
    let _ = smb1::parse_status(data, smb1::TREE_CONNECT_ANDX);
    let _ = smb1::parse_open(data);
    if let Ok(t) = smb1::parse_transaction(data, smb1::TRANSACTION) {
        let _ = smb1::parse_rap_share_enum(t.params, t.data);
        let _ = srvsvc::parse_bind_ack(t.data);
        if let Ok(f) = srvsvc::parse_response(t.data) {
            let _ = srvsvc::parse_share_enum(f.stub);
        }
    }
    let _ = smb1::parse_find_first(data);
    let (params, rest) = data.split_at(data.len().min(8));
    let _ = smb1::parse_rap_share_enum(params, rest);
});
