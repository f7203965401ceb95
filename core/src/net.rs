//! Rules about URLs that every host applies alike: which hosts a plugin may reach, and how
//! a URL may appear in a log.

use std::collections::BTreeMap;

use url::Url;

/// The hosts a plugin instance may reach: its manifest's, and those of the endpoints the
/// user configured for it (`endpoint.*` settings), which the user chose explicitly.
pub fn allowed_hosts(declared: &[String], settings: &BTreeMap<String, String>) -> Vec<String> {
    let mut hosts = declared.to_vec();
    for (key, value) in settings {
        if key.starts_with("endpoint.")
            && let Some(host) = host_of(value)
            && !hosts.contains(&host)
        {
            hosts.push(host);
        }
    }
    hosts
}

/// The host of `url`, lowercased; `None` if it is not a URL with a host.
pub fn host_of(url: &str) -> Option<String> {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// Whether `url`'s host is one of `allowed` (`example.com` exactly, `*.example.com` any
/// subdomain).
pub fn host_allowed(url: &str, allowed: &[String]) -> bool {
    let Some(host) = Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.username().is_empty())
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    allowed.iter().any(|a| match a.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{}", domain.to_ascii_lowercase())),
        None => host == a.to_ascii_lowercase(),
    })
}

/// A URL as it may appear in logs: scheme, host and path, never the query (pre-signed
/// download URLs carry credentials there) or user info.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => {
            let query = if u.query().is_some() { "?…" } else { "" };
            format!("{}{}{query}", origin(url), u.path())
        }
        Err(_) => "<invalid url>".into(),
    }
}

/// `scheme://host:port` of a URL, the port always stated; empty if it does not parse.
pub fn origin(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| {
            Some(format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str()?.to_ascii_lowercase(),
                u.port_or_known_default()?
            ))
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_matched_exactly_or_by_subdomain() {
        let allowed = vec!["api.example.com".to_owned(), "*.cdn.example.net".to_owned()];
        assert!(host_allowed("https://api.example.com/v1?x=1", &allowed));
        assert!(host_allowed("https://API.example.com:443/", &allowed));
        assert!(host_allowed("https://a.b.cdn.example.net/file", &allowed));
        assert!(!host_allowed("https://cdn.example.net/file", &allowed));
        assert!(!host_allowed("https://api.example.com.evil.org/", &allowed));
        assert!(!host_allowed(
            "https://user@evil.org@api.example.com/",
            &allowed
        ));
        assert!(!host_allowed("ftp://api.example.com/", &allowed));
        assert!(!host_allowed("not a url", &allowed));
    }

    #[test]
    fn configured_endpoints_add_their_hosts() {
        let settings = BTreeMap::from([
            ("endpoint.api".to_owned(), "http://127.0.0.1:9/x".to_owned()),
            (
                "folder".to_owned(),
                "http://not-an-endpoint.example/".to_owned(),
            ),
        ]);
        let hosts = allowed_hosts(&["api.example.com".to_owned()], &settings);
        assert_eq!(hosts, ["api.example.com", "127.0.0.1"]);
    }

    #[test]
    fn logs_never_see_queries_or_credentials() {
        assert_eq!(
            redact("https://u:p@dl.example.com/f?tempauth=SECRET"),
            "https://dl.example.com:443/f?…"
        );
        assert_eq!(redact("http://127.0.0.1:9/a/b"), "http://127.0.0.1:9/a/b");
        assert_eq!(origin("https://Example.com/x"), "https://example.com:443");
    }
}
