//! The host's HTTP capability against real servers on 127.0.0.1: allowlists, pacing,
//! concurrency, retries and where the token goes.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use tonearm_fakes::Server;
use tonearm_net::{HttpService, HttpSettings};
use tonearm_plugin_api::{HttpClient, HttpRequest, PluginError, RateLimit};

fn get_request(url: String) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        url,
        headers: vec![],
        body: vec![],
    }
}

fn client(settings: HttpSettings, runtime: &tokio::runtime::Runtime) -> Arc<dyn HttpClient> {
    let _entered = runtime.enter();
    HttpService::new(settings)
        .unwrap()
        .client_for("test", vec!["127.0.0.1".into()], &[], None)
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn undeclared_hosts_are_refused_before_any_request() {
    let rt = runtime();
    let http = client(HttpSettings::default(), &rt);
    let err = http
        .send(get_request("http://localhost:9/x".into()))
        .unwrap_err();
    assert!(matches!(err, PluginError::Unauthorized(_)), "{err}");
}

#[test]
fn requests_are_paced_and_bounded_per_plugin() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (a, b) = (in_flight.clone(), most.clone());
    let server = Server::start(
        Router::new().route(
            "/slow",
            get(move || {
                let (a, b) = (a.clone(), b.clone());
                async move {
                    let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                    b.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    a.fetch_sub(1, Ordering::SeqCst);
                    "ok"
                }
            }),
        ),
        0,
    )
    .unwrap();
    let rt = runtime();
    let http = client(
        HttpSettings {
            concurrency: 2,
            requests_per_second: Some(40.0),
            ..HttpSettings::default()
        },
        &rt,
    );
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let http = http.clone();
            // Distinct requests: identical ones in flight would be sent once.
            let url = format!("{}/slow?n={i}", server.url());
            std::thread::spawn(move || http.send(get_request(url)).unwrap().status)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    // Eight requests at 40 per second start over at least 7/40 s; never more than two at once.
    assert!(started.elapsed() >= Duration::from_millis(175));
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "{} at once",
        most.load(Ordering::SeqCst)
    );
}

#[test]
fn a_server_that_always_says_retry_later_gets_a_bounded_number_of_tries() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::start(
        Router::new().route(
            "/never",
            get(move || {
                c.fetch_add(1, Ordering::SeqCst);
                async {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "0")],
                        "later",
                    )
                }
            }),
        ),
        0,
    )
    .unwrap();
    let rt = runtime();
    let http = client(
        HttpSettings {
            attempts: 4,
            ..HttpSettings::default()
        },
        &rt,
    );
    let answer = http
        .send(get_request(format!("{}/never", server.url())))
        .unwrap();
    // The last answer goes back to the plugin, which maps it to RateLimited.
    assert_eq!(answer.status, 429);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[test]
fn throttling_is_waited_out_and_redirects_are_returned() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let server = Server::start(
        Router::new()
            .route(
                "/busy",
                get(move || {
                    let c = c.clone();
                    async move {
                        match c.fetch_add(1, Ordering::SeqCst) {
                            0 => (
                                StatusCode::TOO_MANY_REQUESTS,
                                [("retry-after", "1")],
                                "wait",
                            ),
                            1 => (StatusCode::SERVICE_UNAVAILABLE, [("x-none", "")], "later"),
                            _ => (StatusCode::OK, [("x-none", "")], "done"),
                        }
                    }
                }),
            )
            .route(
                "/moved",
                get(|| async {
                    (
                        StatusCode::FOUND,
                        [("location", "http://elsewhere.invalid/")],
                    )
                }),
            )
            .route(
                "/echo-auth",
                get(|headers: HeaderMap| async move {
                    headers
                        .get("authorization")
                        .map_or("none".to_owned(), |v| v.to_str().unwrap_or("").to_owned())
                }),
            ),
        0,
    )
    .unwrap();
    let rt = runtime();
    let http = client(
        HttpSettings {
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            ..HttpSettings::default()
        },
        &rt,
    );
    let started = Instant::now();
    let answer = http
        .send(get_request(format!("{}/busy", server.url())))
        .unwrap();
    assert_eq!(
        (answer.status, answer.body.as_slice()),
        (200, b"done".as_slice())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );

    let moved = http
        .send(get_request(format!("{}/moved", server.url())))
        .unwrap();
    assert_eq!(moved.status, 302);
    assert_eq!(moved.header("location"), Some("http://elsewhere.invalid/"));

    // Without a signed-in session no token is ever added.
    let echoed = http
        .send(get_request(format!("{}/echo-auth", server.url())))
        .unwrap();
    assert_eq!(echoed.body, b"none");
}

/// Start times, as the server saw them, of requests two plugins send to one rate-limited
/// service at once; the service answers 503 with `Retry-After` to the `pause`th request.
fn starts_under_a_shared_budget(pause: Option<usize>) -> Vec<Duration> {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let s = seen.clone();
    let server = Server::start(
        Router::new().route(
            "/ws/2/recording",
            get(move || {
                let s = s.clone();
                async move {
                    let mut seen = s.lock().unwrap();
                    seen.push(Instant::now());
                    if Some(seen.len()) == pause {
                        return (
                            StatusCode::SERVICE_UNAVAILABLE,
                            [("retry-after", "1")],
                            "slow down",
                        );
                    }
                    (StatusCode::OK, [("retry-after", "0")], "{}")
                }
            }),
        ),
        0,
    )
    .unwrap();
    let rt = runtime();
    let service = {
        let _entered = rt.enter();
        Arc::new(
            HttpService::new(HttpSettings {
                requests_per_second: None,
                min_delay: Duration::from_millis(1),
                ..HttpSettings::default()
            })
            .unwrap(),
        )
    };
    // Two plugins of one service, each declaring 1 request per 200 ms for it.
    let limit = [RateLimit {
        host: format!("127.0.0.1:{}", server.port()),
        requests: 1,
        period_ms: 200,
    }];
    let clients: Vec<Arc<dyn HttpClient>> = ["musicbrainz", "coverart"]
        .iter()
        .map(|id| {
            let _entered = rt.enter();
            service
                .client_for(id, vec!["127.0.0.1".into()], &limit, None)
                .unwrap()
        })
        .collect();
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let http = clients[i % 2].clone();
            let url = format!("{}/ws/2/recording?n={i}", server.url());
            std::thread::spawn(move || http.send(get_request(url)).unwrap().status)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    let seen = seen.lock().unwrap();
    let first = seen[0];
    let mut starts: Vec<Duration> = seen.iter().map(|t| *t - first).collect();
    starts.sort();
    starts
}

#[test]
fn plugins_reaching_one_service_share_its_rate_limit() {
    let starts = starts_under_a_shared_budget(None);
    assert_eq!(starts.len(), 6);
    for pair in starts.windows(2) {
        // The server's clock reads a little after the start; allow it 20 ms of slack.
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(180),
            "two requests closer than the declared 200 ms: {starts:?}"
        );
    }
}

#[test]
fn a_503_with_retry_after_pauses_every_client_of_the_service() {
    // The second request is told to wait a second: the one retried, and every other
    // plugin's request, waits it out.
    let starts = starts_under_a_shared_budget(Some(2));
    assert_eq!(starts.len(), 7, "six requests and one retry: {starts:?}");
    assert!(
        starts[2] - starts[1] >= Duration::from_millis(950),
        "the request after the 503 did not wait: {starts:?}"
    );
}

#[test]
fn services_are_told_who_is_asking() {
    let server = Server::start(
        Router::new().route(
            "/ua",
            get(|headers: HeaderMap| async move {
                headers
                    .get("user-agent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            }),
        ),
        0,
    )
    .unwrap();
    let rt = runtime();
    let http = client(
        HttpSettings {
            contact: "ops@example.org".into(),
            ..HttpSettings::default()
        },
        &rt,
    );
    let answer = http
        .send(get_request(format!("{}/ua", server.url())))
        .unwrap();
    assert_eq!(
        String::from_utf8(answer.body).unwrap(),
        format!("Tonearm/{} ( ops@example.org )", env!("CARGO_PKG_VERSION"))
    );
}

/// Identical requests at once are sent once; an answer the server says is fresh for a
/// while is not asked for again; a stale one is revalidated with its ETag.
#[test]
fn identical_requests_are_sent_once_and_cached_answers_reused_as_their_headers_allow() {
    let hits = Arc::new(AtomicUsize::new(0));
    let conditional = Arc::new(AtomicUsize::new(0));
    let (h, c) = (hits.clone(), conditional.clone());
    let server = Server::start(
        Router::new()
            .route(
                "/fresh",
                get(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                    async {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        ([("cache-control", "max-age=3600")], "fresh")
                    }
                }),
            )
            .route(
                "/tagged",
                get(move |headers: HeaderMap| {
                    let c = c.clone();
                    async move {
                        if headers.get("if-none-match").is_some_and(|v| v == "\"v1\"") {
                            c.fetch_add(1, Ordering::SeqCst);
                            return (StatusCode::NOT_MODIFIED, [("etag", "\"v1\"")], "");
                        }
                        (StatusCode::OK, [("etag", "\"v1\"")], "tagged")
                    }
                }),
            ),
        0,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let service = {
        let _entered = rt.enter();
        HttpService::new(HttpSettings {
            cache_dir: Some(dir.path().to_owned()),
            requests_per_second: None,
            ..HttpSettings::default()
        })
        .unwrap()
    };
    let http = {
        let _entered = rt.enter();
        service
            .client_for("test", vec!["127.0.0.1".into()], &[], None)
            .unwrap()
    };
    let url = format!("{}/fresh", server.url());
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            std::thread::spawn(move || http.send(get_request(url)).unwrap().body)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), b"fresh");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "six at once, one sent");
    assert_eq!(http.send(get_request(url)).unwrap().body, b"fresh");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "a fresh answer is not asked for again"
    );

    let tagged = format!("{}/tagged", server.url());
    assert_eq!(
        http.send(get_request(tagged.clone())).unwrap().body,
        b"tagged"
    );
    assert_eq!(http.send(get_request(tagged)).unwrap().body, b"tagged");
    assert_eq!(
        conditional.load(Ordering::SeqCst),
        1,
        "revalidated with If-None-Match"
    );
    let stats = service.stats();
    assert_eq!((stats.cached, stats.revalidated), (1, 1), "{stats:?}");
    assert!(stats.coalesced >= 4, "{stats:?}");
}

#[test]
fn a_body_without_a_length_is_cut_off_at_the_limit() {
    // A chunked body that never ends, written by hand: the client must stop at its limit
    // instead of reading on.
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).is_err() {
                continue;
            }
            let chunk = [b'x'; 64 << 10];
            while stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .is_ok()
                && stream.write_all(&chunk).is_ok()
                && stream.write_all(b"\r\n").is_ok()
            {}
        }
    });
    let rt = runtime();
    let http = client(
        HttpSettings {
            max_body: 1 << 20,
            ..HttpSettings::default()
        },
        &rt,
    );
    let err = http
        .send(get_request(format!("http://{addr}/endless")))
        .unwrap_err();
    assert!(
        err.to_string().contains("larger than 1048576 bytes"),
        "{err}"
    );
}
