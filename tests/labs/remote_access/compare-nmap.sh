#!/bin/bash
# Side by side: one clinicscan probe vs nmap's scripts on the same lab daemon, counting the
# TCP connections each makes (SYNs seen by tcpdump on the namespace's loopback) and the time.
#   compare-nmap.sh NS TEST_BINARY
# NS: a lab started with `lab.sh up DIR` (csr-lab); TEST_BINARY: the remote_access_lab test
# binary (`cargo test -p clinicscan-probe --test remote_access_lab --no-run` prints it).
# Root only.
set -u
NS=$1 BIN=$2
N="ip netns exec $NS"
tmp=$(mktemp -d /tmp/csr-compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

syns() { # port, command...: prints "<connections> <seconds>"
    port=$1; shift
    $N tcpdump -i lo -n -l "tcp dst port $port and tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn" >"$tmp/td" 2>/dev/null &
    td=$!; sleep 0.5
    s=$(date +%s.%N); "$@" >"$tmp/out" 2>&1; e=$(date +%s.%N)
    sleep 0.3; kill "$td"; wait "$td" 2>/dev/null
    echo "$(grep -c . "$tmp/td") $(echo "$e - $s" | bc)"
}

row() { # label port clinicscan-kind nmap-scripts
    c=$(syns "$2" $N env CLINICSCAN_LAB_PROBE="$3:$2" "$BIN" probe_one --exact --ignored --nocapture)
    m=$(syns "$2" $N nmap -Pn -n -sT -p "$2" --script "$4" 127.0.0.1)
    echo "$1 :$2 clinicscan(conns s)=$c nmap(conns s, incl. its port-scan connect)=$m"
}

row xrdp-negotiate 3389 rdp "+rdp-enum-encryption,+rdp-ntlm-info"
row xrdp-rdp-low 3390 rdp "+rdp-enum-encryption,+rdp-ntlm-info"
row xrdp-tls 3391 rdp "+rdp-enum-encryption,+rdp-ntlm-info"
row freerdp-nla 3392 rdp "+rdp-enum-encryption,+rdp-ntlm-info"
row samba-smb1 445 smb "+smb-protocols,+smb2-security-mode,+smb-os-discovery"
row samba-nt1-only 1445 smb "+smb-protocols,+smb2-security-mode,+smb-os-discovery"
row samba-signed 4445 smb "+smb-protocols,+smb2-security-mode,+smb-os-discovery"
row openssh 22 ssh "+ssh2-enum-algos,+banner"
row openssh-legacy 2222 ssh "+ssh2-enum-algos,+banner"
row vsftpd-anon 21 ftp "+ftp-anon"
row vsftpd-no-anon 2121 ftp "+ftp-anon"
row telnetd 23 telnet "+banner"
row xvnc-none 5901 vnc "+vnc-info"
row xvnc-vncauth 5902 vnc "+vnc-info"
