//! ARP on the local link: a pnet datalink channel per interface with one reader thread.
//! Opening it without CAP_NET_RAW fails; the engine then falls back to the other pings and
//! records a notice. (ICMP echo and SYN pings go through the packet engine,
//! [`crate::sweep`].)
//!
//! Replies are matched to requests by content, never by guess: an ARP reply must be an ARP
//! reply whose sender is the address asked for.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clinicscan_wire::packet::{arp_reply, arp_request};
use pnet::datalink::{self, Channel, DataLinkSender, NetworkInterface};
use pnet::util::MacAddr;
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
