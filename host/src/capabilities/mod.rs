//! The host's implementations of the capabilities plugins use for all their I/O.

mod bytes;
mod fs;
mod os;

pub use bytes::{FileByteSource, ProviderByteSource};
pub use fs::GrantedFolder;
pub use tonearm_core::log::{SystemClock, TracingLog};
pub use tonearm_core::state::MemoryState;
