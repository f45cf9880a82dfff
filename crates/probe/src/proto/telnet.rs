//! The Telnet service probe: refuses every option the server asks for (WONT to DO, DONT to
//! WILL), collects the text it sends — banner and login prompt — until a prompt appears,
//! the server goes quiet, or the deadline or byte limit is reached. It never types anything:
//! no user name, no password.

use std::time::Duration;

use clinicscan_model::{Service, TelnetFacts};
use clinicscan_wire::telnet as wire;
use tokio::io::AsyncWriteExt;

use super::ProbeContext;
use super::io::{self, Budget, IoError};

const PROBE: &str = "telnet";
/// Characters of banner kept as a fact.
const MAX_BANNER_CHARS: usize = 2048;
/// Once text has arrived, this much silence ends the probe.
const QUIET: Duration = Duration::from_millis(800);

/// Fills `service.facts.telnet` from a real negotiation.
pub(crate) async fn probe(ctx: &ProbeContext, service: &mut Service) {
    let mut budget = Budget::new(ctx.max_bytes);
    let mut stream = match io::connect(ctx).await {
        Ok(s) => s,
        Err(e) => return service.probe_errors.push(e.to_probe_error(PROBE)),
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut text = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut negotiated = false;
    let mut error = None;
    loop {
        let read = if text.is_empty() {
            io::read_some(ctx, &mut stream, &mut buf, &mut budget).await
        } else {
            let quiet_until = ctx.deadline.min(tokio::time::Instant::now() + QUIET);
            match tokio::time::timeout_at(
                quiet_until,
                io::read_some(ctx, &mut stream, &mut buf, &mut budget),
            )
            .await
            {
                Ok(r) => r,
                Err(_) => break, // the server went quiet after its text
            }
        };
        match read {
            Ok(_) => {}
            Err(IoError::Closed(_)) if !text.is_empty() || negotiated => break,
            Err(IoError::TooLarge(_)) if !text.is_empty() => break,
            Err(e) => {
                error = Some(e.to_probe_error(PROBE));
                break;
            }
        }
        let s = wire::scan(&buf);
        buf.drain(..s.consumed);
        if s.oversized_subnegotiation {
            error = Some(io::invalid(PROBE, "oversized Telnet subnegotiation"));
            break;
        }
        negotiated |= !s.requests.is_empty();
        for r in s.requests {
            if !options.contains(&r) {
                options.push(r);
            }
        }
        text.extend_from_slice(&s.text);
        if !s.reply.is_empty()
            && let Err(e) = io::write_all(ctx, &mut stream, &s.reply).await
        {
            error = Some(e.to_probe_error(PROBE));
            break;
        }
        if text.len() >= MAX_BANNER_CHARS * 4 || (!text.is_empty() && wire::ends_with_prompt(&text))
        {
            break;
        }
    }
    let _ = stream.shutdown().await;
    if negotiated {
        service.protocol = Some("telnet".to_string());
    }
    if negotiated || !text.is_empty() {
        let banner = wire::banner_text(&text, MAX_BANNER_CHARS);
        service.facts.telnet = Some(TelnetFacts {
            banner: Some(banner).filter(|b| !b.is_empty()),
            options,
        });
    }
    if let Some(e) = error {
        service.probe_errors.push(e);
    }
}
