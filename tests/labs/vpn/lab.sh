#!/usr/bin/env bash
# The VPN / management / medical / database lab for the vpn_lab tests: one network
# namespace (csv-lab) joined to the root namespace by a veth pair on 10.231.147.0/29, with
# real daemons from Debian packages inside it. Nothing is routed anywhere else.
#
#   lab.sh up DIR     start everything (DIR: an empty work directory, e.g. mktemp -d)
#   lab.sh down DIR   stop what `up` started (by the pids it recorded) and delete the netns
#
# Addresses: root side 10.231.147.1, namespace side 10.231.147.2.
set -uo pipefail

NS=csv-lab
HOST_IF=csv-h0
NS_IF=csv-n0
HOST_IP=10.231.147.1
NS_IP=10.231.147.2
# A second namespace for the second charon (both want UDP 500/4500).
NS2=csv-lab2
HOST_IF2=csv-h1
NS_IF2=csv-n1
HOST_IP2=10.231.147.9
NS_IP2=10.231.147.10
cmd=${1:?up or down}
DIR=${2:?work directory}
inns() { ip netns exec "$NS" "$@"; }

wait_port() { # proto port
  for _ in $(seq 1 100); do
    if inns ss -lnH -"$1" "sport = :$2" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  echo "lab: nothing listening on $1 $2" >&2
  return 1
}

# Every process inside our two namespaces is one this script started.
ns_pids() { for n in "$NS" "$NS2"; do ip netns pids "$n" 2>/dev/null; done; }

down() {
  for pid in $(ns_pids); do kill "$pid" 2>/dev/null; done
  for _ in $(seq 1 30); do [ -z "$(ns_pids)" ] && break; sleep 0.1; done
  for pid in $(ns_pids); do kill -9 "$pid" 2>/dev/null; done
  if [ -d "$DIR" ]; then
    for f in "$DIR"/*.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f" 2>/dev/null)
      [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    sleep 0.5
    for f in "$DIR"/*.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f" 2>/dev/null)
      [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    done
  fi
  ip link del "$HOST_IF" 2>/dev/null
  ip link del "$HOST_IF2" 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  ip netns del "$NS2" 2>/dev/null
  true
}

pki() {
  local d=$DIR/pki
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=csv lab CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=csv-lab-server" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > "$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext" -out "$d/server.crt" 2>/dev/null
  openvpn --genkey secret "$d/ta.key" 2>/dev/null
}

charon() { # netns name port natt_port extra_conf
  local ns=$1
  shift
  local d=$DIR/$1
  mkdir -p "$d"
  cat > "$d/strongswan.conf" <<CONF
charon {
  port = $2
  port_nat_t = $3
  send_vendor_id = yes
  install_routes = no
  install_virtual_ip = no
  filelog { stderr { path = $d/charon.log
    default = 1 } }
  syslog { daemon { default = -1 } }
  plugins { vici { socket = unix://$d/vici } }
  $4
}
CONF
  # A private /run so that two charons (and the shared lab's) never clash on pid files.
  ( ip netns exec "$ns" unshare -m sh -c \
      "mount -t tmpfs tmpfs /run && STRONGSWAN_CONF=$d/strongswan.conf exec /usr/lib/ipsec/charon" \
      >"$d/out.log" 2>&1 & echo $! > "$DIR/charon-$1.pid" )
  for _ in $(seq 1 100); do [ -S "$d/vici" ] && break; sleep 0.1; done
  STRONGSWAN_CONF=$d/strongswan.conf swanctl --load-all --file "$d/swanctl.conf" --uri "unix://$d/vici" >"$d/load.log" 2>&1
}

up() {
  down
  mkdir -p "$DIR"
  ip netns add "$NS" || return 1
  ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS" || return 1
  ip addr add "$HOST_IP/29" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  inns ip addr add "$NS_IP/29" dev "$NS_IF"
  inns ip link set "$NS_IF" up
  inns ip link set lo up
  ip netns add "$NS2" || return 1
  ip link add "$HOST_IF2" type veth peer name "$NS_IF2" netns "$NS2" || return 1
  ip addr add "$HOST_IP2/29" dev "$HOST_IF2"
  ip link set "$HOST_IF2" up
  ip netns exec "$NS2" ip addr add "$NS_IP2/29" dev "$NS_IF2"
  ip netns exec "$NS2" ip link set "$NS_IF2" up
  ip netns exec "$NS2" ip link set lo up
  pki

  # ---- strongSwan: main mode + IKEv2 responder (aggressive PSK refused, the default)
  mkdir -p "$DIR/ikea" "$DIR/ikeb"
  cat > "$DIR/ikea/swanctl.conf" <<CONF
connections {
  v1 {
    version = 1
    proposals = aes256-sha256-modp2048, 3des-sha1-modp1024
    local { auth = psk
            id = vpn.csv.test }
    remote { auth = psk }
    children { c { local_ts = $NS_IP/32 } }
  }
  v2 {
    version = 2
    proposals = aes256-sha256-ecp256
    local { auth = psk
            id = vpn.csv.test }
    remote { auth = psk }
    children { c { local_ts = $NS_IP/32 } }
  }
}
secrets { ike-lab { secret = "csv-lab-not-a-real-secret" } }
CONF
  # block_threshold: a scan probes 500 and then 4500 from one address, which passes
  # strongSwan's default of 5 half-open IKE_SAs per peer (the later probes then go
  # unanswered, correctly reported as null). The cookie threshold stays at its default.
  charon "$NS" ikea 500 4500 "block_threshold = 100"
  # ---- strongSwan with IKEv1 aggressive mode PSK allowed, in the second namespace
  cat > "$DIR/ikeb/swanctl.conf" <<CONF
connections {
  agg {
    version = 1
    aggressive = yes
    proposals = aes128-sha1-modp1024
    local { auth = psk
            id = vpn.csv.test }
    remote { auth = psk }
    children { c { local_ts = $NS_IP2/32 } }
  }
}
secrets { ike-lab { secret = "csv-lab-not-a-real-secret" } }
CONF
  charon "$NS2" ikeb 500 4500 "i_dont_care_about_security_and_use_aggressive_mode_psk = yes"

  # ---- OpenVPN: UDP and TCP without tls-auth, UDP with tls-auth
  local p=$DIR/pki n=0
  for spec in "udp 1194" "tcp-server 1194" "udp 1195 tls-auth"; do
    set -- $spec
    n=$((n + 1))
    extra=""
    [ "${3:-}" = tls-auth ] && extra="--tls-auth $p/ta.key 0"
    inns openvpn --mode server --tls-server --proto "$1" --local "$NS_IP" --port "$2" \
      --dev-type tun --dev "csvtun$n" --topology subnet --ifconfig "10.231.$((150 + n)).1" 255.255.255.0 \
      --ca "$p/ca.crt" --cert "$p/server.crt" --key "$p/server.key" --dh none \
      --verb 3 --log "$DIR/openvpn$n.log" --writepid "$DIR/openvpn$n.pid" $extra --daemon "csv-openvpn$n"
  done

  # ---- pptpd
  cat > "$DIR/pptpd.conf" <<CONF
option $DIR/pptpd-options
localip 10.231.160.1
remoteip 10.231.160.10-20
listen $NS_IP
CONF
  echo "name csv-pptpd" > "$DIR/pptpd-options"
  ip netns exec "$NS" pptpd -f -c "$DIR/pptpd.conf" -o "$DIR/pptpd-options" -p "$DIR/pptpd-inner.pid" >"$DIR/pptpd.log" 2>&1 &
  echo $! > "$DIR/pptpd.pid"

  # ---- snmpd (read-only community public)
  mkdir -p "$DIR/snmp"
  cat > "$DIR/snmpd.conf" <<CONF
rocommunity public
sysdescr clinicscan lab snmpd
sysname csv-snmp
syslocation csv lab
CONF
  ip netns exec "$NS" env SNMP_PERSISTENT_DIR="$DIR/snmp" snmpd -f -Lf "$DIR/snmpd.log" -C -c "$DIR/snmpd.conf" \
    -p "$DIR/snmpd-inner.pid" "udp:$NS_IP:161" &
  echo $! > "$DIR/snmpd.pid"

  # ---- DICOM: storescp accepts any AE; dcmqrscp refuses unknown calling AEs
  mkdir -p "$DIR/dicom-in" "$DIR/dicom-db"
  ip netns exec "$NS" storescp --aetitle ANY-SCP --output-directory "$DIR/dicom-in" 11112 >"$DIR/storescp.log" 2>&1 &
  echo $! > "$DIR/storescp.pid"
  cat > "$DIR/dcmqrscp.cfg" <<CONF
NetworkTCPPort  = 11113
MaxPDUSize      = 16384
MaxAssociations = 4
HostTable BEGIN
knownpeer = (KNOWN_MODALITY, 10.231.147.1, 104)
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
ANY-SCP  $DIR/dicom-db  R  (10, 1024mb)  knownpeer
AETable END
CONF
  ip netns exec "$NS" dcmqrscp -c "$DIR/dcmqrscp.cfg" >"$DIR/dcmqrscp.log" 2>&1 &
  echo $! > "$DIR/dcmqrscp.pid"

  # ---- PostgreSQL: ssl off on 5432 and anyone may log in as anyone without a password
  # (trust: the critical finding); ssl on on 5433, remote logins over TLS with SCRAM only
  install -d -o postgres -g postgres "$DIR/pg"
  runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$DIR/pg/data" -U postgres --auth=trust >"$DIR/pg/initdb.log" 2>&1
  install -o postgres -m 600 "$p/server.key" "$DIR/pg/server.key"
  install -o postgres -m 644 "$p/server.crt" "$DIR/pg/server.crt"
  for spec in "5432 off" "5433 on"; do
    set -- $spec
    cp -a "$DIR/pg/data" "$DIR/pg/data$1"
    if [ "$2" = off ]; then
      echo "host all all 0.0.0.0/0 trust" >>"$DIR/pg/data$1/pg_hba.conf"
    else
      echo "hostssl all all 0.0.0.0/0 scram-sha-256" >>"$DIR/pg/data$1/pg_hba.conf"
    fi
    ip netns exec "$NS" runuser -u postgres -- /usr/lib/postgresql/15/bin/postgres -D "$DIR/pg/data$1" -p "$1" \
      -c listen_addresses="$NS_IP" -c unix_socket_directories="$DIR/pg" -c ssl="$2" \
      -c ssl_cert_file="$DIR/pg/server.crt" -c ssl_key_file="$DIR/pg/server.key" \
      >"$DIR/pg/$1.log" 2>&1 &
    echo $! > "$DIR/postgres$1.pid"
  done

  # ---- MariaDB: greeting on 3306, with TLS on 3307, host not allowed on 3308
  mkdir -p "$DIR/my"
  mariadb-install-db --no-defaults --datadir="$DIR/my/base" --user=root --auth-root-authentication-method=normal \
    --skip-test-db >"$DIR/my/install.log" 2>&1
  for spec in "3306 open" "3307 ssl" "3308 blocked"; do
    set -- $spec
    cp -a "$DIR/my/base" "$DIR/my/data$1"
    extra=(--skip-name-resolve)
    [ "$2" = ssl ] && extra+=(--ssl-cert="$p/server.crt" --ssl-key="$p/server.key" --ssl-ca="$p/ca.crt")
    init=""
    [ "$2" != blocked ] && { echo "CREATE USER 'app'@'10.231.147.%' IDENTIFIED BY 'csv-not-a-secret';" > "$DIR/my/init$1.sql"; init="--init-file=$DIR/my/init$1.sql"; }
    ip netns exec "$NS" mariadbd --no-defaults --user=root --datadir="$DIR/my/data$1" --port="$1" --bind-address="$NS_IP" \
      --socket="$DIR/my/sock$1" --pid-file="$DIR/my/inner$1.pid" --log-error="$DIR/my/err$1.log" \
      "${extra[@]}" $init &
    echo $! > "$DIR/mariadb$1.pid"
  done

  # ---- SSDP: minidlna answering M-SEARCH on UDP 1900
  if command -v minidlnad >/dev/null; then
    mkdir -p "$DIR/dlna/media" "$DIR/dlna/db"
    cat > "$DIR/minidlna.conf" <<CONF
network_interface=$NS_IF
port=8200
media_dir=$DIR/dlna/media
db_dir=$DIR/dlna/db
log_dir=$DIR/dlna
friendly_name=csv-lab-dlna
uuid=4d696e69-444c-164e-9d41-000000c5a1ab
CONF
    ip netns exec "$NS" minidlnad -d -f "$DIR/minidlna.conf" -P "$DIR/dlna/inner.pid" >"$DIR/dlna/out.log" 2>&1 &
    echo $! > "$DIR/minidlna.pid"
  fi

  local ok=0
  wait_port u 500 || ok=1
  ip netns exec "$NS2" ss -lnHu "sport = :500" | grep -q . || ok=1
  wait_port u 1194 || ok=1
  wait_port t 1194 || ok=1
  wait_port u 1195 || ok=1
  wait_port t 1723 || ok=1
  wait_port u 161 || ok=1
  wait_port t 11112 || ok=1
  wait_port t 11113 || ok=1
  wait_port t 5432 || ok=1
  wait_port t 5433 || ok=1
  wait_port t 3306 || ok=1
  wait_port t 3307 || ok=1
  wait_port t 3308 || ok=1
  command -v minidlnad >/dev/null && { wait_port u 1900 || ok=1; }
  return $ok
}

case "$cmd" in
  up) up ;;
  down) down; rm -rf "$DIR" ;;
  *) echo "usage: lab.sh up|down DIR" >&2; exit 2 ;;
esac
