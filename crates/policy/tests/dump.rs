mod common;
#[test]
#[ignore]
fn dump() {
    for f in ["bad.json", "good.json", "lab-general.json", "lab-general-isolated.json", "lab-oqv.json", "lab-guest.json"] {
        let a = common::assessed(f);
        println!("== {f}");
        for x in &a.findings { println!("{:?} {:?} {}", x.severity, x.certainty, x.key); }
        for c in &a.controls { println!("   {} {:?} {}", c.id, c.status, c.finding_count); }
    }
    let a = common::assessed("bad.json");
    println!("{}", serde_json::to_string_pretty(&a.findings.iter().find(|f| f.rule_id=="vpn-known-exploited-version")).unwrap());
    println!("{}", serde_json::to_string_pretty(&a.findings.iter().find(|f| f.rule_id=="eol-windows")).unwrap());
}
