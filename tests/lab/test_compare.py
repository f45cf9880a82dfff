"""Tests of tests/lab/compare.py and labtruth.py on the hand-made Observations in
fixtures/lab (no lab needed):  python3 -m unittest discover -s tests/lab -p 'test_*.py'
"""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "fixtures", "lab")
sys.path.insert(0, HERE)
import labtruth as L  # noqa: E402


def run(name, *extra):
    p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), os.path.join(FIX, name),
                        "--run-dir", "", "--variant", "default", "-q"] + list(extra),
                       capture_output=True, text=True)
    mism = [line.split("MISMATCH", 1)[1].strip() for line in p.stdout.splitlines() if "MISMATCH" in line]
    return p.returncode, mism, p.stdout


class CompareTest(unittest.TestCase):
    def test_good_observation_passes(self):
        rc, mism, out = run("observation-general-good.json")
        self.assertEqual(mism, [], out)
        self.assertEqual(rc, 0)
        self.assertIn("not yet supported", out)

    def test_recorded_reference_observations_pass_strictly(self):
        # recorded by `tests/lab/verify --reference-out` from the real lab (standard clients)
        for v in ("general", "guest"):
            rc, mism, out = run(f"observation-reference-{v}.json", "--strict-facts")
            self.assertEqual((rc, mism), (0, []), out)
            self.assertIn("0 not yet supported, 0 unknown", out)

    def test_strict_facts_counts_unsupported_facts(self):
        rc, mism, out = run("observation-general-good.json", "--strict-facts")
        self.assertEqual(rc, 1)
        self.assertTrue(any("not yet supported (no dicom facts)" in m for m in mism), out)
        self.assertTrue(all("not yet supported" in m for m in mism), mism)

    def test_bad_observation_reports_exactly_the_planted_errors(self):
        rc, mism, out = run("observation-general-bad.json")
        self.assertEqual(rc, 1)
        self.assertEqual(sorted(mism), sorted([
            "10.77.10.20:445/tcp smb.smb1: expected True, got False",
            "10.77.10.40:9100/tcp: a never-send port carries probe results (something was sent)",
            "10.77.10.99: truth says nothing answers from general, Observation says up",
            "10.77.20.20:443/tcp tls.accepted_versions: expected ['TLSv1.0', 'TLSv1.1', 'TLSv1.2'], "
            "got ['TLSv1.1', 'TLSv1.2']",
            "10.77.30.10:3389/tcp: open, not reported",
            "10.77.30.20: truth says nothing answers from general, Observation says up",
            '10.77.20.66:443/tcp (silent): tls facts from a broken peer are guesses: '
            '{"via": "direct", "accepted_versions": ["TLSv1.2"]}',
        ]), out)

    def test_isolated_variant_turns_the_violation_into_a_mismatch(self):
        # the good observation shows RDP open on 10.77.30.10; in the isolated lab it must not be
        p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"),
                            os.path.join(FIX, "observation-general-good.json"), "--run-dir", "",
                            "--variant", "isolated", "-q"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("10.77.30.10: truth says nothing answers from general, Observation says up", p.stdout)

    def test_guest_vantage_is_read_from_the_observation(self):
        rc, mism, out = run("observation-guest-good.json")
        self.assertEqual((rc, mism), (0, []), out)
        self.assertIn("from guest", out)
        # the same scan held against the general vantage is wrong in many places
        rc, mism, out = run("observation-guest-good.json", "--vantage", "general")
        self.assertEqual(rc, 1)
        self.assertIn("10.77.10.20: truth says up from general, Observation says absent", mism)
        self.assertIn("scan.vantage.zone = 'guest', but the scan ran from 10.77.10.10 (general)", mism)

    def test_a_wrong_vantage_zone_is_a_mismatch(self):
        import tempfile
        with open(os.path.join(FIX, "observation-guest-good.json")) as f:
            obs = json.load(f)
        obs["scan"]["vantage"]["zone"] = "general"  # a site file's fixed zone, scanned from guest
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "o.json")
            with open(path, "w") as f:
                json.dump(obs, f)
            p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), path, "--run-dir", "",
                                "--variant", "default", "-q"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("from guest", p.stdout)  # the address decides the vantage
        mism = [line.split("MISMATCH", 1)[1].strip() for line in p.stdout.splitlines() if "MISMATCH" in line]
        self.assertEqual(mism, ["scan.vantage.zone = 'general', but the scan ran from 10.77.50.10 (guest)"])

    def test_json_result(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "r.json")
            rc, mism, out = run("observation-general-bad.json", "--json", path)
            with open(path) as f:
                r = json.load(f)
        self.assertEqual(r["vantage"], "general")
        self.assertEqual(sorted(r["mismatches"]), sorted(mism))
        self.assertEqual(len(r["mismatches"]), 7)

    def test_malformed_observations_are_refused_cleanly(self):
        import tempfile
        cases = ["[]", "{", '{"schema": "clinicscan/observation/v1"}',
                 '{"schema": "clinicscan/observation/v1", "scan": {"vantage": {"zone": "general"}}, '
                 '"hosts": [{"address": "10.77.10.20", "status": {"state": "up"}, "services": [{"port": 1}]}]}']
        with tempfile.TemporaryDirectory() as d:
            for i, text in enumerate(cases):
                path = os.path.join(d, f"{i}.json")
                with open(path, "w") as f:
                    f.write(text)
                p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), path, "--run-dir", "",
                                    "--variant", "default"], capture_output=True, text=True)
                self.assertNotEqual(p.returncode, 0, text)
                self.assertNotIn("Traceback", p.stderr, text)
                self.assertIn("compare.py:", p.stderr, text)

    def test_scale_segment(self):
        import tempfile
        truth = L.Truth()
        # answering and late hosts with their open ports, ping-only hosts up with none
        hosts = [{"address": h["address"], "status": {"state": "up", "reason": "echo-reply"},
                  "services": [{"port": p, "transport": "tcp", "state": "open", "reason": "syn-ack"}
                               for p in h["tcp_open"]]}
                 for h in truth.scale["hosts"] if h["state"] in ("up", "ping-only")]
        with open(os.path.join(FIX, "observation-general-good.json")) as f:
            obs = json.load(f)
        obs["scan"]["options"]["targets"] = ["10.77.100.0/24"]
        obs["scan"]["options"]["ports"] = "21-23,80,443,445,3389,5900,8080"
        obs["hosts"] = hosts
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "scale.json")
            with open(path, "w") as f:
                json.dump(obs, f)
            p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), path, "--run-dir", "",
                                "--variant", "default", "-q"], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertIn(" 0 mismatch", p.stdout)
            # one open port missed, one filtered host reported up, a ping-only host missed
            first = next(h for h in obs["hosts"] if h["services"])
            first["services"].pop()
            obs["hosts"].append({"address": "10.77.100.55", "status": {"state": "up", "reason": "echo-reply"}})
            obs["hosts"] = [h for h in obs["hosts"] if h["address"] != "10.77.100.60"]
            with open(path, "w") as f:
                json.dump(obs, f)
            p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), path, "--run-dir", "",
                                "--variant", "default", "-q"], capture_output=True, text=True)
        mism = sorted(line.split("MISMATCH", 1)[1].strip() for line in p.stdout.splitlines() if "MISMATCH" in line)
        first = next(h for h in truth.scale["hosts"] if h["tcp_open"])
        self.assertEqual(mism, sorted([
            f"{first['address']}:{first['tcp_open'][-1]}/tcp: open, not reported",
            "10.77.100.55: truth says nothing answers from general, Observation says up",
            "10.77.100.60: truth says up from general, Observation says absent",
        ]), p.stdout)

    def test_not_an_observation_is_refused(self):
        p = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), os.path.join(HERE, "..", "..",
                            "crates", "model", "schemas", "observation.v1.json"), "--run-dir", ""],
                           capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not a clinicscan/observation/v1", p.stderr)


class FixtureSchemaTest(unittest.TestCase):
    def test_fixtures_follow_the_observation_schema(self):
        try:
            import jsonschema
        except ImportError:
            self.skipTest("python jsonschema module not installed")
        with open(os.path.join(ROOT, "crates", "model", "schemas", "observation.v1.json")) as f:
            schema = json.load(f)
        for name in sorted(os.listdir(FIX)):
            if name.startswith("observation-") and name.endswith(".json"):
                with open(os.path.join(FIX, name)) as f:
                    jsonschema.validate(json.load(f), schema)


class TruthTest(unittest.TestCase):
    def setUp(self):
        self.t = L.Truth()

    def test_reachability(self):
        t = self.t
        self.assertEqual(t.expected_port("general", "10.77.30.10", "tcp", 3389, "default"), L.OPEN)
        self.assertEqual(t.expected_port("general", "10.77.30.10", "tcp", 3389, "isolated"), L.FILTERED)
        self.assertEqual(t.expected_port("general", "10.77.30.10", "tcp", 22, "default"), L.FILTERED)
        self.assertEqual(t.expected_port("general", "10.77.30.20", "tcp", 3389, "default"), L.FILTERED)
        self.assertEqual(t.expected_port("guest", "10.77.10.40", "tcp", 9100, "default"), L.OPEN)
        self.assertEqual(t.expected_port("guest", "10.77.10.40", "udp", 161, "default"), L.FILTERED)
        self.assertEqual(t.expected_port("guest", "10.77.60.21", "udp", 1194, "default"), L.OPEN_FILTERED)
        self.assertEqual(t.expected_port("general", "10.77.20.20", "tcp", 22, "default"), L.CLOSED)
        self.assertEqual(t.expected_port("general", "10.77.10.30", "tcp", 445, "default"), L.FILTERED)
        self.assertEqual(t.expected_port("general", "10.77.20.1", "tcp", 22, "default"), L.FILTERED)
        self.assertEqual(t.expected_port("general", "10.77.10.1", "tcp", 22, "default"), L.CLOSED)
        self.assertIsNone(t.expected_port("general", "10.77.10.99", "tcp", 22, "default"))

    def test_host_states(self):
        t = self.t
        self.assertEqual(t.expected_host("general", "10.77.10.30", "default"), "up")   # ARP
        self.assertEqual(t.expected_host("guest", "10.77.10.30", "default"), "down")
        self.assertEqual(t.expected_host("guest", "10.77.10.40", "default"), "up")     # via 9100
        self.assertEqual(t.expected_host("general", "10.77.30.20", "default"), "down")
        self.assertEqual(t.expected_host("general", "10.77.40.20", "default"), "any")
        self.assertEqual(t.expected_host("general", "10.77.100.12", "default"), "up")
        self.assertEqual(t.expected_host("general", "10.77.100.55", "default"), "down")
        self.assertEqual(t.expected_host("general", "10.77.100.200", "default"), "down")

    def test_matchers(self):
        self.assertEqual(L.match(["a", "b"], ["b", "a", "a"]), (True, ""))
        self.assertFalse(L.match(["a"], ["a", "b"])[0])
        self.assertTrue(L.match({"includes": ["public"], "excludes": ["private"]}, ["public"])[0])
        self.assertFalse(L.match({"includes": ["public"], "excludes": ["private"]}, ["public", "private"])[0])
        self.assertTrue(L.match({"regex": "^OFFIS"}, "OFFIS_DCMTK_367")[0])
        self.assertTrue(L.match({"null": True}, L.MISSING)[0])
        self.assertFalse(L.match({"null": True}, True)[0])
        self.assertFalse(L.match(True, 1)[0])   # a number is not a boolean
        self.assertFalse(L.match(False, None)[0])
        self.assertEqual(L.get_path({"a": [{"b": [1, 2]}, {"b": [3]}]}, "a[].b"), [1, 2, 3])
        v = {"tls": {"versions": [{"version": "TLSv1.0", "suites": [{"name": "A"}]},
                                  {"version": "TLSv1.2", "suites": [{"name": "A"}, {"name": "B"}]}]}}
        self.assertEqual(L.get_path(v, "tls.versions[version=TLSv1.0].suites[].name"), ["A"])
        self.assertEqual(L.get_path(v, "tls.versions[version=TLSv1.2].suites[].name"), ["A", "B"])
        self.assertEqual(L.get_path(v, "tls.versions[version=TLSv1.3].suites[].name"), [])
        self.assertIs(L.get_path(v, "tls.nothing[].x"), L.MISSING)

    def test_every_fact_key_names_a_model_field(self):
        with open(os.path.join(ROOT, "crates", "model", "schemas", "observation.v1.json")) as f:
            schema = json.load(f)
        defs = schema["$defs"]
        for h, s in self.t.services():
            for key in s.get("facts", {}):
                node = defs["ServiceFacts"]
                for part in L.split_path(key):
                    part = part.split("[", 1)[0]
                    props = node.get("properties", {})
                    self.assertIn(part, props, f"{h['name']}:{s['port']} {key}")
                    node = props[part]
                    ref = node.get("$ref") or next((x.get("$ref") for x in node.get("anyOf", []) if "$ref" in x), None)
                    if node.get("type") == "array" or "items" in node:
                        ref = node["items"].get("$ref")
                    if ref:
                        node = defs[ref.split("/")[-1]]

    def test_scale_truth_is_the_generated_one(self):
        p = subprocess.run([sys.executable, os.path.join(HERE, "scale.py"), "truth"], capture_output=True, text=True)
        self.assertEqual(json.loads(p.stdout), self.t.scale)


if __name__ == "__main__":
    unittest.main()
