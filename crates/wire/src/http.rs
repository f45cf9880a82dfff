//! HTTP/1.x responses as a scanner reads them: the status line, headers, a bounded body
//! (plain, Content-Length or chunked), the page title in the page's own charset (Shift_JIS,
//! EUC-JP and ISO-2022-JP are common on Japanese devices; decoded with `encoding_rs`), a
//! password input, and the product signatures of SSL-VPN portals and admin UIs.
//!
//! Hand-written rather than `httparse` + a client crate: the probe needs byte-exact control
//! of what it sends (one plain GET), a hard byte limit on what it reads, and tolerance of the
//! malformed responses embedded web servers send; the parsing is a few dozen lines.

use crate::{Error, Frame};

/// The most header lines read.
pub const MAX_HEADERS: usize = 100;
/// The longest header block read.
pub const MAX_HEAD: usize = 32 * 1024;

fn head_too_large(len: usize) -> Error {
    Error::TooLarge {
        what: "HTTP response headers",
        len,
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// "HTTP/1.1", "HTTP/1.0".
    pub version: String,
    /// Status code.
    pub status: u16,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, possibly cut at the byte limit.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers with this name.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The authentication schemes of WWW-Authenticate challenges, e.g. ["Basic", "Digest"].
    pub fn auth_schemes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.headers_named("www-authenticate") {
            let scheme = v
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_end_matches(',');
            if !scheme.is_empty() && !out.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
                out.push(scheme.to_string());
            }
        }
        out
    }

    /// The body decoded to text in its charset (header, then `<meta>`, then UTF-8 if valid,
    /// then Shift_JIS as the most common Japanese legacy encoding).
    pub fn text(&self) -> String {
        decode_body(&self.body, self.header("content-type"))
    }

    /// The max-age of a Strict-Transport-Security header (RFC 6797 §6.1), when one with a
    /// readable max-age was sent.
    pub fn hsts_max_age(&self) -> Option<u64> {
        self.header("strict-transport-security")
            .and_then(|v| directive(v, "max-age"))
            .and_then(|v| v.trim_matches('"').parse().ok())
    }

    /// The `frame-ancestors` directive of a Content-Security-Policy header, e.g. "'self'".
    pub fn frame_ancestors(&self) -> Option<String> {
        self.headers_named("content-security-policy")
            .find_map(|csp| directive(csp, "frame-ancestors"))
            .map(|v| v.to_string())
    }
}

/// The value of a `;`-separated directive `name` (`name=value` or `name value`), trimmed.
fn directive<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|d| {
        let d = d.trim();
        let rest = d
            .get(..name.len())
            .filter(|h| h.eq_ignore_ascii_case(name))?;
        let value = d[rest.len()..].trim_start();
        let value = value.strip_prefix('=').unwrap_or(value).trim();
        (!value.is_empty()).then_some(value)
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The end of the header block (index after the blank line), if present.
fn head_end(buf: &[u8]) -> Option<usize> {
    if let Some(i) = find(buf, b"\r\n\r\n") {
        return Some(i + 4);
    }
    find(buf, b"\n\n").map(|i| i + 2)
}

/// The header block is complete.
pub fn response_head_complete(buf: &[u8]) -> bool {
    head_end(buf).is_some()
}

/// Framing: `Ok(Some(len))` once a whole response is in `buf` (headers, then a
/// Content-Length body, a chunked body up to its last chunk, or no body for 1xx/204/304).
/// A response delimited by the connection closing is never complete: read it to EOF or the
/// limit. A header block past [`MAX_HEAD`] is an error.
pub fn response_complete(buf: &[u8]) -> Frame {
    let Some(end) = head_end(buf) else {
        if buf.len() > MAX_HEAD {
            return Err(head_too_large(buf.len()));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Some(end));
    }
    let mut content_length = None;
    let mut chunked = false;
    for line in head.lines().skip(1) {
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim();
            if n.eq_ignore_ascii_case("content-length") {
                content_length = v.trim().parse::<usize>().ok();
            } else if n.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    if chunked {
        return Ok(dechunk(&buf[end..]).1.map(|n| end + n));
    }
    Ok(content_length
        .and_then(|len| end.checked_add(len))
        .filter(|&total| buf.len() >= total))
}

/// De-chunks a chunked body: the data so far, and the bytes used once the last chunk is seen.
fn dechunk(mut body: &[u8]) -> (Vec<u8>, Option<usize>) {
    let start = body.len();
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(body, b"\r\n") else {
            return (out, None);
        };
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return (out, None);
        };
        let data_start = eol + 2;
        if size == 0 {
            // Trailer section ends with a blank line.
            let rest = &body[data_start..];
            return match find(rest, b"\r\n") {
                Some(0) => (out, Some(start - body.len() + data_start + 2)),
                Some(_) => match find(rest, b"\r\n\r\n") {
                    Some(i) => (out, Some(start - body.len() + data_start + i + 4)),
                    None => (out, None),
                },
                None => (out, None),
            };
        }
        let data_end = data_start.saturating_add(size);
        if body.len() < data_end {
            out.extend_from_slice(&body[data_start..]);
            return (out, None);
        }
        out.extend_from_slice(&body[data_start..data_end]);
        body = body.get(data_end + 2..).unwrap_or(&[]);
    }
}

/// Parses a response (possibly cut short by the byte limit or the connection closing).
pub fn parse_response(buf: &[u8]) -> Result<Response, Error> {
    if !buf.starts_with(b"HTTP/") {
        let shown: String = String::from_utf8_lossy(&buf[..buf.len().min(16)])
            .chars()
            .map(|c| if c.is_control() { '.' } else { c })
            .collect();
        return Err(Error::invalid(format_args!(
            "not an HTTP response: starts with {shown:?}"
        )));
    }
    let Some(end) = head_end(buf) else {
        return Err(if buf.len() > MAX_HEAD {
            head_too_large(buf.len())
        } else {
            Error::invalid("HTTP response headers end before their blank line")
        });
    };
    if end > MAX_HEAD {
        return Err(head_too_large(end));
    }
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_string();
    let status: u16 = parts
        .next()
        .and_then(|s| s.trim().parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| {
            Error::invalid(format_args!(
                "not an HTTP response: status line {status_line:?}"
            ))
        })?;
    let mut headers = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(Error::TooMany {
                what: "HTTP header lines",
                max: MAX_HEADERS,
            });
        }
        if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut resp = Response {
        version,
        status,
        headers,
        body: Vec::new(),
    };
    let raw_body = &buf[end..];
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    resp.body = if chunked {
        dechunk(raw_body).0
    } else {
        let len = resp
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(raw_body.len());
        raw_body[..len.min(raw_body.len())].to_vec()
    };
    Ok(resp)
}

fn charset_of(content_type: &str) -> Option<&str> {
    let lower = content_type.to_ascii_lowercase();
    let i = lower.find("charset=")?;
    let rest = &content_type[i + 8..];
    let rest = rest.trim_start_matches(['"', '\'']);
    let end = rest
        .find(|c: char| {
            c == ';' || c == '"' || c == '\'' || c.is_whitespace() || c == '>' || c == '/'
        })
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Decodes an HTML body to text (see [`Response::text`]).
pub fn decode_body(body: &[u8], content_type: Option<&str>) -> String {
    let mut label = content_type.and_then(charset_of).map(str::to_string);
    if label.is_none() {
        // <meta charset="..."> or <meta http-equiv="Content-Type" content="...; charset=...">
        let head = &body[..body.len().min(4096)];
        let ascii = String::from_utf8_lossy(head);
        let lower = ascii.to_ascii_lowercase();
        let mut from = 0;
        while let Some(i) = lower[from..].find("<meta") {
            let start = from + i;
            let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
            if let Some(cs) = charset_of(&ascii[start..end]) {
                label = Some(cs.to_string());
                break;
            }
            from = end;
        }
    }
    let encoding = label
        .as_deref()
        .and_then(|l| encoding_rs::Encoding::for_label(l.trim().as_bytes()));
    let encoding = match encoding {
        Some(e) => e,
        None if std::str::from_utf8(body).is_ok() => encoding_rs::UTF_8,
        None => encoding_rs::SHIFT_JIS,
    };
    let (text, _, _) = encoding.decode(body);
    text.into_owned()
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.bytes().take(12).position(|b| b == b';');
        let Some(end) = end else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `<title>` of an HTML page, whitespace collapsed, entities decoded, at most 200 chars.
pub fn title(html: &str) -> Option<String> {
    // ASCII lower-casing keeps every byte offset, so positions index `html` too.
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = lower[open_end..]
        .find("</title")
        .map_or(html.len(), |c| open_end + c);
    let raw = &html[open_end..close];
    let t: String = decode_entities(&raw.split_whitespace().collect::<Vec<_>>().join(" "))
        .chars()
        .take(200)
        .collect();
    (!t.is_empty()).then_some(t)
}

/// The page has an `<input type="password">`.
pub fn has_password_input(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("<input") {
        let start = from + i;
        let end = lower[start..].find('>').map_or(lower.len(), |e| start + e);
        let tag: String = lower[start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if tag.contains("type=\"password\"")
            || tag.contains("type='password'")
            || tag.contains("type=password")
        {
            return true;
        }
        from = end;
    }
    false
}

/// The `Location` of a redirect resolved against the request, as (scheme, host, port, path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// "http" or "https".
    pub scheme: String,
    /// Host as written (no port).
    pub host: String,
    /// Port (explicit, or the scheme's default).
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
}

/// Resolves a Location header value against the current request target.
pub fn resolve_location(base: &Target, location: &str) -> Option<Target> {
    let loc = location.trim();
    for scheme in ["http", "https"] {
        let prefix = format!("{scheme}://");
        if loc
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(&prefix))
        {
            let rest = &loc[prefix.len()..];
            let (authority, path) = match rest.find(['/', '?', '#']) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let authority = authority.rsplit('@').next().unwrap_or(authority);
            let (host, port) =
                split_host_port(authority, if scheme == "https" { 443 } else { 80 })?;
            let path = if path.starts_with('/') {
                path.to_string()
            } else {
                format!("/{path}")
            };
            return Some(Target {
                scheme: scheme.to_string(),
                host,
                port,
                path,
            });
        }
    }
    if loc.contains("://") {
        return None;
    }
    if let Some(rest) = loc.strip_prefix("//") {
        return resolve_location(base, &format!("{}://{rest}", base.scheme));
    }
    let path = if loc.starts_with('/') {
        loc.to_string()
    } else {
        let dir = base.path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{loc}")
    };
    Some(Target {
        path,
        ..base.clone()
    })
}

fn split_host_port(authority: &str, default: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default,
        };
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
    .filter(|(h, _)| !h.is_empty())
}

/// A product signature: a page to GET and what on it proves the product.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    /// Path to GET ("/" means: match on the root page already fetched).
    pub path: &'static str,
    /// Kind, vendor, product as in the model's `WebProduct`.
    pub kind: &'static str,
    /// Vendor.
    pub vendor: &'static str,
    /// Product.
    pub product: &'static str,
    /// The response status must be 200 and *every* marker must appear (case-insensitive) in
    /// the body, a header value or the title.
    pub markers: &'static [&'static str],
    /// How to read a version or build from the page, if the device shows it.
    pub version: Option<fn(&Response, &str) -> Option<String>>,
}

/// Citrix Gateway login pages reference their scripts with a per-build hash (`?v=<hex>`).
fn citrix_build(_: &Response, text: &str) -> Option<String> {
    let i = text.find("?v=")?;
    let hash: String = text[i + 3..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (hash.len() >= 16).then(|| format!("build-hash {hash}"))
}

/// Text between `<tag>` and `</tag>`.
fn xml_text(text: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let i = text.find(&open)? + open.len();
    let j = text[i..].find("</")?;
    let v = text[i..i + j].trim();
    (!v.is_empty() && v.len() < 64).then(|| v.to_string())
}

/// GlobalProtect's prelogin XML states the portal's software version.
fn globalprotect_version(_: &Response, text: &str) -> Option<String> {
    xml_text(text, "sw-version")
}

/// The version an AnyConnect headend states in its `config-auth` answer
/// (`<version who="sg">9.16(3)19</version>`), in the dotted form of the known-exploited
/// table ("9.16.3.19").
fn anyconnect_version(_: &Response, text: &str) -> Option<String> {
    let open = "<version who=\"sg\">";
    let i = text.find(open)? + open.len();
    let j = text[i..].find("</")?;
    let v = text[i..i + j].trim();
    if v.is_empty() || v.len() > 32 || v == OCSERV_SG_VERSION {
        return None;
    }
    let dotted = v.replace(['(', ')'], ".");
    Some(dotted.trim_end_matches('.').replace("..", "."))
}

/// What ocserv states as its "sg" version whatever its release: a constant, not a version.
pub const OCSERV_SG_VERSION: &str = "0.1(1)";

/// SSL-VPN portals and admin UIs, recognised by their login pages. Only plain GETs of the
/// pages a browser would load; the order puts the more specific first.
pub static SIGNATURES: &[Signature] = &[
    Signature {
        path: "/remote/login",
        kind: "ssl-vpn",
        vendor: "Fortinet",
        product: "FortiGate SSL-VPN",
        markers: &["/remote/"],
        version: None,
    },
    Signature {
        path: "/dana-na/auth/url_default/welcome.cgi",
        kind: "ssl-vpn",
        vendor: "Ivanti",
        product: "Ivanti Connect Secure (Pulse Secure)",
        markers: &["dana-na"],
        version: None,
    },
    Signature {
        path: "/global-protect/prelogin.esp",
        kind: "ssl-vpn",
        vendor: "Palo Alto Networks",
        product: "GlobalProtect portal",
        markers: &["<prelogin-response>"],
        version: Some(globalprotect_version),
    },
    Signature {
        path: "/global-protect/login.esp",
        kind: "ssl-vpn",
        vendor: "Palo Alto Networks",
        product: "GlobalProtect portal",
        markers: &["global-protect"],
        version: None,
    },
    Signature {
        path: "/logon/LogonPoint/index.html",
        kind: "ssl-vpn",
        vendor: "Citrix",
        product: "Citrix Gateway",
        markers: &["logonpoint"],
        version: Some(citrix_build),
    },
    Signature {
        path: "/vpn/index.html",
        kind: "ssl-vpn",
        vendor: "Citrix",
        product: "Citrix Gateway",
        markers: &["/vpn/"],
        version: Some(citrix_build),
    },
    Signature {
        path: "/cgi-bin/welcome",
        kind: "ssl-vpn",
        vendor: "SonicWall",
        product: "SonicWall SMA / SSL-VPN",
        markers: &["sonicwall"],
        version: None,
    },
    Signature {
        path: "/+CSCOE+/logon.html",
        kind: "ssl-vpn",
        vendor: "Cisco",
        product: "Cisco ASA AnyConnect (WebVPN)",
        markers: &["webvpn"],
        version: None,
    },
    // AnyConnect headends answer the root page with the `config-auth` XML an AnyConnect or
    // openconnect client reads (with an X-Transcend-Version header): ocserv always, states
    // the constant "sg" version 0.1(1) and never its release; anything else stating a
    // version there is taken for Cisco's headend, whose version feeds the KEV table.
    Signature {
        path: "/",
        kind: "ssl-vpn",
        vendor: "OpenConnect",
        product: "ocserv (OpenConnect VPN server, AnyConnect-compatible)",
        markers: &["<config-auth", "<version who=\"sg\">0.1(1)</version>"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "ssl-vpn",
        vendor: "Cisco",
        product: "Cisco ASA / FTD AnyConnect",
        markers: &["<config-auth", "<version who=\"sg\">"],
        version: Some(anyconnect_version),
    },
    // Admin UIs, recognised on the root page.
    Signature {
        path: "/",
        kind: "nas",
        vendor: "Synology",
        product: "Synology DiskStation Manager",
        markers: &["synology"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "nas",
        vendor: "QNAP",
        product: "QNAP QTS",
        markers: &["qnap"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "nas",
        vendor: "I-O DATA",
        product: "I-O DATA LANDISK",
        markers: &["landisk"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "router",
        vendor: "YAMAHA",
        product: "YAMAHA RT series router",
        markers: &["yamaha"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "router",
        vendor: "NEC",
        product: "NEC Aterm",
        markers: &["aterm"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "router",
        vendor: "BUFFALO",
        product: "BUFFALO AirStation / TeraStation",
        markers: &["buffalo"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "router",
        vendor: "MikroTik",
        product: "MikroTik RouterOS",
        markers: &["routeros"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "router",
        vendor: "OpenWrt",
        product: "OpenWrt LuCI",
        markers: &["luci"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "firewall",
        vendor: "Netgate",
        product: "pfSense",
        markers: &["pfsense"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "printer",
        vendor: "HP",
        product: "HP Embedded Web Server",
        markers: &["hp http server"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "printer",
        vendor: "Canon",
        product: "Canon Remote UI",
        markers: &["remote ui"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "printer",
        vendor: "RICOH",
        product: "RICOH Web Image Monitor",
        markers: &["web image monitor"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "printer",
        vendor: "Epson",
        product: "EPSON Web Config",
        markers: &["epson"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "printer",
        vendor: "Brother",
        product: "Brother Web Based Management",
        markers: &["brother"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "printer",
        vendor: "KYOCERA",
        product: "KYOCERA Command Center",
        markers: &["command center"],
        version: None,
    },
    Signature {
        path: "/",
        kind: "printer",
        vendor: "FUJIFILM / Fuji Xerox",
        product: "CentreWare Internet Services",
        markers: &["centreware"],
        version: None,
    },
];

/// Whether `sig` matches a response whose decoded text is `text`; the version, if shown.
pub fn matches(sig: &Signature, resp: &Response, text: &str) -> Option<Option<String>> {
    if resp.status != 200 {
        return None;
    }
    let mut hay = text.to_lowercase();
    for (_, v) in &resp.headers {
        hay.push('\n');
        hay.push_str(&v.to_lowercase());
    }
    if !sig.markers.iter().all(|m| hay.contains(&m.to_lowercase())) {
        return None;
    }
    Some(sig.version.and_then(|f| f(resp, text)))
}

/// Splits a `Server` header's first product token into (product, version), e.g.
/// "nginx/1.22.1" → ("nginx", Some("1.22.1")), "Apache" → ("Apache", None).
pub fn server_product(server: &str) -> Option<(String, Option<String>)> {
    let token = server.split_whitespace().next()?;
    let (product, version) = match token.split_once('/') {
        Some((p, v)) => (
            p,
            Some(v.trim_end_matches(',').to_string()).filter(|v| !v.is_empty()),
        ),
        None => (token, None),
    };
    (!product.is_empty()).then(|| (product.to_string(), version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anyconnect_headends() {
        let b = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/http/ocserv-get-root.bin"
        ))
        .expect("fixture");
        let r = parse_response(&b).expect("response");
        assert_eq!(r.header("x-transcend-version"), Some("1"));
        let text = r.text();
        let hit: Vec<(&str, Option<String>)> = SIGNATURES
            .iter()
            .filter(|s| s.path == "/")
            .filter_map(|s| matches(s, &r, &text).map(|v| (s.vendor, v)))
            .collect();
        assert_eq!(hit.first(), Some(&("OpenConnect", None)));
        let asa = "<config-auth client=\"vpn\" type=\"auth-request\"><version who=\"sg\">9.16(3)19</version></config-auth>";
        assert_eq!(anyconnect_version(&r, asa).as_deref(), Some("9.16.3.19"));
        let asa = "<version who=\"sg\">9.12(4)</version>";
        assert_eq!(anyconnect_version(&r, asa).as_deref(), Some("9.12.4"));
        assert_eq!(anyconnect_version(&r, &text), None);
    }

    #[test]
    fn security_headers() {
        let r = Response {
            headers: vec![
                (
                    "Strict-Transport-Security".into(),
                    "max-age=31536000; includeSubDomains".into(),
                ),
                (
                    "Content-Security-Policy".into(),
                    "default-src 'self'; frame-ancestors 'none'".into(),
                ),
            ],
            ..Response::default()
        };
        assert_eq!(r.hsts_max_age(), Some(31_536_000));
        assert_eq!(r.frame_ancestors().as_deref(), Some("'none'"));
        let odd = Response {
            headers: vec![
                (
                    "strict-transport-security".into(),
                    "includeSubDomains; max-age=\"60\"".into(),
                ),
                (
                    "content-security-policy".into(),
                    "default-src 'self'".into(),
                ),
            ],
            ..Response::default()
        };
        assert_eq!(odd.hsts_max_age(), Some(60));
        assert_eq!(odd.frame_ancestors(), None);
        let bad = Response {
            headers: vec![("Strict-Transport-Security".into(), "max-age=soon".into())],
            ..Response::default()
        };
        assert_eq!(bad.hsts_max_age(), None);
        assert_eq!(Response::default().hsts_max_age(), None);
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/http/",
                $name
            ))
        };
    }

    fn whole(bytes: &[u8]) -> Response {
        assert_eq!(response_complete(bytes), Ok(Some(bytes.len())));
        parse_response(bytes).unwrap()
    }

    fn base() -> Target {
        Target {
            scheme: "http".into(),
            host: "10.254.71.2".into(),
            port: 8080,
            path: "/a/b".into(),
        }
    }

    #[test]
    fn nginx_redirect_to_https() {
        let r = whole(fixture!("nginx-301-to-https.bin"));
        assert_eq!((r.status, r.header("server")), (301, Some("nginx/1.22.1")));
        let loc = r.header("location").unwrap();
        let t = resolve_location(&base(), loc).unwrap();
        assert_eq!(
            t,
            Target {
                scheme: "https".into(),
                host: "10.254.71.2".into(),
                port: 4432,
                path: "/".into()
            }
        );
    }

    #[test]
    fn nginx_shift_jis_page() {
        let r = whole(fixture!("nginx-200-sjis.bin"));
        assert_eq!(r.header("content-type"), Some("text/html"));
        let text = r.text();
        assert_eq!(
            title(&text).as_deref(),
            Some("電子カルテ サーバ ログイン & 管理")
        );
        assert!(has_password_input(&text));
    }

    #[test]
    fn nginx_basic_auth_and_404() {
        let r = whole(fixture!("nginx-401-basic.bin"));
        assert_eq!(
            (r.status, r.auth_schemes()),
            (401, vec!["Basic".to_string()])
        );
        assert_eq!(
            title(&r.text()).as_deref(),
            Some("401 Authorization Required")
        );
        let r = whole(fixture!("nginx-404.bin"));
        assert_eq!(r.status, 404);
        assert!(!has_password_input(&r.text()));
    }

    #[test]
    fn chunked_euc_jp_with_two_challenges() {
        let r = whole(fixture!("handmade-chunked-eucjp.bin"));
        assert_eq!(title(&r.text()).as_deref(), Some("ルーター 設定画面"));
        assert_eq!(
            r.auth_schemes(),
            vec!["Digest".to_string(), "Basic".to_string()]
        );
        assert_eq!(
            server_product(r.header("server").unwrap()),
            Some(("Aterm(HT)".to_string(), Some("1.0".to_string())))
        );
        let sig = SIGNATURES.iter().find(|s| s.vendor == "NEC").unwrap();
        assert_eq!(matches(sig, &r, &r.text()), Some(None));
    }

    #[test]
    fn portal_signatures() {
        let r = whole(fixture!("handmade-globalprotect-prelogin.bin"));
        let sig = SIGNATURES
            .iter()
            .find(|s| s.path == "/global-protect/prelogin.esp")
            .unwrap();
        assert_eq!(
            matches(sig, &r, &r.text()),
            Some(Some("10.2.4".to_string()))
        );

        let r = whole(fixture!("handmade-citrix-vpn-index.bin"));
        let sig = SIGNATURES
            .iter()
            .find(|s| s.path == "/vpn/index.html")
            .unwrap();
        assert_eq!(
            matches(sig, &r, &r.text()),
            Some(Some(
                "build-hash 6e7b2de88609868eeda0b1baf1d34a7e".to_string()
            ))
        );

        let r = whole(fixture!("nginx-fortigate-like.bin"));
        let sig = SIGNATURES.iter().find(|s| s.vendor == "Fortinet").unwrap();
        assert_eq!(matches(sig, &r, &r.text()), Some(None));
        // The 404 page matches no portal.
        let r = whole(fixture!("nginx-404.bin"));
        assert!(
            SIGNATURES
                .iter()
                .all(|s| matches(s, &r, &r.text()).is_none())
        );
    }

    #[test]
    fn framing_waits_for_the_body() {
        let bytes = fixture!("nginx-200-sjis.bin");
        for cut in 0..bytes.len() {
            assert_eq!(response_complete(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        let bytes = fixture!("handmade-chunked-eucjp.bin");
        for cut in 0..bytes.len() {
            assert_eq!(response_complete(&bytes[..cut]), Ok(None), "cut at {cut}");
            // A cut response still parses (what arrived before the limit).
            let _ = parse_response(&bytes[..cut]);
        }
    }

    #[test]
    fn malformed_responses() {
        assert!(matches!(
            parse_response(b"SSH-2.0-OpenSSH_9.2\r\n"),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 200 OK\r\nServer: x\r\n"),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n"),
            Err(Error::Invalid(_))
        ));
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(response_complete(&huge), Err(head_too_large(huge.len())));
        assert_eq!(parse_response(&huge), Err(head_too_large(huge.len())));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..(MAX_HEADERS + 1) {
            many.extend(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert!(matches!(parse_response(&many), Err(Error::TooMany { .. })));
        // Content-Length larger than what arrived: body is what arrived.
        let r = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 999999\r\n\r\nabc").unwrap();
        assert_eq!(r.body, b"abc");
        // Huge chunk size does not allocate.
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab",
        )
        .unwrap();
        assert_eq!(r.body, b"ab");
    }

    #[test]
    fn locations() {
        let b = base();
        assert_eq!(resolve_location(&b, "/x").unwrap().path, "/x");
        assert_eq!(resolve_location(&b, "c?d=1").unwrap().path, "/a/c?d=1");
        let t = resolve_location(&b, "//other.invalid/p").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.scheme.as_str()),
            ("other.invalid", 80, "http")
        );
        let t = resolve_location(&b, "HTTPS://[fe80::1]:8443").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("fe80::1", 8443, "/")
        );
        assert_eq!(resolve_location(&b, "ftp://x/"), None);
        assert_eq!(resolve_location(&b, "http://:80/"), None);
    }

    #[test]
    fn titles_and_forms() {
        assert_eq!(
            title("<TITLE>\n  A &amp;\tB &#x30ED;&#12464; </TITLE>").as_deref(),
            Some("A & B ログ")
        );
        assert_eq!(title("<title></title>"), None);
        assert_eq!(title("no title"), None);
        assert_eq!(
            title("<title>unterminated").as_deref(),
            Some("unterminated")
        );
        // Lower-casing that changes byte lengths (e.g. 'İ') must not slice off a boundary.
        assert_eq!(title("<title>İİ x</title>").as_deref(), Some("İİ x"));
        assert!(has_password_input("<input class=a type = 'password'>"));
        assert!(!has_password_input("<input type=text name=password>"));
    }

    #[test]
    fn charsets() {
        let sjis = "日本語".as_bytes().to_vec();
        assert_eq!(
            decode_body(&sjis, Some("text/html; charset=UTF-8")),
            "日本語"
        );
        let (euc, _, _) = encoding_rs::EUC_JP.encode("日本語");
        assert_eq!(
            decode_body(&euc, Some("text/html;charset=\"EUC-JP\"")),
            "日本語"
        );
        let (sj, _, _) = encoding_rs::SHIFT_JIS.encode("日本語");
        // No label, not UTF-8: Shift_JIS.
        assert_eq!(decode_body(&sj, None), "日本語");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            let _ = response_complete(&bytes);
            if let Ok(r) = parse_response(&bytes) {
                let text = r.text();
                let _ = title(&text);
                let _ = has_password_input(&text);
                let _ = r.auth_schemes();
                for s in SIGNATURES {
                    let _ = matches(s, &r, &text);
                }
            }
        }

        #[test]
        fn text_helpers_never_panic(s in ".{0,512}") {
            let _ = title(&s);
            let _ = has_password_input(&s);
            let _ = resolve_location(&base(), &s);
            let _ = server_product(&s);
            let _ = decode_body(s.as_bytes(), Some(&s));
        }
    }
}
