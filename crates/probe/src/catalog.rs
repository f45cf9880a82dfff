//! The curated clinic port list: the services that matter on a clinic LAN, their
//! conventional names, and which service probes are safe to run on each.
//!
//! Names from a port number are guesses and are labelled so (`Service::port_name`); only a
//! handshake sets `Service::protocol`.

use clinicscan_model::Transport;

use crate::proto::ProbeKind;

/// One well-known port of the clinic list.
#[derive(Debug, Clone, Copy)]
pub struct PortEntry {
    /// Port number.
    pub port: u16,
    /// TCP or UDP.
    pub transport: Transport,
    /// Conventional service name.
    pub name: &'static str,
    /// Why a clinic cares (category).
    pub category: &'static str,
    /// Service probes to run when the port is open, in order.
    pub(crate) probes: &'static [ProbeKind],
    /// Never send any byte to this port (raw printer ports print garbage).
    pub never_send: bool,
}

/// A port clinicscan may send bytes to: `probes` run there when it is open.
const fn entry(
    transport: Transport,
    port: u16,
    name: &'static str,
    category: &'static str,
    probes: &'static [ProbeKind],
) -> PortEntry {
    PortEntry {
        port,
        transport,
        name,
        category,
        probes,
        never_send: false,
    }
}

const fn tcp(
    port: u16,
    name: &'static str,
    category: &'static str,
    probes: &'static [ProbeKind],
) -> PortEntry {
    entry(Transport::Tcp, port, name, category, probes)
}

const fn udp(
    port: u16,
    name: &'static str,
    category: &'static str,
    probes: &'static [ProbeKind],
) -> PortEntry {
    entry(Transport::Udp, port, name, category, probes)
}

/// A raw printer port: never sent a byte (it would print it).
const fn printer(port: u16, name: &'static str) -> PortEntry {
    PortEntry {
        never_send: true,
        ..entry(Transport::Tcp, port, name, "printer", &[])
    }
}

use ProbeKind as P;

/// The default port list: remote access, VPN, file sharing, web admin, databases,
/// DICOM/HL7, printers, management.
pub const CLINIC_PORTS: &[PortEntry] = &[
    // file transfer, remote shells
    tcp(21, "ftp", "file-transfer", &[P::Ftp]),
    tcp(22, "ssh", "remote-access", &[P::Ssh]),
    tcp(23, "telnet", "remote-access", &[P::Telnet]),
    tcp(25, "smtp", "mail", &[P::SmtpStartTls]),
    tcp(80, "http", "web", &[P::Http]),
    tcp(81, "http-alt", "web", &[P::Http]),
    tcp(88, "kerberos", "directory", &[]),
    tcp(110, "pop3", "mail", &[]),
    tcp(111, "rpcbind", "management", &[]),
    tcp(135, "msrpc", "windows", &[]),
    tcp(139, "netbios-ssn", "file-sharing", &[]),
    tcp(143, "imap", "mail", &[]),
    tcp(389, "ldap", "directory", &[]),
    tcp(443, "https", "web", &[P::Tls, P::Https]),
    tcp(445, "microsoft-ds", "file-sharing", &[P::Smb]),
    tcp(465, "smtps", "mail", &[P::Tls]),
    printer(515, "printer"),
    tcp(548, "afp", "file-sharing", &[]),
    tcp(587, "submission", "mail", &[P::SmtpStartTls]),
    tcp(631, "ipp", "printer", &[P::Http]),
    tcp(636, "ldaps", "directory", &[P::Tls]),
    tcp(873, "rsync", "file-sharing", &[]),
    tcp(990, "ftps", "file-transfer", &[P::Tls]),
    tcp(993, "imaps", "mail", &[P::Tls]),
    tcp(995, "pop3s", "mail", &[P::Tls]),
    tcp(1080, "socks", "proxy", &[]),
    tcp(1194, "openvpn", "vpn", &[P::OpenVpnTcp]),
    tcp(1433, "ms-sql-s", "database", &[P::Mssql]),
    tcp(1521, "oracle", "database", &[]),
    tcp(1723, "pptp", "vpn", &[P::Pptp]),
    tcp(2049, "nfs", "file-sharing", &[]),
    tcp(2575, "hl7-mllp", "medical", &[]),
    tcp(3128, "squid-http", "proxy", &[P::Http]),
    tcp(3306, "mysql", "database", &[P::Mysql]),
    tcp(3389, "ms-wbt-server", "remote-access", &[P::Rdp]),
    tcp(4443, "https-alt", "web", &[P::Tls, P::Https]),
    tcp(4444, "krb524", "other", &[]),
    tcp(5000, "upnp", "web", &[P::Http]),
    tcp(5001, "https-nas", "web", &[P::Tls, P::Https]),
    tcp(5432, "postgresql", "database", &[P::Postgres]),
    tcp(5800, "vnc-http", "remote-access", &[P::Http]),
    tcp(5900, "vnc", "remote-access", &[P::Vnc]),
    tcp(5901, "vnc-1", "remote-access", &[P::Vnc]),
    tcp(5902, "vnc-2", "remote-access", &[P::Vnc]),
    tcp(5903, "vnc-3", "remote-access", &[P::Vnc]),
    tcp(5938, "teamviewer", "remote-access", &[]),
    tcp(5985, "wsman", "remote-access", &[P::Http]),
    tcp(5986, "wsmans", "remote-access", &[P::Tls]),
    tcp(6000, "x11", "remote-access", &[]),
    tcp(7070, "anydesk", "remote-access", &[]),
    tcp(8000, "http-alt", "web", &[P::Http]),
    tcp(8008, "http-alt", "web", &[P::Http]),
    tcp(8080, "http-proxy", "web", &[P::Http]),
    tcp(8081, "http-alt", "web", &[P::Http]),
    tcp(8443, "https-alt", "web", &[P::Tls, P::Https]),
    tcp(8888, "http-alt", "web", &[P::Http]),
    printer(9100, "jetdirect"),
    printer(9101, "jetdirect"),
    printer(9102, "jetdirect"),
    printer(9103, "jetdirect"),
    printer(9104, "jetdirect"),
    printer(9105, "jetdirect"),
    printer(9106, "jetdirect"),
    printer(9107, "jetdirect"),
    tcp(10443, "https-alt", "vpn", &[P::Tls, P::Https]),
    tcp(11112, "dicom", "medical", &[P::Dicom]),
    tcp(104, "dicom", "medical", &[P::Dicom]),
    tcp(4242, "dicom-alt", "medical", &[P::Dicom]),
    tcp(27017, "mongodb", "database", &[]),
    tcp(6379, "redis", "database", &[]),
    tcp(9200, "elasticsearch", "database", &[P::Http]),
    tcp(10000, "webmin", "web", &[P::Tls, P::Https]),
    udp(161, "snmp", "management", &[P::Snmp]),
    udp(500, "isakmp", "vpn", &[P::Ike]),
    udp(4500, "ipsec-nat-t", "vpn", &[P::Ike]),
    udp(1194, "openvpn", "vpn", &[P::OpenVpnUdp]),
    udp(1900, "ssdp", "management", &[P::Ssdp]),
];

/// The catalogue entry for a port, if it is on the clinic list.
pub fn port_entry(port: u16, transport: Transport) -> Option<&'static PortEntry> {
    CLINIC_PORTS
        .iter()
        .find(|e| e.port == port && e.transport == transport)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_port_is_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for e in CLINIC_PORTS {
            assert!(seen.insert((e.port, e.transport)), "duplicate {}", e.port);
        }
    }

    #[test]
    fn raw_printer_ports_are_never_probed() {
        for port in [515, 9100, 9101, 9107] {
            let e = port_entry(port, Transport::Tcp).unwrap();
            assert!(e.never_send && e.probes.is_empty(), "{port}");
        }
    }
}
