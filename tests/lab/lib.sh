# shellcheck shell=bash disable=SC2034
# Shared definitions of the clinicscan lab: namespaces, addresses, run dir, helpers.
# Sourced by tests/lab/{up,down,exec}. Everything the lab creates is a namespace named
# `cs-*` or a file under $LAB_RUN, so `down` can find and remove all of it.

LAB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_RUN="${CLINICSCAN_LAB_RUN:-/run/clinicscan-lab}"
LAB_PREFIX="cs-"
ROUTER_NS="${LAB_PREFIX}router"

# Segments: "zone bridge router-address/prefix". The router namespace owns one Linux
# bridge per segment; every host of the segment is a veth port of that bridge.
SEGMENTS=(
  "general         br-general  10.77.10.1/24"
  "clinical        br-clinical 10.77.20.1/24"
  "oqv             br-oqv      10.77.30.1/24"
  "medical-devices br-meddev   10.77.40.1/24"
  "guest           br-guest    10.77.50.1/24"
  "edge            br-edge     10.77.60.1/24"
)
SCALE_SEGMENT="scale br-scale 10.77.100.1/24"

# Hosts: "name zone address mac". One namespace per host: cs-<name>. mac "-" = random.
# A real vendor OUI is set where the lab wants a vendor name to be found
# (IEEE registry: 00:00:85 CANON INC., 88:B4:36 FUJIFILM Corporation).
HOSTS=(
  "scanner  general         10.77.10.10 -"
  "uketsuke general         10.77.10.20 -"
  "jimu     general         10.77.10.30 -"
  "printer  general         10.77.10.40 00:00:85:77:10:40"
  "emr      clinical        10.77.20.10 -"
  "pacs     clinical        10.77.20.20 -"
  "drpc     clinical        10.77.20.30 -"
  "legacy   clinical        10.77.20.40 -"
  "hostile  clinical        10.77.20.66 -"
  "oqv-bad  oqv             10.77.30.10 -"
  "oqv-ok   oqv             10.77.30.20 -"
  "modality medical-devices 10.77.40.10 88:b4:36:77:40:10"
  "devgw    medical-devices 10.77.40.20 -"
  "guest    guest           10.77.50.10 -"
  "ipsec    edge            10.77.60.10 -"
  "ovpn     edge            10.77.60.20 -"
  "ovpn-ta  edge            10.77.60.21 -"
  "sslvpn   edge            10.77.60.30 -"
  "anyconnect edge          10.77.60.40 -"
)
SCALE_HOST="scale scale 10.77.100.10 -"

log() { printf '[lab %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (network namespaces)"; }

# Namespace of a host: "scanner" -> "cs-scanner"; a full "cs-..." name is kept.
ns_of() {
  case "$1" in
    "$LAB_PREFIX"*) echo "$1" ;;
    *) echo "$LAB_PREFIX$1" ;;
  esac
}

# Our namespaces that exist now: exact prefix "cs-" (never a look-alike such as "csr-").
lab_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${LAB_PREFIX}[a-z0-9-]+$" || true
}

# The bridge of a zone.
bridge_of() {
  local s
  for s in "${SEGMENTS[@]}" "$SCALE_SEGMENT"; do
    # shellcheck disable=SC2086
    set -- $s
    if [ "$1" = "$ZONE_WANT" ]; then echo "$2"; return 0; fi
  done
  return 1
}

# One lab operation at a time (cargo may run tests in parallel): up and down hold an
# exclusive lock on this file. A nested call (up running down) inherits the lock.
lab_lock() {
  [ "${CLINICSCAN_LAB_LOCKED:-}" = 1 ] && return 0
  exec 9<"$LAB_DIR/lib.sh"
  if ! flock -w 300 9; then die "another lab up/down has held the lock for 5 minutes"; fi
  export CLINICSCAN_LAB_LOCKED=1
}
