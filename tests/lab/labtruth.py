"""The lab's ground truth as data, and the rules that turn it into expectations.

Shared by tests/lab/verify (which proves the truth with real clients) and
tests/lab/compare.py (which holds a clinicscan Observation against it). Python 3.11
standard library only.
"""

import ipaddress
import json
import os
import re
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
TRUTH_FILE = os.path.join(HERE, "ground-truth.toml")
SCALE_FILE = os.path.join(HERE, "ground-truth-scale.json")
LAB_RUN = os.environ.get("CLINICSCAN_LAB_RUN", "/run/clinicscan-lab")

# Port states, as the Observation schema spells them.
OPEN, CLOSED, FILTERED, OPEN_FILTERED = "open", "closed", "filtered", "open-filtered"


class Truth:
    """The parsed ground truth, with lookups."""

    def __init__(self, path=TRUTH_FILE, scale_path=SCALE_FILE):
        with open(path, "rb") as f:
            self.raw = tomllib.load(f)
        self.lab = self.raw["lab"]
        self.zones = {z: ipaddress.ip_network(c) for z, c in self.raw["zones"].items()}
        self.vantages = self.raw["vantages"]
        self.reach = self.raw.get("reach", [])
        self.hosts = self.raw["host"]
        self.routers = self.raw.get("router", [])
        self.no_host = self.lab.get("no_host", [])
        self.scale = None
        if scale_path and os.path.exists(scale_path):
            with open(scale_path) as f:
                self.scale = json.load(f)
        self.by_addr = {h["address"]: h for h in self.hosts}

    def zone_of(self, addr):
        ip = ipaddress.ip_address(addr)
        for z, net in self.zones.items():
            if ip in net:
                return z
        return None

    def path_exists(self, vantage_zone, addr, transport, port, variant):
        """Whether the router (or the switch, in one zone) lets vantage_zone reach addr:port."""
        zone = self.zone_of(addr)
        if zone == vantage_zone:
            return True
        ip = ipaddress.ip_address(addr)
        for r in self.reach:
            if r["from"] != vantage_zone:
                continue
            if variant not in r.get("variants", [variant]):
                continue
            if ip not in ipaddress.ip_network(r["to"]):
                continue
            if r["ports"] == "all" or f"{transport}/{port}" in r["ports"]:
                return True
        return False

    def expected_port(self, vantage, addr, transport, port, variant):
        """The state a scanner at `vantage` must see for addr:port/transport.

        Returns one of open, closed, filtered, open-filtered, or None for an address where
        no host exists (nothing can be said about a port of a host that is not there).
        """
        vzone = vantage
        vaddr = self.vantages[vantage]["address"]
        if addr in self.no_host:
            return None
        if any(r["address"] == addr for r in self.routers):
            # A router address answers (RST / port unreachable) its own zone only.
            return CLOSED if self.zone_of(addr) == vzone else FILTERED
        if self.scale and addr in self.scale_hosts():
            sh = self.scale_hosts()[addr]
            if not self.path_exists(vzone, addr, transport, port, variant):
                return FILTERED
            if sh["state"] in ("filtered", "ping-only"):
                return FILTERED
            if transport == "tcp":
                return OPEN if port in sh["tcp_open"] else CLOSED
            return CLOSED
        h = self.by_addr.get(addr)
        if h is None:
            return None
        if addr == vaddr:
            # the scanner's own address: whatever listens there (nothing, in the lab)
            return OPEN if port in h.get(f"{transport}_listen", []) else CLOSED
        if not self.path_exists(vzone, addr, transport, port, variant):
            return FILTERED
        fw = h.get("firewall", "none")
        if fw in ("drop-all", "reject-all"):
            return FILTERED
        if fw == "own-segment" and self.zone_of(vaddr) != h["zone"]:
            return FILTERED
        if port in h.get(f"{transport}_listen", []):
            if transport == "udp" and port in h.get("udp_silent", []):
                return OPEN_FILTERED
            return OPEN
        return CLOSED

    def expected_host(self, vantage, addr, variant):
        """'up', 'down' or 'any' (the lab cannot say how a scanner must read it)."""
        if addr in self.no_host:
            return "down"
        vaddr = self.vantages[vantage]["address"]
        if self.zone_of(addr) == self.zone_of(vaddr):
            return "up"  # same segment: ARP answers even behind a host firewall
        sh = self.scale_hosts().get(addr)
        if sh is not None and sh["state"] == "ping-only":
            # answers ICMP echo (a scanner with raw sockets sees it), drops every TCP port
            return "up" if self.path_exists(self.zone_of(vaddr), addr, "tcp", 0, variant) else "down"
        h = self.by_addr.get(addr)
        if h is not None and h.get("firewall") == "reject-all":
            # answers every packet with ICMP admin-prohibited from its own address
            return "any" if self._any_path(vantage, addr, variant) else "down"
        states = [
            self.expected_port(vantage, addr, t, p, variant)
            for t, p in self.checked_ports()
        ]
        if self.scale and addr in self.scale_hosts():
            states += [self.expected_port(vantage, addr, "tcp", p, variant)
                       for p in self.scale["tcp_ports_pool"]]
        return "up" if any(s in (OPEN, CLOSED) for s in states) else "down"

    def _any_path(self, vantage, addr, variant):
        return any(self.path_exists(vantage, addr, t, p, variant) for t, p in self.checked_ports())

    def checked_ports(self):
        return [("tcp", p) for p in self.lab["tcp_ports"]] + [("udp", p) for p in self.lab["udp_ports"]]

    def scale_hosts(self):
        if not self.scale:
            return {}
        if not hasattr(self, "_scale_hosts"):
            self._scale_hosts = {h["address"]: h for h in self.scale["hosts"]}
        return self._scale_hosts

    def all_addresses(self, with_scale=False):
        addrs = [h["address"] for h in self.hosts] + [r["address"] for r in self.routers]
        if with_scale and self.scale:
            addrs += list(self.scale_hosts())
        return addrs

    def services(self):
        """(host, service) for every service block of the truth."""
        for h in self.hosts:
            for s in h.get("service", []):
                yield h, s


def current_variant():
    try:
        with open(os.path.join(LAB_RUN, "state", "variant")) as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


# ------------------------------------------------------------------ facts

MISSING = object()


FILTER = re.compile(r"^(\w+)\[(?:(\w+)=([^\]]*))?\]$")


def split_path(path):
    """Split a fact path at dots outside brackets: "tls.versions[version=TLSv1.0].x"."""
    parts, cur, depth = [], "", 0
    for ch in path:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "." and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def get_path(obj, path):
    """Value at a dotted path; "a[].b" maps over list a, "a[k=v].b" over the elements of a
    whose field k is v. MISSING when absent."""
    return _get(obj, split_path(path))


def _get(obj, parts):
    if not parts:
        return obj
    head, rest = parts[0], parts[1:]
    m = FILTER.match(head)
    if m:
        lst = obj.get(m.group(1), MISSING) if isinstance(obj, dict) else MISSING
        if lst is MISSING or lst is None:
            return MISSING
        if m.group(2):
            lst = [el for el in lst if isinstance(el, dict) and str(el.get(m.group(2))) == m.group(3)]
        out = []
        for el in lst:
            v = _get(el, rest)
            if v is MISSING:
                continue
            if isinstance(v, list):
                out.extend(v)
            else:
                out.append(v)
        return out
    if not isinstance(obj, dict) or head not in obj:
        return MISSING
    return _get(obj[head], rest)


def _norm(v):
    """Lists compare as sets (order and repeats do not matter)."""
    if isinstance(v, list):
        items = {json.dumps(_norm(x), sort_keys=True, ensure_ascii=False) for x in v}
        return sorted(items)
    return v


def match(expected, actual):
    """(ok, why) for one fact. `actual` may be MISSING or None (unknown)."""
    if isinstance(expected, dict):
        if expected.get("null"):
            ok = actual is MISSING or actual is None
            return ok, "" if ok else f"expected null (cannot be told), got {actual!r}"
        if actual is MISSING or actual is None:
            return False, "unknown (null/absent)"
        for key, want in expected.items():
            if key == "includes":
                lacking = [w for w in want if w not in (actual or [])]
                if lacking:
                    return False, f"lacks {lacking} (got {actual!r})"
            elif key == "excludes":
                extra = [w for w in want if w in (actual or [])]
                if extra:
                    return False, f"must not contain {extra} (got {actual!r})"
            elif key == "regex":
                if not isinstance(actual, str) or not re.search(want, actual):
                    return False, f"{actual!r} does not match /{want}/"
            elif key == "prefix":
                if not isinstance(actual, str) or not actual.startswith(want):
                    return False, f"{actual!r} does not start with {want!r}"
            else:
                return False, f"unknown matcher {key!r} in the ground truth"
        return True, ""
    if actual is MISSING or actual is None:
        return False, "unknown (null/absent)"
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False, f"expected a list {expected!r}, got {actual!r}"
        ok = _norm(expected) == _norm(actual)
        return ok, "" if ok else f"expected {sorted(set(map(str, expected)))}, got {sorted(set(map(str, actual)))}"
    ok = expected == actual and type(expected) is type(actual)
    return ok, "" if ok else f"expected {expected!r}, got {actual!r}"


# ------------------------------------------------------------------ command line

def expectations(truth, vantage, variant, with_scale=False):
    """What a scanner at `vantage` must see: per address, the host state and the ports that
    are not closed (open / filtered / open-filtered), over the lab's checked ports."""
    out = {}
    addrs = truth.all_addresses(with_scale) + truth.no_host
    for a in sorted(set(addrs), key=ipaddress.ip_address):
        ports = {}
        checked = truth.checked_ports()
        if with_scale and a in truth.scale_hosts():
            checked = [("tcp", p) for p in truth.scale["tcp_ports_pool"]]
        for t, p in checked:
            st = truth.expected_port(vantage, a, t, p, variant)
            if st not in (None, CLOSED):
                ports.setdefault(st, []).append(f"{p}/{t}")
        out[a] = {"host": truth.expected_host(vantage, a, variant), **ports}
    return out


def main():
    import argparse
    ap = argparse.ArgumentParser(description="Print what a scanner must see from a vantage "
                                 "(ports not listed are closed).")
    ap.add_argument("--vantage", choices=["general", "guest"], default="general")
    ap.add_argument("--variant", choices=["default", "isolated"], default="default")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t = Truth()
    exp = expectations(t, a.vantage, a.variant, a.scale)
    if a.json:
        print(json.dumps(exp, indent=1))
        return
    for addr, e in exp.items():
        h = t.by_addr.get(addr, {})
        n = len(t.checked_ports())
        rest = "  ".join(f"{k}: {'all' if len(v) == n else ','.join(v)}" for k, v in e.items() if k != "host")
        print(f"{addr:15} {h.get('name', ''):9} {e['host']:5} {rest}")


if __name__ == "__main__":
    main()
