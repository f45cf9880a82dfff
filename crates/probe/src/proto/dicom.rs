//! DICOM: A-ASSOCIATE-RQ for Verification from a made-up calling AE ("CLINICSCAN") to
//! "ANY-SCP"; when accepted, one C-ECHO and an orderly A-RELEASE. Nothing is stored or
//! queried.

use clinicscan_model::{DicomFacts, ProbeError, Service, Software};
use clinicscan_wire::dicom::{self as wire, Pdu};
use tokio::net::TcpStream;

use super::ProbeContext;
use super::io::{self, Budget};

const NAME: &str = "dicom";
/// The calling AE title: made up, so no node can have it configured.
pub(crate) const CALLING_AE: &str = "CLINICSCAN";
/// The called AE title.
pub(crate) const CALLED_AE: &str = "ANY-SCP";
/// DCMTK's implementation class UID root (OFFIS).
const DCMTK_ROOT: &str = "1.2.276.0.7230010.3";

async fn read_pdu(
    ctx: &ProbeContext,
    stream: &mut TcpStream,
    budget: &mut Budget,
) -> Result<Pdu, ProbeError> {
    let mut buf = Vec::new();
    let n = io::read_framed(ctx, stream, &mut buf, budget, wire::pdu_len)
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    wire::parse_pdu(&buf[..n]).map_err(|e| io::invalid(NAME, e))
}

/// Fills `service.facts.dicom`.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut facts = DicomFacts {
        calling_ae: CALLING_AE.to_string(),
        called_ae: CALLED_AE.to_string(),
        ..DicomFacts::default()
    };
    match run(ctx, &mut facts, service).await {
        Ok(()) => {
            service.protocol = Some("dicom".to_string());
            service.facts.dicom = Some(facts);
        }
        Err(e) => service.probe_errors.push(e),
    }
}

async fn run(
    ctx: &ProbeContext,
    facts: &mut DicomFacts,
    service: &mut Service,
) -> Result<(), ProbeError> {
    let mut stream = io::connect(ctx).await.map_err(|e| e.to_probe_error(NAME))?;
    let mut budget = Budget::new(ctx.max_bytes.min(4 * wire::MAX_PDU));
    io::write_all(ctx, &mut stream, &wire::associate_rq(CALLING_AE, CALLED_AE))
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    let ac = match read_pdu(ctx, &mut stream, &mut budget).await? {
        Pdu::AssociateAc(ac) => ac,
        Pdu::AssociateRj(rj) => {
            facts.association = "rejected".to_string();
            facts.reject_reason = Some(rj.text());
            // Rejected by the service user without reason or for the calling AE title:
            // unknown calling AEs are not accepted. A rejection of the called AE title or a
            // provider rejection (congestion) does not tell.
            facts.accepts_unknown_ae =
                (rj.source == 1 && matches!(rj.reason, 1 | 3)).then_some(false);
            return Ok(());
        }
        Pdu::Abort(a) => {
            facts.association = "aborted".to_string();
            facts.reject_reason = Some(a.text());
            return Ok(());
        }
        other => {
            return Err(io::invalid(
                NAME,
                format!("unexpected {other:?} in reply to A-ASSOCIATE-RQ"),
            ));
        }
    };
    facts.association = "accepted".to_string();
    facts.accepts_unknown_ae = Some(true);
    facts.implementation_class_uid = ac.implementation_class_uid.clone();
    facts.implementation_version = ac.implementation_version.clone();
    facts.max_pdu_length = ac.max_pdu;
    let context = ac.contexts.iter().find(|c| c.0 == 1);
    facts.verification_accepted = Some(context.is_some_and(|c| c.1 == 0));
    if let Some(uid) = &ac.implementation_class_uid
        && uid.starts_with(DCMTK_ROOT)
    {
        service.software = Some(Software {
            vendor: Some("OFFIS".to_string()),
            product: "DCMTK".to_string(),
            version: ac.implementation_version.clone(),
            evidence: format!("A-ASSOCIATE-AC implementation class UID {uid}"),
        });
    }
    if facts.verification_accepted == Some(true) {
        io::write_all(ctx, &mut stream, &wire::c_echo_rq(1, 1))
            .await
            .map_err(|e| e.to_probe_error(NAME))?;
        match read_pdu(ctx, &mut stream, &mut budget).await? {
            Pdu::PData(pdvs) => {
                if let Some((_, _, data)) = pdvs.iter().find(|p| p.1 & 0x01 == 0x01) {
                    let cmd = wire::parse_command(data).map_err(|e| io::invalid(NAME, e))?;
                    if cmd.command_field == Some(wire::C_ECHO_RSP) {
                        facts.echo_status = cmd.status;
                    }
                }
            }
            Pdu::Abort(a) => {
                facts.reject_reason = Some(format!("C-ECHO aborted: {}", a.text()));
                return Ok(());
            }
            other => {
                return Err(io::invalid(
                    NAME,
                    format!("unexpected {other:?} in reply to C-ECHO-RQ"),
                ));
            }
        }
    }
    // Orderly release; a peer that just closes instead is not an error worth reporting.
    io::write_all(ctx, &mut stream, &wire::release_rq())
        .await
        .map_err(|e| e.to_probe_error(NAME))?;
    let _ = read_pdu(ctx, &mut stream, &mut budget).await;
    Ok(())
}
