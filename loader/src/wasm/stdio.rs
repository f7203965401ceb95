//! A component's standard output and error, as lines of its log: a runtime's own error
//! reports (a Python traceback) reach whoever reads the host's logs.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tonearm_plugin_api::{Log, LogLevel};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// The longest line kept; the rest of a longer one is cut.
const MAX_LINE: usize = 4096;

/// One of a component's output streams, logged line by line at `level`.
#[derive(Clone)]
pub(super) struct LogStream {
    log: Arc<dyn Log>,
    level: LogLevel,
    /// The line being written, shared by every stream the guest opens on it.
    line: Arc<Mutex<Vec<u8>>>,
}

impl LogStream {
    pub(super) fn new(log: Arc<dyn Log>, level: LogLevel) -> Self {
        Self {
            log,
            level,
            line: Arc::default(),
        }
    }

    fn write(&self, bytes: &[u8]) {
        let mut line = self.line.lock().unwrap_or_else(PoisonError::into_inner);
        for &byte in bytes {
            if byte == b'\n' {
                self.log.log(self.level, &String::from_utf8_lossy(&line));
                line.clear();
            } else if line.len() < MAX_LINE {
                line.push(byte);
            }
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Lines(Mutex<Vec<(LogLevel, String)>>);

    impl Log for Lines {
        fn log(&self, level: LogLevel, message: &str) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((level, message.into()));
        }
    }

    #[test]
    fn output_becomes_whole_lines_of_the_log() {
        let lines = Arc::new(Lines::default());
        let stream = LogStream::new(lines.clone(), LogLevel::Warn);
        stream.write(b"Traceback (most");
        stream.write(b" recent call last):\n  File \"app.py\"\n");
        stream.write(&vec![b'x'; MAX_LINE + 10]);
        stream.write(b"\n");
        let lines = lines.0.lock().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(
            lines[0],
            (LogLevel::Warn, "Traceback (most recent call last):".into())
        );
        assert_eq!(lines[1].1, "  File \"app.py\"");
        assert_eq!(lines[2].1.len(), MAX_LINE, "a long line is cut");
    }
}
