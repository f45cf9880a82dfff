//! Egress attempts: from the scan's vantage, the site's egress targets (one TCP connection
//! each, one resolution through the vantage's own resolver for a name) and the closed
//! network's fingerprints, each recorded with what came of it. The plan validated every
//! check before any packet; a name that resolves to a special address, or to one the site
//! never touches, is not connected to.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clinicscan_model::{EgressAttempt, EgressCheck, EgressKind, EgressOutcome};
use tokio::net::TcpStream;

use crate::config::ScanPlan;
use crate::dns::{Dns, LookupFailure};
use crate::scope::{AddressScope, classify};

/// How long one TCP attempt waits for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The resolv.conf the vantage's resolver reads.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Makes every egress attempt of the plan, one after the other (a handful, each bounded),
/// and returns what came of each, in the plan's order.
pub(crate) async fn attempt_all(plan: &ScanPlan) -> Vec<EgressAttempt> {
    let checks = &plan.config.egress;
    if checks.is_empty() {
        return Vec::new();
    }
    let dns = Dns::system(plan.config.timing.dns_timeout);
    let resolver = first_nameserver(RESOLV_CONF);
    let mut out = Vec::with_capacity(checks.len());
    for c in checks {
        let started = tokio::time::Instant::now();
        let mut a = match c.kind {
            EgressKind::Dns => resolve(c, dns.as_ref(), resolver).await,
            EgressKind::Tcp => connect_check(plan, c, dns.as_ref()).await,
        };
        a.elapsed_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
        out.push(a);
    }
    out
}

fn attempt(c: &EgressCheck, outcome: EgressOutcome) -> EgressAttempt {
    EgressAttempt {
        purpose: c.purpose,
        kind: c.kind,
        target: c.target(),
        address: None,
        port: c.port,
        name: None,
        reached: None,
        outcome,
        resolved: Vec::new(),
        detail: String::new(),
        elapsed_ms: None,
    }
}

/// The first `nameserver` line of a resolv.conf: the resolver a terminal asks first.
fn first_nameserver(path: &str) -> Option<IpAddr> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_first_nameserver(&text)
}

fn parse_first_nameserver(text: &str) -> Option<IpAddr> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        match (w.next(), w.next()) {
            (Some("nameserver"), Some(a)) => a.split('%').next()?.parse().ok(),
            _ => None,
        }
    })
}

async fn resolve(
    c: &EgressCheck,
    dns: Result<&Dns, &String>,
    resolver: Option<IpAddr>,
) -> EgressAttempt {
    let mut a = attempt(c, EgressOutcome::NoResolver);
    a.name = Some(c.host.clone());
    a.address = resolver;
    a.port = Some(53);
    let dns = match dns {
        Ok(d) if resolver.is_some() => d,
        Ok(_) => {
            a.detail = format!("no nameserver in {RESOLV_CONF}");
            return a;
        }
        Err(e) => {
            a.detail = format!("no resolver: {e}");
            return a;
        }
    };
    match dns.lookup_classified(&c.host).await {
        Ok(addrs) => {
            a.outcome = EgressOutcome::Resolved;
            a.reached = Some(true);
            a.detail = format!(
                "resolved to {}",
                addrs
                    .iter()
                    .map(IpAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            a.resolved = addrs;
        }
        Err(f) => {
            let (outcome, reached) = match f {
                LookupFailure::NxDomain(_) => (EgressOutcome::Nxdomain, Some(false)),
                LookupFailure::NoRecords(_) => (EgressOutcome::NoRecords, Some(false)),
                LookupFailure::NoAnswer(_) => (EgressOutcome::NoAnswer, Some(false)),
                LookupFailure::Error(_) => (EgressOutcome::DnsError, Some(false)),
            };
            a.outcome = outcome;
            a.reached = reached;
            a.detail = f.to_string();
        }
    }
    a
}

async fn connect_check(
    plan: &ScanPlan,
    c: &EgressCheck,
    dns: Result<&Dns, &String>,
) -> EgressAttempt {
    let mut a = attempt(c, EgressOutcome::NotTried);
    let Some(port) = c.port else {
        a.detail = "no port".into();
        return a;
    };
    let ip = match c.host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => {
            a.name = Some(c.host.clone());
            let dns = match dns {
                Ok(d) => d,
                Err(e) => {
                    a.detail = format!("{} not resolved: no resolver: {e}", c.host);
                    return a;
                }
            };
            match dns.lookup_classified(&c.host).await {
                Ok(addrs) => {
                    a.resolved = addrs.clone();
                    match addrs.first() {
                        Some(&ip) => ip,
                        None => {
                            a.detail = format!("{} resolved to no address", c.host);
                            a.reached = Some(false);
                            return a;
                        }
                    }
                }
                Err(f) => {
                    // The name does not resolve from here: the path is closed at the DNS.
                    a.reached = Some(false);
                    a.outcome = match f {
                        LookupFailure::NxDomain(_) => EgressOutcome::Nxdomain,
                        LookupFailure::NoRecords(_) => EgressOutcome::NoRecords,
                        LookupFailure::NoAnswer(_) => EgressOutcome::NoAnswer,
                        LookupFailure::Error(_) => EgressOutcome::DnsError,
                    };
                    a.detail = format!("{} did not resolve: {f}", c.host);
                    return a;
                }
            }
        }
    };
    a.address = Some(ip);
    if let AddressScope::Special(kind) = classify(ip) {
        a.detail = format!("{ip} is a {kind} address; nothing was sent");
        return a;
    }
    if plan.do_not_touch.contains(ip) || plan.exclude.contains(ip) {
        a.detail = format!("{ip} is excluded; nothing was sent");
        return a;
    }
    let (outcome, reached, detail) = connect(SocketAddr::new(ip, port)).await;
    a.outcome = outcome;
    a.reached = reached;
    a.detail = detail;
    a
}

async fn connect(to: SocketAddr) -> (EgressOutcome, Option<bool>, String) {
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await {
        Err(_) => (
            EgressOutcome::Timeout,
            Some(false),
            format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        ),
        // Connected and closed at once: nothing is sent, nothing looks like a login.
        Ok(Ok(_stream)) => (
            EgressOutcome::Connected,
            Some(true),
            "handshake completed".into(),
        ),
        Ok(Err(e)) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => (
                EgressOutcome::Refused,
                Some(false),
                "connection refused".into(),
            ),
            std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                (EgressOutcome::Unreachable, Some(false), e.to_string())
            }
            _ => (EgressOutcome::NotTried, None, e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScanConfig;
    use clinicscan_model::EgressPurpose;

    #[test]
    fn the_first_nameserver_is_the_one_asked() {
        let text = "# generated\nsearch lab\nnameserver 203.0.113.53\nnameserver 10.0.0.1\n";
        assert_eq!(
            parse_first_nameserver(text),
            Some("203.0.113.53".parse().expect("ip"))
        );
        assert_eq!(
            parse_first_nameserver("nameserver fe80::1%eth0\n"),
            Some("fe80::1".parse().expect("ip"))
        );
        assert_eq!(parse_first_nameserver("search lab\n"), None);
    }

    #[tokio::test]
    async fn a_tcp_attempt_on_loopback_records_connected_and_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = listener.local_addr().expect("addr").port();
        // A port just closed: nothing listens there.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let check = |port| EgressCheck {
            purpose: EgressPurpose::Internet,
            kind: EgressKind::Tcp,
            host: "127.0.0.1".into(),
            port: Some(port),
        };
        let mut config = ScanConfig {
            targets: vec!["127.0.0.1".into()],
            ..ScanConfig::default()
        };
        config.egress = vec![check(open), check(closed)];
        let plan = crate::plan(&config).expect("plan");
        let got = attempt_all(&plan).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].outcome, EgressOutcome::Connected);
        assert_eq!(got[0].reached, Some(true));
        assert_eq!(got[0].target, format!("127.0.0.1:{open}"));
        assert_eq!(got[1].outcome, EgressOutcome::Refused);
        assert_eq!(got[1].reached, Some(false));
        assert!(got.iter().all(|a| a.elapsed_ms.is_some()));
    }
}
