//! Runs an axum router on its own thread and runtime, so any test can use it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use tokio::sync::oneshot;

/// Lets any web page call the fake, as Google's and Microsoft's APIs and token endpoints
/// let browser apps that send bearer tokens (not cookies): preflights are answered, and
/// every answer, errors included, is readable by the page.
async fn cors(request: Request, next: Next) -> Response {
    let any = HeaderValue::from_static("*");
    if request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let asked = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned();
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, any);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
        );
        if let Some(asked) = asked {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        }
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        return response;
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, any.clone());
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, any);
    response
}

/// When requests arrive and how long their answers are held back.
#[derive(Default)]
struct Pace {
    latency_micros: AtomicU64,
    /// Seconds a `200` or redirect answer may be reused for, as its `Cache-Control` says
    /// (0: no header, as the fakes answer by default).
    max_age_secs: AtomicU64,
    last_arrival: Mutex<Option<Instant>>,
}

/// Notes each request's arrival and holds its answer back by a settable time, as a real
/// service's round trip does.
async fn latency(
    axum::extract::State(pace): axum::extract::State<Arc<Pace>>,
    request: Request,
    next: Next,
) -> Response {
    *pace
        .last_arrival
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    let wait = pace.latency_micros.load(Ordering::Relaxed);
    if wait > 0 {
        tokio::time::sleep(Duration::from_micros(wait)).await;
    }
    let mut response = next.run(request).await;
    let max_age = pace.max_age_secs.load(Ordering::Relaxed);
    if max_age > 0
        && (response.status() == StatusCode::OK || response.status().is_redirection())
        && !response.headers().contains_key(header::CACHE_CONTROL)
        && let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age}"))
    {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// A server on 127.0.0.1 that stops when dropped.
pub struct Server {
    addr: SocketAddr,
    pace: Arc<Pace>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `router` on 127.0.0.1 at `port` (0 for any free port).
    pub fn start(router: axum::Router, port: u16) -> std::io::Result<Self> {
        let pace = Arc::new(Pace::default());
        let router = router
            .layer(axum::middleware::from_fn_with_state(pace.clone(), latency))
            .layer(axum::middleware::from_fn(cors));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-server")
            .enable_all()
            .build()?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("fake-server-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(e) = serve.await {
                        eprintln!("fake server on {addr} stopped: {e}");
                    }
                });
            })?;
        Ok(Self {
            addr,
            pace,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Delays every answer by `wait` from now on (none at first).
    pub fn set_latency(&self, wait: Duration) {
        let micros = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.pace.latency_micros.store(micros, Ordering::Relaxed);
    }

    /// Lets clients reuse every `200` and redirect answer for `age` from now on, with
    /// `Cache-Control: public, max-age` (`None`, as at first: no caching header).
    pub fn set_max_age(&self, age: Option<Duration>) {
        let secs = age.map_or(0, |a| a.as_secs().max(1));
        self.pace.max_age_secs.store(secs, Ordering::Relaxed);
    }

    /// When the latest request arrived (before its answer was held back), if any did.
    pub fn last_arrival(&self) -> Option<Instant> {
        *self
            .pace
            .last_arrival
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
