#!/usr/bin/env python3
"""Hold a clinicscan Observation against the clinic lab's ground truth.

    tests/lab/compare.py OBSERVATION.json [--vantage general|guest] [--variant V]
                         [--strict-facts] [--run-dir DIR] [--json FILE] [-q]

Prints every mismatch and exits 1 if there is any. Checked, for the addresses the scan
targeted (scan.options.targets; everything in the lab when they cannot be read):
  - hosts: every host the truth says is up from this vantage is reported up; no address
    where nothing answers (no host, or all filtered) is reported up;
  - ports: every port the truth says is open is reported open; every port reported is in
    the state the truth gives (so a false "open" is a mismatch);
  - facts: every fact of the truth (facts.<proto>.<field>) for a reachable service;
  - ports no scanner may send to (the raw printer port) carry no probe result, and, with
    --run-dir (default: the lab's run dir, when it exists), received no byte.
Facts whose protocol block the Observation lacks are "not yet supported" (the scanner has
no probe for them yet), and a fact left null is "unknown"; both count as mismatches only
with --strict-facts. UDP ports are "not yet supported" when the Observation has no UDP
result at all. Python 3.11 standard library only; the Observation schema is
crates/model/schemas/observation.v1.json.
"""

import argparse
import ipaddress
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labtruth as L  # noqa: E402

SCHEMA = "clinicscan/observation/v1"


class Result:
    def __init__(self, quiet):
        self.mismatches, self.unsupported, self.unknown, self.oks = [], [], [], 0
        self.quiet = quiet

    def ok(self, msg):
        self.oks += 1
        if not self.quiet:
            print(f"  ok            {msg}")

    def mismatch(self, msg):
        self.mismatches.append(msg)
        print(f"  MISMATCH      {msg}")

    def not_supported(self, msg):
        self.unsupported.append(msg)
        if not self.quiet:
            print(f"  not yet supported  {msg}")

    def unknown_fact(self, msg):
        self.unknown.append(msg)
        if not self.quiet:
            print(f"  unknown       {msg}")


def parse_targets(targets):
    """Networks the scan targeted; None when none can be read (assume the whole lab)."""
    nets = []
    for t in targets or []:
        t = t.strip()
        try:
            nets.append(ipaddress.ip_network(t, strict=False))
            continue
        except ValueError:
            pass
        if "-" in t:
            a, b = t.split("-", 1)
            try:
                start = ipaddress.ip_address(a)
                end = ipaddress.ip_address(b) if "." in b else ipaddress.ip_address(
                    a.rsplit(".", 1)[0] + "." + b)
                nets.extend(ipaddress.summarize_address_range(start, end))
            except ValueError:
                pass
    return nets or None


def parse_ports(spec):
    """TCP ports of a numeric port spec ("1-1024,3389"); None for a named list ("clinic")."""
    if not spec or not any(c.isdigit() for c in spec):
        return None
    ports = set()
    udp = False
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("U:"):
            udp = True  # every item from here on is a UDP port
            continue
        if part.startswith("T:"):
            udp, part = False, part[2:]
        if not part or udp:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                ports.update(range(int(a), int(b) + 1))
            else:
                ports.add(int(part))
        except ValueError:
            return None
    return ports


def in_targets(addr, nets, excludes):
    ip = ipaddress.ip_address(addr)
    if excludes and any(ip in n for n in excludes):
        return False
    return nets is None or any(ip in n for n in nets)


def pick_vantage(obs, truth, wanted):
    """--vantage, else the lab vantage whose address the scan used, else the zone it names."""
    if wanted:
        return wanted
    v = obs["scan"].get("vantage", {})
    for name, tv in truth.vantages.items():
        if tv["address"] in (v.get("addresses") or []):
            return name
    if v.get("zone") in truth.vantages:
        return v["zone"]
    sys.exit("compare.py: cannot tell the vantage from the Observation; pass --vantage")


def check_vantage(obs, truth, vantage, res):
    """The zone an Observation claims to be scanned from must be the one it was scanned from
    (segmentation findings depend on it)."""
    v = obs["scan"].get("vantage", {})
    zone = v.get("zone")
    want_addr = truth.vantages[vantage]["address"]
    addrs = v.get("addresses") or []
    if addrs and want_addr not in addrs:
        res.mismatch(f"scan.vantage.addresses = {addrs}, but the {vantage} vantage is {want_addr}")
    if zone is not None and zone != vantage:
        res.mismatch(f"scan.vantage.zone = {zone!r}, but the scan ran from {want_addr} ({vantage})")
    elif zone == vantage:
        res.ok(f"scan.vantage.zone = {zone!r}")


def compare(obs, truth, vantage, variant, strict, run_dir, res):
    opts = obs["scan"].get("options", {})
    nets = parse_targets(opts.get("targets"))
    excludes = parse_targets(opts.get("exclude"))
    tcp_scanned = parse_ports(opts.get("ports", ""))
    hosts = {h["address"]: h for h in obs.get("hosts", [])}
    udp_seen = any(s.get("transport") == "udp" for h in obs.get("hosts", []) for s in h.get("services", []))
    with_scale = truth.scale is not None and nets is not None and any(
        ipaddress.ip_network(truth.scale["cidr"]).overlaps(n) for n in nets)

    addresses = [a for a in truth.all_addresses(with_scale) + truth.no_host if in_targets(a, nets, excludes)]
    # addresses the Observation reports that the truth has nothing at
    for a, h in hosts.items():
        if a not in addresses and h.get("status", {}).get("state") == "up":
            res.mismatch(f"{a}: reported up, but no host exists there")

    if not udp_seen:
        res.not_supported("UDP: the Observation has no UDP result at all")

    ports_checked = [("tcp", p) for p in truth.lab["tcp_ports"] if tcp_scanned is None or p in tcp_scanned]
    if udp_seen:
        ports_checked += [("udp", p) for p in truth.lab["udp_ports"]]
    never_send = set(truth.lab.get("never_send", []))

    for a in sorted(addresses, key=ipaddress.ip_address):
        want_host = truth.expected_host(vantage, a, variant)
        oh = hosts.get(a)
        got_host = (oh or {}).get("status", {}).get("state", "absent")
        if want_host == "up" and got_host != "up":
            res.mismatch(f"{a}: truth says up from {vantage}, Observation says {got_host}")
            continue
        if want_host == "down" and got_host == "up":
            res.mismatch(f"{a}: truth says nothing answers from {vantage}, Observation says up")
            continue
        if got_host != "up":
            if want_host == "down":
                res.ok(f"{a}: not reported up")
            continue
        res.ok(f"{a}: up")
        services = {(s["transport"], s["port"]): s for s in oh.get("services", [])}
        extra_ports = [k for k in services if k not in ports_checked]
        scale_ports = []
        if with_scale and a in truth.scale_hosts():
            scale_ports = [("tcp", p) for p in truth.scale["tcp_ports_pool"]
                           if tcp_scanned is None or p in tcp_scanned]
        for t, p in sorted(set(ports_checked + extra_ports + scale_ports)):
            want = truth.expected_port(vantage, a, t, p, variant)
            s = services.get((t, p))
            got = s["state"] if s else None
            where = f"{a}:{p}/{t}"
            if want is None:
                continue
            if got is None:
                if want == L.OPEN:
                    res.mismatch(f"{where}: open, not reported")
                continue
            if t == "udp":
                okset = {L.OPEN: {L.OPEN}, L.OPEN_FILTERED: {L.OPEN_FILTERED},
                         L.CLOSED: {L.CLOSED}, L.FILTERED: {L.FILTERED, L.OPEN_FILTERED}}[want]
            else:
                okset = {want}
            if got in okset:
                res.ok(f"{where}: {got}")
            else:
                res.mismatch(f"{where}: reported {got}, truth {want}")
            if f"{a}:{p}" in never_send and s and (s.get("protocol") or s.get("facts") or s.get("software")):
                res.mismatch(f"{where}: a never-send port carries probe results (something was sent)")
        # facts
        th = truth.by_addr.get(a)
        if th is None:
            continue
        if th.get("mac") and oh.get("mac") and truth.zone_of(a) == vantage:
            if oh["mac"].lower() == th["mac"].lower():
                res.ok(f"{a}: mac {oh['mac']}")
            else:
                res.mismatch(f"{a}: mac {oh['mac']}, truth {th['mac']}")
            if oh.get("vendor") is not None and oh["vendor"] != th.get("vendor"):
                res.mismatch(f"{a}: vendor {oh['vendor']!r}, truth {th.get('vendor')!r}")
        for ts in th.get("service", []):
            t, p = ts["transport"], ts["port"]
            if truth.expected_port(vantage, a, t, p, variant) not in (L.OPEN, L.OPEN_FILTERED):
                continue
            if t == "udp" and not udp_seen:
                continue
            if tcp_scanned is not None and t == "tcp" and p not in tcp_scanned:
                continue
            s = services.get((t, p))
            if s is None or s.get("state") not in (L.OPEN, L.OPEN_FILTERED):
                continue  # the port itself is already a mismatch (or silent): no facts to hold
            if ts.get("behaviour"):
                check_broken_peer(a, ts, s, strict, res)
                continue
            facts = s.get("facts") or {}
            for key, want in ts.get("facts", {}).items():
                proto = key.split(".")[0].split("[")[0]
                where = f"{a}:{p}/{t} {key}"
                if proto not in facts:
                    if isinstance(want, dict) and want.get("null"):
                        res.ok(f"{where}: absent (cannot be told)")
                    elif strict:
                        res.mismatch(f"{where}: not yet supported (no {proto} facts)")
                    else:
                        res.not_supported(f"{where} (no {proto} facts)")
                    continue
                actual = L.get_path(facts, key)
                good, why = L.match(want, actual)
                if good:
                    res.ok(f"{where} = {actual!r}")
                elif (actual is L.MISSING or actual is None) and not strict:
                    res.unknown_fact(f"{where}: null/absent, truth {want!r}")
                else:
                    res.mismatch(f"{where}: {why}")

    # the raw printer port: nothing may ever have arrived
    if run_dir:
        path = os.path.join(run_dir, "hosts", "printer", "printer", "received.bin")
        if os.path.exists(path):
            n = os.path.getsize(path)
            if n:
                res.mismatch(f"10.77.10.40:9100: the printer received {n} bytes")
            else:
                res.ok("10.77.10.40:9100: the printer received nothing")


def check_broken_peer(addr, ts, s, strict, res):
    """A port of the hostile device: no fact may be guessed (only the optional `may_facts`,
    and then right), and the probe must have ended with a probe error of an expected kind."""
    where = f"{addr}:{ts['port']}/{ts['transport']} ({ts['behaviour']})"
    may = ts.get("may_facts", {})
    may_protos = {k.split(".")[0] for k in may}
    for proto, block in (s.get("facts") or {}).items():
        if block in (None, {}):
            continue
        if proto not in may_protos:
            res.mismatch(f"{where}: {proto} facts from a broken peer are guesses: {json.dumps(block)[:200]}")
            continue
        for key, want in may.items():
            if key.split(".")[0] != proto:
                continue
            actual = L.get_path(s["facts"], key)
            if actual is L.MISSING:
                continue
            good, why = L.match(want, actual)
            if good:
                res.ok(f"{where} {key} = {actual!r}")
            else:
                res.mismatch(f"{where} {key}: {why}")
    errors = s.get("probe_errors") or []
    kinds = sorted({e.get("kind") for e in errors})
    if not errors:
        msg = f"{where}: no probe error recorded"
        if strict:
            res.mismatch(msg)
        else:
            res.not_supported(msg)
    elif ts.get("probe_error") and not set(kinds) & set(ts["probe_error"]):
        res.mismatch(f"{where}: probe errors {kinds}, expected one of {ts['probe_error']}")
    else:
        res.ok(f"{where}: probe error {kinds}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("observation")
    ap.add_argument("--vantage", choices=["general", "guest"])
    ap.add_argument("--variant", help="lab variant (default: the running lab's, else default)")
    ap.add_argument("--strict-facts", action="store_true",
                    help="count unsupported and unknown facts as mismatches")
    ap.add_argument("--run-dir", default=None, help="lab run dir (printer capture); '' to skip")
    ap.add_argument("--truth", default=L.TRUTH_FILE)
    ap.add_argument("-q", "--quiet", action="store_true", help="print mismatches only")
    ap.add_argument("--json", metavar="FILE", help="also write the result as JSON (for test harnesses)")
    a = ap.parse_args()
    try:
        with open(a.observation, encoding="utf-8") as f:
            obs = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"compare.py: cannot read {a.observation}: {e}")
    if not isinstance(obs, dict) or obs.get("schema") != SCHEMA:
        got = obs.get("schema") if isinstance(obs, dict) else type(obs).__name__
        sys.exit(f"compare.py: not a {SCHEMA} document (schema = {got!r})")
    truth = L.Truth(a.truth)
    if not isinstance(obs.get("scan"), dict) or not isinstance(obs.get("hosts"), list):
        sys.exit("compare.py: malformed Observation (scan or hosts missing)")
    vantage = pick_vantage(obs, truth, a.vantage)
    variant = a.variant or L.current_variant()
    run_dir = L.LAB_RUN if a.run_dir is None else a.run_dir
    res = Result(a.quiet)
    print(f"compare: {a.observation} from {vantage}, variant {variant}")
    try:
        check_vantage(obs, truth, vantage, res)
        compare(obs, truth, vantage, variant, a.strict_facts, run_dir, res)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        # a document that claims the schema but does not follow it
        sys.exit(f"compare.py: malformed Observation ({type(e).__name__}: {e})")
    print(f"\ncompare: {res.oks} ok, {len(res.mismatches)} mismatch(es), "
          f"{len(res.unsupported)} not yet supported, {len(res.unknown)} unknown")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"vantage": vantage, "variant": variant, "ok": res.oks,
                       "mismatches": res.mismatches, "not_yet_supported": res.unsupported,
                       "unknown": res.unknown}, f, ensure_ascii=False, indent=1)
    sys.exit(1 if res.mismatches else 0)


if __name__ == "__main__":
    main()
