//! Rules about the network that every host applies alike: which hosts a plugin may reach,
//! how a URL may appear in a log, how fast a service may be asked ([`pace`]) and when an
//! answer may be reused ([`cache`]). Hosts send the requests; this module only decides.

pub mod cache;
pub mod pace;

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

/// The rate limits a plugin's requests keep to: those its manifest declares, and for each
/// host an `endpoint.*` setting points to instead (a mirror, a local test server), the
/// strictest of them: a mirror of a service is owed the service's courtesy.
pub fn rate_limits(
    declared: &[tonearm_plugin_api::RateLimit],
    settings: &BTreeMap<String, String>,
) -> Vec<tonearm_plugin_api::RateLimit> {
    let mut limits = declared.to_vec();
    // The fewest requests per millisecond: compare a/p by cross-multiplying.
    let strictest = declared
        .iter()
        .min_by_key(|l| (u64::from(l.requests.max(1)) << 32) / u64::from(l.period_ms.max(1)))
        .cloned();
    if let Some(strictest) = strictest {
        for (key, value) in settings {
            // With its port: a test server on 127.0.0.1 must not slow down others there.
            if key.starts_with("endpoint.")
                && let Some(host) = authority_of(value)
                && !limits.iter().any(|l| l.host.eq_ignore_ascii_case(&host))
            {
                limits.push(tonearm_plugin_api::RateLimit {
                    host,
                    ..strictest.clone()
                });
            }
        }
    }
    limits
}

/// The host of `url` with its port if it names one (`127.0.0.1:8080`), lowercased; `None`
/// if it is not a URL with a host.
pub fn authority_of(url: &str) -> Option<String> {
    let parsed = Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
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

/// How long a `Retry-After` header asks to wait (seconds or an HTTP date, RFC 9110
/// §10.2.3), as of `now`; `None` if it is neither.
pub fn retry_after(value: &str, now: std::time::SystemTime) -> Option<std::time::Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
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

    #[test]
    fn configured_endpoints_keep_the_strictest_declared_rate() {
        use tonearm_plugin_api::RateLimit;
        let declared = [
            RateLimit::per_second("musicbrainz.org", 1),
            RateLimit::per_second("api.acoustid.org", 3),
        ];
        let settings = BTreeMap::from([
            (
                "endpoint.api".to_owned(),
                "http://127.0.0.1:8080".to_owned(),
            ),
            ("page_size".to_owned(), "http://not.an.endpoint".to_owned()),
        ]);
        let limits = rate_limits(&declared, &settings);
        assert_eq!(limits.len(), 3);
        assert_eq!(limits[2].host, "127.0.0.1:8080");
        assert_eq!((limits[2].requests, limits[2].period_ms), (1, 1000));
        assert!(
            rate_limits(&[], &settings).is_empty(),
            "no limit declared, none made up"
        );
    }
}
