//! Name resolution with hickory-resolver and the system's configuration
//! (`/etc/resolv.conf`, `/etc/hosts`), bounded in time: one attempt per server, a short
//! timeout, and an outer deadline around every lookup.

use std::net::IpAddr;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;

/// Why a name did not resolve, with the resolver's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LookupFailure {
    /// The resolver answered that the name does not exist.
    #[error("NXDOMAIN ({0})")]
    NxDomain(String),
    /// The resolver answered, with no address for the name.
    #[error("no address records ({0})")]
    NoRecords(String),
    /// No resolver answered in time.
    #[error("{0}")]
    NoAnswer(String),
    /// Any other error (refused, server failure, a local error).
    #[error("{0}")]
    Error(String),
}

/// A bounded resolver.
pub(crate) struct Dns {
    resolver: TokioResolver,
    timeout: Duration,
}

impl Dns {
    /// Builds a resolver from the system configuration; `Err` names what is missing.
    pub fn system(timeout: Duration) -> Result<Self, String> {
        let mut b = TokioResolver::builder_tokio().map_err(|e| e.to_string())?;
        let o = b.options_mut();
        o.timeout = timeout;
        o.attempts = 1;
        let resolver = b.build().map_err(|e| e.to_string())?;
        Ok(Dns { resolver, timeout })
    }

    /// The addresses of a name; `Err` with the reason when it does not resolve in time.
    pub async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        // Two queries (A and AAAA) may run one after the other.
        match tokio::time::timeout(self.timeout * 2, self.resolver.lookup_ip(name)).await {
            Err(_) => Err(format!("no answer within {:?}", self.timeout * 2)),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(l)) => {
                let mut v: Vec<IpAddr> = l.iter().collect();
                v.sort();
                v.dedup();
                if v.is_empty() {
                    Err("no address".into())
                } else {
                    Ok(v)
                }
            }
        }
    }

    /// The addresses of a name, or why it did not resolve, told apart as an egress attempt
    /// records it (the name does not exist, it has no address, nobody answered, an error).
    pub async fn lookup_classified(&self, name: &str) -> Result<Vec<IpAddr>, LookupFailure> {
        match tokio::time::timeout(self.timeout * 2, self.resolver.lookup_ip(name)).await {
            Err(_) => Err(LookupFailure::NoAnswer(format!(
                "no answer within {:?}",
                self.timeout * 2
            ))),
            Ok(Err(e)) if e.is_nx_domain() => Err(LookupFailure::NxDomain(e.to_string())),
            Ok(Err(e)) if e.is_no_records_found() => Err(LookupFailure::NoRecords(e.to_string())),
            Ok(Err(e)) if matches!(e, NetError::Timeout) => {
                Err(LookupFailure::NoAnswer(e.to_string()))
            }
            Ok(Err(e)) => Err(LookupFailure::Error(e.to_string())),
            Ok(Ok(l)) => {
                let mut v: Vec<IpAddr> = l.iter().collect();
                v.sort();
                v.dedup();
                if v.is_empty() {
                    Err(LookupFailure::NoRecords("no address".into()))
                } else {
                    Ok(v)
                }
            }
        }
    }

    /// The PTR names of an address (without the trailing dot); empty when none in time.
    pub async fn reverse(&self, ip: IpAddr) -> Vec<String> {
        let Ok(Ok(l)) = tokio::time::timeout(self.timeout, self.resolver.reverse_lookup(ip)).await
        else {
            return Vec::new();
        };
        let mut names: Vec<String> = l
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::PTR(p) => Some(p.to_string().trim_end_matches('.').to_string()),
                _ => None,
            })
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}
