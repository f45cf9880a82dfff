#!/usr/bin/env bash
# The port-states lab, for the engine's tests (crates/probe/tests/engine.rs): a scanner
# namespace and a target namespace joined by one veth pair and nothing else (no route to any
# real network).
#
#   lab.sh up   DIR   build it (DIR: logs of the listeners)
#   lab.sh down DIR   stop the listeners, delete both namespaces, /etc/netns/cse-scanner, DIR
#
#  cse-scanner                          cse-target
#  10.250.0.1/16  <-- veth -->  10.250.0.2/16, 10.250.3.4/16
#                               tcp/80, tcp/22 listen (socat)
#                               tcp/81 dropped by nftables       -> filtered / no-response
#                               tcp/82 rejected admin-prohibited -> filtered / icmp-unreachable
#                               tcp/83 nothing                   -> closed / reset
#  10.250.0.3 and every other address: no host                   -> down, not port-scanned
#  fd77::1/64                           fd77::2/64 (same rules, ICMPv6 admin-prohibited)
#  route 10.251.0.0/24 via 10.250.0.2 -> 10.251.0.1 (ICMP dropped: found by TCP ping)
#                                        10.251.0.2 (all TCP dropped: found by echo)
#
# Names for the name-resolution test: /etc/netns/cse-scanner/hosts, which `ip netns exec`
# bind-mounts over /etc/hosts. Root only.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

S=cse-scanner
T=cse-target
cmd=${1:-}
DIR=${2:?usage: lab.sh up|down DIR}
ETC=/etc/netns/$S

down() {
  ns_clean "$S" "$T"
  rm -rf "$ETC" "$DIR"
}

up() {
  down
  mkdir -p "$DIR"
  ip netns add "$S"
  ip netns add "$T"
  ip -n "$S" link add cse-veth-s type veth peer name cse-veth-t netns "$T"
  local ns dev addr
  for spec in "$S cse-veth-s 10.250.0.1/16 fd77::1/64" \
              "$T cse-veth-t 10.250.0.2/16 10.250.3.4/16 fd77::2/64"; do
    set -- $spec
    ns=$1 dev=$2
    shift 2
    ip -n "$ns" link set lo up
    for addr in "$@"; do
      # no duplicate address detection: usable at once
      ip -n "$ns" addr add "$addr" dev "$dev" nodad
    done
    ip -n "$ns" link set "$dev" up
  done
  # two routed (not on-link) hosts behind the target namespace
  ip -n "$T" addr add 10.251.0.1/32 dev lo
  ip -n "$T" addr add 10.251.0.2/32 dev lo
  ip -n "$S" route add 10.251.0.0/24 via 10.250.0.2
  ip netns exec "$T" nft -f - <<'NFT'
table inet cse {
 chain input {
  type filter hook input priority 0; policy accept;
  ip daddr 10.251.0.2 meta l4proto tcp drop
  tcp dport 81 drop
  tcp dport 82 reject with icmpx type admin-prohibited
  ip daddr != 10.251.0.2 meta l4proto icmp drop
 }
}
NFT
  mkdir -p "$ETC"
  cat >"$ETC/hosts" <<'HOSTS'
127.0.0.1 localhost
10.250.0.2 cse-target.test
10.250.0.3 cse-excluded.test
8.8.8.8 cse-public.test
10.250.3.4 cse-second.test
HOSTS
  in_background "$T" http socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 \
    "SYSTEM:printf 'HTTP/1.0 200 OK\\r\\n\\r\\n'; sleep 1"
  in_background "$T" ssh socat TCP6-LISTEN:22,fork,reuseaddr,ipv6only=0 \
    "SYSTEM:printf 'SSH-2.0-cse_test\\r\\n'; sleep 1"
  wait_tcp "$T" 80 22
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
