//! The host's implementations of the capabilities plugins use for all their I/O.

mod bytes;
mod fs;
pub mod http;
mod log;
mod state;

pub use bytes::{FileByteSource, ProviderByteSource};
pub use fs::GrantedFolder;
pub use http::{HttpService, HttpSettings};
pub use log::{SystemClock, TracingLog};
pub use state::{MemoryState, SqliteState};
