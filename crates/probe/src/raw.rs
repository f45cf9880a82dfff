//! Privileged discovery: ICMP echo (raw sockets through socket2, driven by tokio's
//! `AsyncFd`, so no thread per probe) and ARP (a pnet datalink channel per interface with
//! one reader thread). Opening either without CAP_NET_RAW fails; the engine then falls back
//! to TCP pings and records a notice.
//!
//! Replies are matched to requests by content, never by guess: an echo reply must carry our
//! identifier and the target's address in its payload; an ARP reply must be an ARP reply
//! whose sender is the address asked for.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinicscan_wire::packet::{arp_reply, arp_request, echo_reply, echo_reply_v4, echo_request};
use pnet::datalink::{self, Channel, DataLinkSender, NetworkInterface};
use pnet::util::MacAddr;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::rtt::DiscoveryWait;

type Waiters<K, V> = Arc<Mutex<HashMap<K, Vec<oneshot::Sender<V>>>>>;

fn notify<K: std::hash::Hash + Eq, V: Clone>(w: &Waiters<K, V>, key: &K, v: V) {
    if let Ok(mut m) = w.lock()
        && let Some(list) = m.remove(key)
    {
        for tx in list {
            let _ = tx.send(v.clone());
        }
    }
}

/// ICMP / ICMPv6 echo with raw sockets. One reader thread per family (socket read
/// timeout 100 ms, stopped on drop); sending is a non-blocking `sendto` from the task.
pub(crate) struct IcmpPinger {
    v4: Option<Arc<Socket>>,
    v6: Option<Arc<Socket>>,
    ident: u16,
    seq: AtomicU16,
    waiters: Waiters<IpAddr, ()>,
    stop: Arc<AtomicBool>,
}

impl Drop for IcmpPinger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn raw_socket(domain: Domain, proto: Protocol) -> io::Result<Socket> {
    let s = Socket::new(domain, Type::RAW, Some(proto))?;
    s.set_read_timeout(Some(Duration::from_millis(100)))?;
    s.set_write_timeout(Some(Duration::from_millis(100)))?;
    Ok(s)
}

impl IcmpPinger {
    /// Opens raw ICMP sockets; `Err` when neither family is permitted.
    pub fn open() -> io::Result<Self> {
        let v4 = raw_socket(Domain::IPV4, Protocol::ICMPV4);
        let v6 = raw_socket(Domain::IPV6, Protocol::ICMPV6);
        let (v4, v6) = match (v4, v6) {
            (Err(e), Err(_)) => return Err(e),
            (a, b) => (a.ok().map(Arc::new), b.ok().map(Arc::new)),
        };
        let ident = (std::process::id() as u16) ^ 0x5a5a;
        let waiters: Waiters<IpAddr, ()> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        for (sock, v6) in [(v4.clone(), false), (v6.clone(), true)] {
            let Some(sock) = sock else { continue };
            let (w, stop) = (waiters.clone(), stop.clone());
            std::thread::Builder::new()
                .name(if v6 { "icmp6-rx" } else { "icmp-rx" }.into())
                .spawn(move || {
                    let mut buf = vec![0u8; 2048];
                    while !stop.load(Ordering::Relaxed) {
                        let n = match (&*sock).read(&mut buf) {
                            Ok(n) => n,
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                ) =>
                            {
                                continue;
                            }
                            Err(_) => {
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        };
                        let data = &buf[..n];
                        let hit = if v6 {
                            echo_reply(true, data, ident)
                        } else {
                            echo_reply_v4(data, ident)
                        };
                        if let Some(t) = hit {
                            notify(&w, &t, ());
                        }
                    }
                })?;
        }
        Ok(IcmpPinger {
            v4,
            v6,
            ident,
            seq: AtomicU16::new(1),
            waiters,
            stop,
        })
    }

    /// Whether echo can be sent to this family.
    pub fn supports(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => self.v4.is_some(),
            IpAddr::V6(_) => self.v6.is_some(),
        }
    }

    /// Sends one echo request (plus one retry half-way through the wait) and waits for
    /// the reply as long as the scan's discovery wait says.
    pub async fn ping(&self, target: IpAddr, wait: &DiscoveryWait) -> Option<Duration> {
        let sock = match target {
            IpAddr::V4(_) => self.v4.as_ref()?,
            IpAddr::V6(_) => self.v6.as_ref()?,
        };
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .ok()?
            .entry(target)
            .or_default()
            .push(tx);
        let start = Instant::now();
        let dst = SockAddr::from(SocketAddr::new(target, 0));
        let send = || {
            let seq = self.seq.fetch_add(1, Ordering::Relaxed);
            let pkt = echo_request(target.is_ipv6(), self.ident, seq, target);
            sock.send_to(&pkt, &dst).map(|_| ())
        };
        let answered = match send() {
            Ok(()) => match wait.with_retransmit(start, rx, send).await {
                Ok(Some(Ok(()))) => Some(start.elapsed()),
                _ => None,
            },
            Err(_) => None,
        };
        if answered.is_none()
            && let Ok(mut m) = self.waiters.lock()
        {
            m.remove(&target);
        }
        answered
    }
}

/// One open ARP channel on one interface.
struct ArpChannel {
    tx: Mutex<Box<dyn DataLinkSender>>,
    our_mac: MacAddr,
    our_ip: Ipv4Addr,
    waiters: Waiters<Ipv4Addr, MacAddr>,
    stop: Arc<AtomicBool>,
}

impl Drop for ArpChannel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// ARP requests on the local links.
#[derive(Default)]
pub(crate) struct ArpPinger {
    channels: Mutex<HashMap<u32, Arc<ArpChannel>>>,
}

impl ArpPinger {
    fn channel(&self, iface: &NetworkInterface, our_ip: Ipv4Addr) -> io::Result<Arc<ArpChannel>> {
        let mut map = self
            .channels
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?;
        if let Some(c) = map.get(&iface.index) {
            return Ok(c.clone());
        }
        let our_mac = iface
            .mac
            .ok_or_else(|| io::Error::other("interface has no MAC"))?;
        let cfg = datalink::Config {
            read_timeout: Some(Duration::from_millis(100)),
            ..datalink::Config::default()
        };
        let (tx, mut rx) = match datalink::channel(iface, cfg)? {
            Channel::Ethernet(tx, rx) => (tx, rx),
            _ => return Err(io::Error::other("not an Ethernet channel")),
        };
        let waiters: Waiters<Ipv4Addr, MacAddr> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (waiters.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("arp-{}", iface.name))
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    match rx.next() {
                        Ok(frame) => {
                            if let Some((ip, mac)) = arp_reply(frame) {
                                notify(&w, &ip, mac);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(20)),
                    }
                }
            })?;
        let c = Arc::new(ArpChannel {
            tx: Mutex::new(tx),
            our_mac,
            our_ip,
            waiters,
            stop,
        });
        map.insert(iface.index, c.clone());
        Ok(c)
    }

    /// ARP-pings `target` on `iface` (a request, and one more half-way through the wait);
    /// the MAC and the RTT when it answers.
    pub async fn ping(
        &self,
        iface: &NetworkInterface,
        our_ip: Ipv4Addr,
        target: Ipv4Addr,
        wait: &DiscoveryWait,
    ) -> io::Result<Option<(MacAddr, Duration)>> {
        let ch = self.channel(iface, our_ip)?;
        let (tx, rx) = oneshot::channel();
        ch.waiters
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .entry(target)
            .or_default()
            .push(tx);
        let frame = arp_request(ch.our_mac, ch.our_ip, target);
        let start = Instant::now();
        let send = || -> io::Result<()> {
            let mut t = ch.tx.lock().map_err(|_| io::Error::other("poisoned"))?;
            match t.send_to(&frame, None) {
                Some(r) => r,
                None => Err(io::Error::other("ARP send failed")),
            }
        };
        let result = match send() {
            Ok(()) => wait.with_retransmit(start, rx, send).await,
            Err(e) => Err(e),
        };
        let unanswered = match result {
            Ok(Some(Ok(mac))) => return Ok(Some((mac, start.elapsed()))),
            Ok(_) => Ok(None),
            Err(e) => Err(e),
        };
        // No answer (or a send error): our waiter is still registered.
        if let Ok(mut m) = ch.waiters.lock() {
            m.remove(&target);
        }
        unanswered
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac_string(mac: MacAddr) -> String {
    mac.to_string().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses_print_as_usual() {
        assert_eq!(
            mac_string(MacAddr::new(2, 0, 0, 0, 0xab, 1)),
            "02:00:00:00:ab:01"
        );
    }
}
