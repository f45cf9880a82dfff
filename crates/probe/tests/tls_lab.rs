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
