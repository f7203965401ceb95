//! Serving the fake on 127.0.0.1, on a thread of its own, for tests and `main`.

/// A running fake.
#[derive(Debug)]
pub struct Running {
    url: String,
}

impl Running {
    /// Its address, the plugin's `endpoint.api`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Starts a fake on a free port of 127.0.0.1.
pub fn start() -> std::io::Result<Running> {
    start_on("127.0.0.1:0")
}

/// Starts a fake on `addr`.
pub fn start_on(addr: &str) -> std::io::Result<Running> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}", listener.local_addr()?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(listener, super::router()).await;
            }
        });
    });
    Ok(Running { url })
}
