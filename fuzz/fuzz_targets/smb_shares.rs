#![no_main]
//! The answers of an anonymous SMB2 share listing: SESSION_SETUP, TREE_CONNECT, CREATE,
//! IOCTL/READ pipe data, QUERY_DIRECTORY, and the DCE/RPC BIND_ACK and NetrShareEnum
//! answer (NDR) the pipe carries.
use clinicscan_wire::{smb2, srvsvc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = smb2::parse_response(data);
    let _ = smb2::parse_session_setup(data);
    let _ = smb2::parse_tree_connect(data);
    let _ = smb2::parse_create(data);
    let _ = smb2::parse_query_directory(data);
    let _ = smb2::parse_status(data, smb2::CLOSE);
    if let Ok((_, pipe)) = smb2::parse_pipe_data(data) {
        let _ = srvsvc::parse_bind_ack(pipe);
        if let Ok(f) = srvsvc::parse_response(pipe) {
            let _ = srvsvc::parse_share_enum(f.stub);
        }
    }
    let _ = srvsvc::pdu_complete(data);
    let _ = srvsvc::parse_bind_ack(data);
    let _ = srvsvc::parse_share_enum(data);
});
