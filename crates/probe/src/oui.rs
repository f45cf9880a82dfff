//! MAC vendor names from the IEEE registry as Debian ships it (`ieee-data`:
//! `/usr/share/ieee-data/oui.csv`, MA-L assignments). Read lazily, once per process; a
//! missing file leaves vendors absent and the scan records a notice.
//!
//! The CSV is parsed by hand (quoted fields with commas are the only complication) rather
//! than pulling in a CSV crate for three columns.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Where Debian's ieee-data puts the MA-L registry.
pub const OUI_CSV: &str = "/usr/share/ieee-data/oui.csv";

/// The 24-bit OUI → organisation name table.
#[derive(Debug, Default)]
pub struct OuiTable {
    map: HashMap<u32, String>,
}

impl OuiTable {
    /// Parses the registry CSV (`Registry,Assignment,Organization Name,...`). Lines that do
    /// not parse are skipped.
    pub fn parse(text: &str) -> Self {
        let mut map = HashMap::new();
        for line in text.lines() {
            let fields = split_csv(line, 3);
            let [_, assignment, name] = fields.as_slice() else {
                continue;
            };
            if assignment.len() != 6 {
                continue;
            }
            let Ok(oui) = u32::from_str_radix(assignment, 16) else {
                continue;
            };
            let name = name.trim();
            if !name.is_empty() {
                map.insert(oui, name.to_string());
            }
        }
        OuiTable { map }
    }

    /// Number of assignments.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The vendor of a MAC address (`aa:bb:cc:dd:ee:ff`, `-` separators accepted).
    pub fn vendor(&self, mac: &str) -> Option<&str> {
        let hex: String = mac.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        if hex.len() != 12 {
            return None;
        }
        let oui = u32::from_str_radix(&hex[..6], 16).ok()?;
        self.map.get(&oui).map(String::as_str)
    }
}

/// The first `n` fields of one CSV line; `None`-like (fewer fields) on an unterminated quote.
fn split_csv(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut chars = line.chars().peekable();
    while out.len() < n {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        closed = true;
                        break;
                    }
                } else {
                    field.push(c);
                }
            }
            if !closed {
                return Vec::new();
            }
            // skip to the separator
            for c in chars.by_ref() {
                if c == ',' {
                    break;
                }
            }
            out.push(field);
        } else {
            let mut ended = false;
            for c in chars.by_ref() {
                if c == ',' {
                    ended = true;
                    break;
                }
                field.push(c);
            }
            out.push(field);
            if !ended {
                break;
            }
        }
    }
    out
}

static TABLE: OnceLock<Option<OuiTable>> = OnceLock::new();

/// The system registry, loaded on first use; `None` when the file is missing or empty.
pub fn system_table() -> Option<&'static OuiTable> {
    TABLE
        .get_or_init(|| {
            let text = std::fs::read_to_string(OUI_CSV).ok()?;
            let t = OuiTable::parse(&text);
            (!t.is_empty()).then_some(t)
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXCERPT: &str = include_str!("../../../fixtures/engine/oui-excerpt.csv");

    #[test]
    fn parses_the_fixture() {
        let t = OuiTable::parse(EXCERPT);
        assert_eq!(t.len(), 8);
        assert_eq!(t.vendor("f4:bd:9e:00:11:22"), Some("Cisco Systems, Inc"));
        assert_eq!(t.vendor("00-50-56-AB-CD-EF"), Some("VMware, Inc."));
        assert_eq!(t.vendor("68:84:7e:01:02:03"), Some("FUJITSU LIMITED"));
        assert_eq!(
            t.vendor("58:85:e9:00:00:01"),
            Some("Realme Chongqing MobileTelecommunications Corp Ltd")
        );
        assert_eq!(
            t.vendor("aa:bb:cc:00:00:00"),
            None,
            "unterminated quote skipped"
        );
        assert_eq!(t.vendor("52:54:00:12:34:56"), None, "not in the excerpt");
        assert_eq!(t.vendor("f4:bd:9e"), None, "too short");
    }

    #[test]
    fn csv_fields() {
        assert_eq!(
            split_csv(r#"a,"b, ""c""",d,e"#, 3),
            vec!["a", "b, \"c\"", "d"]
        );
        assert_eq!(split_csv("a,b", 3), vec!["a", "b"]);
        assert!(split_csv("\"open", 3).is_empty());
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "",
            ",,,",
            "\"",
            "\"\"\"",
            "MA-L,\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9},x",
        ] {
            let _ = OuiTable::parse(s);
        }
    }

    #[test]
    fn system_registry_when_installed() {
        match system_table() {
            Some(t) => assert_eq!(t.vendor("00:50:56:00:00:00"), Some("VMware, Inc.")),
            None => eprintln!("skipped: {OUI_CSV} not installed"),
        }
    }
}
