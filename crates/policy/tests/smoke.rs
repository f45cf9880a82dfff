#[test]
fn shipped_loads() {
    let r = clinicscan_policy::RuleSet::shipped();
    match &r {
        Ok(r) => eprintln!("{} rules", r.rules().len()),
        Err(e) => panic!("{e}"),
    }
}
