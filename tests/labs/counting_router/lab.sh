#!/usr/bin/env bash
# The counting-router lab, for the scope tests (crates/probe/tests/scope.rs): every packet the
# scanner sends crosses a router that counts it by destination. Three namespaces joined by
# veth pairs, with no route to any real network:
#
#  csx-scanner                csx-router                        csx-target
#  10.88.0.1/30 <-- veth --> 10.88.0.2/30                      10.88.9.2/30
#  IPv6 off                   10.88.9.1/30   <-- veth -->      on lo: 10.88.1.10 .20 .130 .200
#  routes 10.88.0.0/16, 8.0.0.0/8                                     10.88.2.10 .60 .100 .220
#    via the router           nftables (prerouting, from the     tcp/80 listens (socat)
#                             scanner's veth csx-sb): counter
#                             for daddr in scope (inscope),
#                             counter for daddr out of scope
#                             (outscope), set of every daddr
#                             seen (seen, with per-address
#                             counters), counter for any IPv6 (v6)
#
#   lab.sh up   DIR   build it (DIR: the listener's log)
#   lab.sh down DIR   stop the listener, delete the namespaces, /etc/netns/csx-scanner, DIR
#
# Names come from /etc/netns/csx-scanner/hosts (bind-mounted over /etc/hosts by `ip netns
# exec`); resolv.conf there names a server the scanner has no route to, so a lookup fails at
# once (ENETUNREACH) without a packet. Root only.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

S=csx-scanner
R=csx-router
T=csx-target
cmd=${1:-}
DIR=${2:?usage: lab.sh up|down DIR}
ETC=/etc/netns/$S

down() {
  ns_clean "$S" "$R" "$T"
  rm -rf "$ETC" "$DIR"
}

up() {
  down
  mkdir -p "$DIR"
  ip netns add "$S"
  ip netns add "$R"
  ip netns add "$T"
  ip -n "$S" link add csx-sa type veth peer name csx-sb netns "$R"
  ip -n "$R" link add csx-ta type veth peer name csx-tb netns "$T"
  ip netns exec "$S" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip netns exec "$S" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
  local spec
  for spec in "$S csx-sa 10.88.0.1/30" "$R csx-sb 10.88.0.2/30" \
              "$R csx-ta 10.88.9.1/30" "$T csx-tb 10.88.9.2/30"; do
    set -- $spec
    ip -n "$1" link set lo up
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$1" link set "$2" up
  done
  ip -n "$S" route add 10.88.0.0/16 via 10.88.0.2
  ip -n "$S" route add 8.0.0.0/8 via 10.88.0.2
  ip -n "$R" route add 10.88.1.0/24 via 10.88.9.2
  ip -n "$R" route add 10.88.2.0/24 via 10.88.9.2
  ip -n "$T" route add 10.88.0.0/16 via 10.88.9.1
  # live in scope: .1.10 .1.20 .2.10 .2.220; live out of scope: .1.130 .1.200 .2.60 .2.100
  local a
  for a in 10.88.1.10 10.88.1.20 10.88.2.10 10.88.2.220 10.88.1.130 10.88.1.200 10.88.2.60 10.88.2.100; do
    ip -n "$T" addr add "$a/32" dev lo
  done
  ip netns exec "$R" nft -f - <<'NFT'
table ip csx {
 counter inscope {}
 counter outscope {}
 set allowed { type ipv4_addr; flags interval; elements = { 10.88.1.0/25, 10.88.2.0-10.88.2.49, 10.88.2.201-10.88.2.255 } }
 set seen { type ipv4_addr; size 65535; flags dynamic; }
 chain pre { type filter hook prerouting priority -300; policy accept;
  iifname "csx-sb" ip daddr @allowed counter name "inscope"
  iifname "csx-sb" ip daddr != @allowed counter name "outscope"
  iifname "csx-sb" add @seen { ip daddr counter }
 }
}
table ip6 csx6 {
 counter v6 {}
 chain pre { type filter hook prerouting priority -300; policy accept;
  iifname "csx-sb" counter name "v6"
 }
}
NFT
  mkdir -p "$ETC"
  cat >"$ETC/hosts" <<'HOSTS'
127.0.0.1 localhost
10.88.1.20 csx-ok.test
10.88.2.100 csx-excluded.test
8.8.8.8 csx-public.test
HOSTS
  echo "nameserver 192.0.2.53" >"$ETC/resolv.conf"
  in_background "$T" http socat TCP-LISTEN:80,fork,reuseaddr "SYSTEM:printf 'HTTP/1.0 200 OK\\r\\n\\r\\n'"
  wait_tcp "$T" 80
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
