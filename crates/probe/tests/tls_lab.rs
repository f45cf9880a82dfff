//! scratch
use std::time::Duration;
#[tokio::test]
#[ignore]
async fn scratch() {
    for port in [4431u16, 4432, 4433, 4434, 4435] {
        let t = std::time::Instant::now();
        let r = clinicscan_probe::hooks::tls_audit(format!("10.254.71.2:{port}").parse().unwrap(), None, chrono::Utc::now(), Duration::from_secs(20)).await;
        println!("{port} {:?} {}", t.elapsed(), serde_json::to_string_pretty(&r.as_ref().ok()).unwrap());
        if let Err(e) = r { println!("ERR {e:?}"); }
    }
}
#[tokio::test]
#[ignore]
async fn scratch_http() {
    for (kind, port) in [("http", 8080u16), ("http", 8081), ("https", 4432), ("https", 4431), ("https", 4435), ("smtp", 2525)] {
        let t = std::time::Instant::now();
        let s = clinicscan_probe::hooks::probe(kind, format!("10.254.71.2:{port}").parse().unwrap(), None, chrono::Utc::now(), Duration::from_secs(20)).await;
        println!("{kind} {port} {:?} {} {:?} {:?}", t.elapsed(), serde_json::to_string(&s.facts.http).unwrap(), s.software, s.probe_errors);
        if kind == "smtp" { println!("{:?}", s.facts.tls.map(|t| (t.accepted_versions, t.certificate.map(|c| c.subject)))); }
    }
}
