//! Checks for metadata sources, through a scripted HTTP capability instead of the service:
//! what a source asks with odd queries, where it sends requests, and what it answers when
//! the service has nothing, fails, or answers garbage.
//!
//! Any source can be certified this way, in any form, without its service or a fake of
//! it: the suite plays a service that answers `404`, then `5xx`, then an HTML error page,
//! then empty JSON, to every request. What a source does with real answers is its own
//! tests' business (against a fake of its service, as Tonearm's plugins do).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tonearm_plugin_api::{
    Artwork, ArtworkRequest, Candidate, Fingerprint, HostContext, HttpClient, HttpRequest,
    HttpResponse, Lyrics, MetadataFeatures, MetadataSource, PluginError, PluginKind,
    PluginManifest, PluginResult, TrackQuery, TrackTags,
};

use crate::{Report, guarded};

/// How long one call may take (every request is answered at once here).
const DEADLINE: Duration = Duration::from_secs(30);

/// Requests one call may send: a source that needs more makes one track cost minutes at
/// the one request a second services such as MusicBrainz allow.
pub const MAX_REQUESTS_PER_CALL: usize = 10;

/// Creates an instance of the source over a context (a builtin's descriptor, a loaded
/// native library's or component's factory).
pub type Create = Arc<dyn Fn(&HostContext) -> PluginResult<Arc<dyn MetadataSource>> + Send + Sync>;

/// What the scripted service answers every request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// `404` with a JSON error: it has nothing.
    Nothing,
    /// `503`, then `500`: it is down.
    Down,
    /// `200` with an HTML page: a proxy's error page, a captive portal.
    Garbage,
    /// `200` with empty JSON (`{}` for objects, `[]` for arrays, by what was asked).
    Empty,
}

/// The HTTP capability the suite hands the source: it answers as the scripted service
/// and keeps every URL asked for.
struct Scripted {
    service: Mutex<Service>,
    asked: Mutex<Vec<String>>,
    down_calls: Mutex<usize>,
}

impl Scripted {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            service: Mutex::new(Service::Nothing),
            asked: Mutex::new(Vec::new()),
            down_calls: Mutex::new(0),
        })
    }

    fn set(&self, service: Service) {
        *self.service.lock().unwrap_or_else(PoisonError::into_inner) = service;
    }

    /// The URLs asked since the last call, which are forgotten.
    fn take_asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.asked.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl HttpClient for Scripted {
    fn send(&self, request: HttpRequest) -> PluginResult<HttpResponse> {
        self.asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request.url.clone());
        let service = *self.service.lock().unwrap_or_else(PoisonError::into_inner);
        let json = |status: u16, body: &str| HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        };
        Ok(match service {
            Service::Nothing => json(404, r#"{"error":"Not Found"}"#),
            Service::Down => {
                let mut calls = self
                    .down_calls
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *calls += 1;
                let mut answer = json(if calls.is_multiple_of(2) { 500 } else { 503 }, "{}");
                answer.headers.push(("retry-after".into(), "0".into()));
                answer
            }
            Service::Garbage => HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "text/html".into())],
                body: b"<html><body>502 Bad Gateway</body></html>".to_vec(),
            },
            Service::Empty => json(
                200,
                if request.url.contains("search") {
                    "[]"
                } else {
                    "{}"
                },
            ),
        })
    }
}

/// Odd but valid tracks to identify or find lyrics for.
fn queries() -> Vec<(&'static str, TrackQuery)> {
    let tags = |title: &str, artist: &str| TrackTags {
        title: Some(title.into()),
        artists: vec![artist.into()],
        ..TrackTags::default()
    };
    vec![
        ("a track with no tags", TrackQuery::default()),
        (
            "a plain track",
            TrackQuery {
                tags: TrackTags {
                    album: Some("An Album".into()),
                    track_number: Some(3),
                    year: Some(2001),
                    ..tags("A Song", "A Band")
                },
                duration_ms: Some(215_000),
                fingerprint: None,
            },
        ),
        (
            "query syntax and non-Latin text",
            TrackQuery {
                tags: tags(
                    r#"AC/DC: "Live" (+ - && || ! { } [ ] ^ ~ * ? \ /)"#,
                    "坂本龍一 & Ånström",
                ),
                duration_ms: Some(1),
                fingerprint: None,
            },
        ),
        (
            "ids only, one not an id",
            TrackQuery {
                tags: TrackTags {
                    musicbrainz_recording_id: Some("../../not-an-mbid?x=1".into()),
                    isrc: Some("GBAYE0601498".into()),
                    ..TrackTags::default()
                },
                duration_ms: None,
                fingerprint: Some(Fingerprint {
                    algorithm: "chromaprint".into(),
                    value: "AQAAA".into(),
                    duration_s: 30,
                }),
            },
        ),
        (
            "a very long title",
            TrackQuery {
                tags: tags(&"la ".repeat(4000), "x"),
                duration_ms: Some(u64::MAX),
                fingerprint: None,
            },
        ),
    ]
}

/// Odd but valid cover requests.
fn artwork_requests() -> Vec<(&'static str, ArtworkRequest)> {
    vec![
        ("no ids", ArtworkRequest::default()),
        (
            "a release, a thumbnail",
            ArtworkRequest {
                release_id: Some("76df3287-6cda-33eb-8e9a-044b5e15ffdd".into()),
                recording_id: None,
                max_edge: Some(250),
            },
        ),
        (
            "ids that are not ids, the original size",
            ArtworkRequest {
                release_id: Some("../../etc/passwd".into()),
                recording_id: Some("?&#".into()),
                max_edge: None,
            },
        ),
    ]
}

/// One call's answer, comparable across runs.
#[derive(Debug, PartialEq)]
enum Answer {
    Candidates(Vec<Candidate>),
    Artwork(Option<Artwork>),
    Lyrics(Option<Lyrics>),
}

/// One call of a capability on one input.
type Call = Box<dyn Fn(&dyn MetadataSource) -> PluginResult<Answer> + Send + Sync>;

/// The calls of one capability on every odd input.
type Calls = Vec<(String, Call)>;

fn calls(capability: &str) -> Calls {
    match capability {
        "identify" => queries()
            .into_iter()
            .map(|(name, q)| {
                let call: Call = Box::new(move |s| s.identify(&q).map(Answer::Candidates));
                (format!("identify {name}"), call)
            })
            .collect(),
        "lyrics" => queries()
            .into_iter()
            .map(|(name, q)| {
                let call: Call = Box::new(move |s| s.lyrics(&q).map(Answer::Lyrics));
                (format!("lyrics of {name}"), call)
            })
            .collect(),
        _ => artwork_requests()
            .into_iter()
            .map(|(name, r)| {
                let call: Call = Box::new(move |s| s.artwork(&r).map(Answer::Artwork));
                (format!("artwork for {name}"), call)
            })
            .collect(),
    }
}

/// Whether `url`'s host is among `declared` (`example.com`, `*.example.com`).
fn declared(url: &str, declared: &[String]) -> bool {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    declared.iter().any(|d| match d.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => host == d.to_ascii_lowercase(),
    })
}

/// What each capability's manifest flag says.
fn offered(features: &MetadataFeatures) -> Vec<(&'static str, bool)> {
    vec![
        ("identify", features.identify),
        ("artwork", features.artwork),
        ("lyrics", features.lyrics),
    ]
}

/// Certifies a metadata source: `create` makes an instance over the context it is given.
pub fn check(manifest: &PluginManifest, create: Create) -> Report {
    let mut report = Report::new(&manifest.id);
    report.record(
        "the manifest declares a metadata source that offers something",
        {
            if manifest.kind != PluginKind::MetadataSource {
                Err(format!("its kind is {}", manifest.kind))
            } else if offered(&manifest.metadata).iter().all(|(_, on)| !on) {
                Err("its manifest's `metadata` offers neither identify, artwork nor lyrics".into())
            } else {
                Ok(())
            }
        },
    );
    let hosts = manifest.capabilities.http_hosts.clone();
    report.record("its rate limits are well formed and name declared hosts", {
        let bad: Vec<String> = manifest
            .capabilities
            .rate_limits
            .iter()
            .filter(|l| {
                l.requests == 0
                    || l.period_ms == 0
                    || !declared(
                        &format!("https://{}/", l.host.trim_start_matches("*.")),
                        &hosts,
                    ) && !hosts.contains(&l.host)
            })
            .map(|l| format!("{} ({} per {} ms)", l.host, l.requests, l.period_ms))
            .collect();
        if bad.is_empty() {
            Ok(())
        } else {
            Err(format!("bad limits: {}", bad.join(", ")))
        }
    });

    let http = Scripted::new();
    let ctx = crate::host::test_context(&manifest.id).with_http(http.clone());
    let source = match create(&ctx) {
        Ok(source) => source,
        Err(e) => {
            report.record("it starts with HTTP granted", Err(e.to_string()));
            return report;
        }
    };
    report.record("it starts with HTTP granted", Ok(()));

    for (capability, on) in offered(&manifest.metadata) {
        if !on {
            http.set(Service::Nothing);
            let calls = calls(capability);
            let Some((name, call)) = calls.into_iter().next() else {
                continue;
            };
            let s = source.clone();
            report.record(
                format!("{capability}, not offered, answers unsupported"),
                guarded(DEADLINE, move || match call(s.as_ref()) {
                    Err(PluginError::Unsupported(_)) => Ok(()),
                    other => Err(format!("{name}: {other:?}")),
                }),
            );
            http.take_asked();
            continue;
        }
        for service in [
            Service::Nothing,
            Service::Down,
            Service::Garbage,
            Service::Empty,
        ] {
            http.set(service);
            let mut failures = Vec::new();
            for (name, call) in calls(capability) {
                let call = Arc::new(call);
                let ask = |call: Arc<Call>| {
                    let s = source.clone();
                    guarded(DEADLINE, move || Ok(format!("{:?}", call(s.as_ref()))))
                };
                let first = ask(call.clone());
                let asked = http.take_asked();
                let judged = match &first {
                    Err(hang_or_panic) => Err(hang_or_panic.clone()),
                    Ok(answer) => judge(capability, service, answer, &asked, &hosts),
                };
                if let Err(why) = judged {
                    failures.push(format!("{name}: {why}"));
                    continue;
                }
                if service == Service::Empty {
                    // The same question to the same service: the same answer.
                    let second = ask(call);
                    http.take_asked();
                    if second != first {
                        failures.push(format!("{name}: answered {first:?}, then {second:?}"));
                    }
                }
            }
            let label = match service {
                Service::Nothing => "a service that has nothing (404)",
                Service::Down => "a service that is down (503, 500)",
                Service::Garbage => "a service that answers an HTML page",
                Service::Empty => "a service that answers empty JSON",
            };
            report.record(
                format!("{capability} against {label}"),
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err(failures.join("; "))
                },
            );
        }
    }
    report
}

/// Whether one call's `answer` (its `Debug`) is right for `service`, given the requests
/// it sent.
fn judge(
    capability: &str,
    service: Service,
    answer: &str,
    asked: &[String],
    hosts: &[String],
) -> Result<(), String> {
    if let Some(url) = asked.iter().find(|u| !declared(u, hosts)) {
        return Err(format!(
            "asked {url}, whose host its manifest does not declare"
        ));
    }
    if asked.len() > MAX_REQUESTS_PER_CALL {
        return Err(format!(
            "sent {} requests for one call (at most {MAX_REQUESTS_PER_CALL})",
            asked.len()
        ));
    }
    if answer.starts_with("Err(Internal(") {
        return Err(format!("failed as a plugin: {answer}"));
    }
    if answer.starts_with("Err(Unsupported(") {
        return Err(format!(
            "its manifest offers {capability}, but it answered {answer}"
        ));
    }
    let refused_input = answer.starts_with("Err(Invalid(");
    let nothing = matches!(
        answer,
        "Ok(Candidates([]))" | "Ok(Artwork(None))" | "Ok(Lyrics(None))"
    );
    match service {
        // Nothing is an answer, not an error (an input it refuses is fine too).
        Service::Nothing | Service::Empty => {
            if answer.starts_with("Ok(") || refused_input {
                Ok(())
            } else {
                Err(format!("the service had nothing, and it answered {answer}"))
            }
        }
        // A failure must say so when the source asked; no made-up answer.
        Service::Down => {
            if asked.is_empty() || refused_input || answer.starts_with("Err(") {
                Ok(())
            } else {
                Err(format!("the service was down, and it answered {answer}"))
            }
        }
        // An image is the host's to check; JSON answers must not be made up from HTML.
        Service::Garbage => {
            if capability == "artwork"
                || asked.is_empty()
                || refused_input
                || nothing
                || answer.starts_with("Err(")
            {
                Ok(())
            } else {
                Err(format!(
                    "the service answered an HTML page, and it answered {answer}"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_by_wildcard() {
        let hosts = vec!["musicbrainz.org".to_owned(), "*.archive.org".to_owned()];
        assert!(declared(
            "https://musicbrainz.org/ws/2/recording?q=1",
            &hosts
        ));
        assert!(declared("https://ia800.us.archive.org/x.jpg", &hosts));
        assert!(!declared("https://archive.org.evil.example/x", &hosts));
        assert!(!declared(
            "https://user@evil.example/?musicbrainz.org",
            &hosts
        ));
        assert!(!declared("not a url", &hosts));
    }
}
