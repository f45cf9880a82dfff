# What the small labs' scripts share (sourced by tests/labs/*/lab.sh, bash).

# ns_clean NS...: stop every process inside these namespaces (the lab started all of them:
# nothing else runs in a lab's namespace), then delete them, which removes their veths.
ns_clean() {
  local ns pid
  for ns in "$@"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  done
  for _ in $(seq 1 30); do
    [ -z "$(for ns in "$@"; do ip netns pids "$ns" 2>/dev/null; done)" ] && break
    sleep 0.1
  done
  for ns in "$@"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

# wait_tcp NS PORT...: until every port listens in NS (5 s at most; 1 if one never does).
wait_tcp() {
  local ns=$1 port
  shift
  for port in "$@"; do
    for _ in $(seq 1 100); do
      ip netns exec "$ns" ss -ltnH "sport = :$port" 2>/dev/null | grep -q . && continue 2
      sleep 0.05
    done
    echo "lab: nothing listens on tcp/$port in $ns" >&2
    return 1
  done
}

# in_background NS NAME CMD...: CMD in NS, in the background, its output in DIR/NAME.log.
in_background() {
  local ns=$1 name=$2
  shift 2
  ip netns exec "$ns" "$@" </dev/null >"$DIR/$name.log" 2>&1 &
}
