#!/bin/sh
# The remote-access lab: real daemons in a private network namespace, on its own loopback.
#   lab.sh up   DIR   start every daemon in namespace csr-lab (created here), state in DIR
#   lab.sh down DIR   stop them (by the pids recorded in DIR) and delete csr-lab and DIR
# Nothing here has a route to any real interface: the namespace has only `lo`.
# Ports (all on 127.0.0.1 inside NS):
#   21 vsftpd anonymous + AUTH TLS      2121 vsftpd no anonymous, no TLS
#   22 OpenSSH defaults                 2222 OpenSSH with legacy algorithms enabled
#   23 inetutils telnetd (via socat)
#   445 samba, SMB1 (NT1) on, signing default   4445 samba SMB2+ only, signing mandatory
#   1445 samba SMB1 only (server max protocol = NT1); [guest] and [emr-export-2026]
#        guest-readable, [pub] not
#   3389 xrdp security_layer=negotiate  3390 xrdp security_layer=rdp, crypt_level=low
#   3391 xrdp security_layer=tls
#   3392 freerdp-shadow-cli, NLA only (under Xvfb)
#   5901 Xvnc SecurityTypes=None        5902 Xvnc SecurityTypes=VncAuth
set -eu
NS=csr-lab
cmd=${1:-} DIR=${2:?usage: lab.sh up|down DIR}

inns() { ip netns exec "$NS" "$@"; }
free_display() { # the first X display number from 71 up that nobody holds; recorded for down
    d=71
    while [ -e "/tmp/.X$d-lock" ] || [ -e "/tmp/.X11-unix/X$d" ] || grep -qx "$d" "$DIR/displays" 2>/dev/null; do
        d=$((d+1))
    done
    echo "$d" >>"$DIR/displays"
    echo "$d"
}
bg() { # name, command...: start in the namespace in the background, record the pid
    name=$1; shift
    # a simple command run in the background: $! is setsid, which execs `ip netns exec`,
    # which execs the daemon; its own session keeps its signals away from whoever ran us
    setsid ip netns exec "$NS" "$@" </dev/null >"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.pid"
}

down() {
    for p in "$DIR"/*.pid; do
        [ -f "$p" ] || continue
        pid=$(cat "$p")
        # the recorded pid is the `ip netns exec` wrapper that became the daemon (exec),
        # or a shell whose children we kill first
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 0.3
    for p in "$DIR"/*.pid; do
        [ -f "$p" ] || continue
        pid=$(cat "$p")
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
    done
    # anything still running inside the namespace was started by this lab
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    # X servers killed hard leave their display locks behind
    for d in $(cat "$DIR/displays" 2>/dev/null); do rm -f "/tmp/.X$d-lock" "/tmp/.X11-unix/X$d"; done
    rm -rf "$DIR"
}

up() {
    # whatever an interrupted run left behind (the namespace name is fixed)
    down
    mkdir -p "$DIR"; chmod 755 "$DIR"
    ip netns add "$NS"
    inns ip link set lo up

    # --- TLS material shared by vsftpd and xrdp
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=csr-lab" \
        -keyout "$DIR/key.pem" -out "$DIR/cert.pem" 2>/dev/null

    # --- OpenSSH
    mkdir -p /run/sshd /run/xrdp
    ssh-keygen -q -t ed25519 -N '' -f "$DIR/ssh_ed25519"
    ssh-keygen -q -t rsa -b 2048 -N '' -f "$DIR/ssh_rsa"
    cat >"$DIR/sshd.conf" <<C
Port 22
ListenAddress 127.0.0.1
HostKey $DIR/ssh_ed25519
HostKey $DIR/ssh_rsa
PidFile $DIR/sshd.pidfile
UsePAM no
C
    cat >"$DIR/sshd-legacy.conf" <<C
Port 2222
ListenAddress 127.0.0.1
HostKey $DIR/ssh_rsa
PidFile $DIR/sshd-legacy.pidfile
UsePAM no
KexAlgorithms +diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1
HostKeyAlgorithms +ssh-rsa
Ciphers +aes128-cbc,3des-cbc
MACs +hmac-sha1-96,hmac-md5,umac-64@openssh.com
C
    bg sshd /usr/sbin/sshd -D -e -f "$DIR/sshd.conf"
    bg sshd-legacy /usr/sbin/sshd -D -e -f "$DIR/sshd-legacy.conf"

    # --- vsftpd
    mkdir -p "$DIR/ftp-empty" "$DIR/ftp-root"
    cat >"$DIR/vsftpd.conf" <<C
listen=YES
listen_address=127.0.0.1
listen_port=21
background=NO
anonymous_enable=YES
anon_root=$DIR/ftp-root
local_enable=NO
write_enable=NO
secure_chroot_dir=$DIR/ftp-empty
ftpd_banner=csr-lab FTP ready
ssl_enable=YES
allow_anon_ssl=YES
rsa_cert_file=$DIR/cert.pem
rsa_private_key_file=$DIR/key.pem
seccomp_sandbox=NO
# vsftpd's own log (CONNECT, OK LOGIN, FAIL LOGIN): the test reads it
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file=$DIR/vsftpd-events.log
C
    cat >"$DIR/vsftpd-closed.conf" <<C
listen=YES
listen_address=127.0.0.1
listen_port=2121
background=NO
anonymous_enable=NO
local_enable=YES
pam_service_name=vsftpd
secure_chroot_dir=$DIR/ftp-empty
seccomp_sandbox=NO
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file=$DIR/vsftpd-closed-events.log
C
    bg vsftpd /usr/sbin/vsftpd "$DIR/vsftpd.conf"
    bg vsftpd-closed /usr/sbin/vsftpd "$DIR/vsftpd-closed.conf"

    # --- telnetd: socat hands the accepted TCP socket to telnetd as stdin/stdout (nofork)
    bg telnetd socat TCP-LISTEN:23,bind=127.0.0.1,reuseaddr,fork EXEC:"/usr/sbin/telnetd -h",nofork

    # --- samba
    for s in smb1 signed; do
        mkdir -p "$DIR/$s/lock" "$DIR/$s/state" "$DIR/$s/cache" "$DIR/$s/private" "$DIR/$s/pid" "$DIR/$s/share"
    done
    cat >"$DIR/smb1.conf" <<C
[global]
workgroup = CSRLAB
netbios name = CSRSMB1
server string = csr lab
smb ports = 445
interfaces = lo
bind interfaces only = yes
server min protocol = NT1
server signing = default
map to guest = Bad User
lock directory = $DIR/smb1/lock
state directory = $DIR/smb1/state
cache directory = $DIR/smb1/cache
private dir = $DIR/smb1/private
pid directory = $DIR/smb1/pid
ncalrpc dir = $DIR/smb1/ncalrpc
log file = $DIR/smb1/log
# every authentication, successful or not, is logged (auth_audit): the test reads it
log level = 1 auth_audit:3
disable spoolss = yes
load printers = no
[pub]
path = $DIR/smb1/share
read only = yes
# guest-readable: an anonymous session lists it (two files); [pub] it may not enter
[guest]
comment = guest files
path = $DIR/smb1/guest
read only = yes
guest ok = yes
C
    mkdir -p "$DIR/smb1/guest"
    echo one >"$DIR/smb1/guest/one.txt"
    echo two >"$DIR/smb1/guest/two.txt"
    cat >"$DIR/signed.conf" <<C
[global]
workgroup = CSRLAB
netbios name = CSRSIGNED
smb ports = 4445
interfaces = lo
bind interfaces only = yes
server min protocol = SMB2_10
server signing = mandatory
lock directory = $DIR/signed/lock
state directory = $DIR/signed/state
cache directory = $DIR/signed/cache
private dir = $DIR/signed/private
pid directory = $DIR/signed/pid
ncalrpc dir = $DIR/signed/ncalrpc
log file = $DIR/signed/log
# every authentication, successful or not, is logged (auth_audit): the test reads it
log level = 1 auth_audit:3
disable spoolss = yes
load printers = no
C
    # an SMB1-only server (an old NAS or Windows XP): NT1 is both minimum and maximum
    sed -e "s|^smb ports = 445|smb ports = 1445|" -e "s|^netbios name = CSRSMB1|netbios name = CSRNT1|" \
        -e "s|^server min protocol = NT1|server min protocol = NT1\nserver max protocol = NT1|" \
        -e "s|$DIR/smb1/|$DIR/nt1/|g" "$DIR/smb1.conf" >"$DIR/nt1.conf"
    mkdir -p "$DIR/nt1/lock" "$DIR/nt1/state" "$DIR/nt1/cache" "$DIR/nt1/private" "$DIR/nt1/pid" "$DIR/nt1/share"
    # its [guest] (an old NAS's export share) holds three files: the SMB1 listing counts them
    mkdir -p "$DIR/nt1/guest"
    for f in export-1 export-2 export-3; do echo "$f" >"$DIR/nt1/guest/$f.txt"; done
    # a guest share whose name is longer than RAP's 12 characters (MS-RAP share_info_1)
    cat >>"$DIR/nt1.conf" <<C
[emr-export-2026]
path = $DIR/nt1/guest
read only = yes
guest ok = yes
C
    bg smbd-nt1 /usr/sbin/smbd -F --no-process-group --configfile="$DIR/nt1.conf"
    bg smbd-smb1 /usr/sbin/smbd -F --no-process-group --configfile="$DIR/smb1.conf"
    bg smbd-signed /usr/sbin/smbd -F --no-process-group --configfile="$DIR/signed.conf"

    # --- xrdp: one instance per security layer, each in its own mount namespace so its
    # compiled-in pid file (/run/xrdp) does not meet anyone else's
    if [ ! -f "$DIR/rsakeys.ini" ]; then xrdp-keygen xrdp "$DIR/rsakeys.ini" >/dev/null 2>&1 || true; fi
    # the standard-RDP-only instance also runs crypt_level=low (client may pick 40-bit)
    for v in negotiate:3389:high rdp:3390:low tls:3391:high; do
        layer=${v%%:*} rest=${v#*:} port=${rest%%:*} crypt=${v##*:}
        sed -e "s|^crypt_level=.*|crypt_level=$crypt|" \
            -e "0,/^port=/s|^port=.*|port=tcp://127.0.0.1:$port|" \
            -e "s|^security_layer=.*|security_layer=$layer|" \
            -e "s|^certificate=.*|certificate=$DIR/cert.pem|" \
            -e "s|^key_file=.*|key_file=$DIR/key.pem|" \
            /etc/xrdp/xrdp.ini >"$DIR/xrdp-$layer.ini"
        bg "xrdp-$layer" unshare -m sh -c "mount -t tmpfs csr-xrdp /run/xrdp && mount --bind $DIR/rsakeys.ini /etc/xrdp/rsakeys.ini && exec /usr/sbin/xrdp --nodaemon --config $DIR/xrdp-$layer.ini"
    done

    # --- freerdp shadow server requiring NLA, under a private Xvfb
    dfb=$(free_display)
    bg xvfb Xvfb ":$dfb" -nolisten tcp -screen 0 640x480x24
    i=0
    while [ ! -S "/tmp/.X11-unix/X$dfb" ] && [ $i -lt 50 ]; do i=$((i+1)); sleep 0.1; done
    printf 'csr:::8846f7eaee8fb117ad06bdd830b7586c:::\n' >"$DIR/sam"
    # the X server may accept its socket before it serves clients: retry the shadow server
    for attempt in 1 2 3 4 5; do
        bg shadow env DISPLAY=":$dfb" HOME="$DIR" freerdp-shadow-cli /bind-address:127.0.0.1 /port:3392 /sec:nla /sam-file:"$DIR/sam"
        i=0
        while [ $i -lt 20 ] && ! inns bash -c "exec 3<>/dev/tcp/127.0.0.1/3392" 2>/dev/null; do i=$((i+1)); sleep 0.1; done
        [ $i -lt 20 ] && break
        kill "$(cat "$DIR/shadow.pid")" 2>/dev/null || true
        sleep 0.3
    done

    # --- Xvnc
    # the VNC password file is the password DES-encrypted with RFB's fixed key (vncpasswd -f)
    printf 'csrlab12' | openssl enc -des-ecb -K e84ad660c4721ae0 -nopad -nosalt \
        -provider legacy -provider default >"$DIR/vncpasswd"
    bg xvnc-none Xvnc ":$(free_display)" -rfbport 5901 -interface 127.0.0.1 -nolisten tcp -SecurityTypes None -geometry 320x200
    bg xvnc-auth Xvnc ":$(free_display)" -rfbport 5902 -interface 127.0.0.1 -nolisten tcp -SecurityTypes VncAuth -PasswordFile "$DIR/vncpasswd" -geometry 320x200

    # wait (bounded) for every port
    for port in 21 2121 22 2222 23 445 1445 4445 3389 3390 3391 3392 5901 5902; do
        i=0
        while ! inns bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; do
            i=$((i+1)); [ $i -gt 50 ] && { echo "port $port did not open" >&2; break; }
            sleep 0.2
        done
    done
}

case "$cmd" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
