//! The Tonearm host: loads plugins, keeps the library, syncs sources and decodes audio.
//!
//! The data flows plugin → loader (`tonearm-loader`) → [`registry`] → [`sync`] → [`library`] →
//! [`playback`], and every step reports on the one [`events`] bus. Nothing above the
//! loader knows how a plugin was loaded.

pub mod auth;
pub mod bundled;
pub mod capabilities;
pub mod config;
pub mod conformance;
pub mod library;
pub mod playback;
pub mod sync;

#[cfg(test)]
mod test_support;

pub use library::Library;
pub use registry::Registry;
pub use sync::{HostCapabilities, Tonearm};
pub use tonearm_core::{CoreEvent, EventBus, Received, Subscription};
pub use tonearm_core::{SyncOutcome, SyncRequest, TonearmError};
pub use tonearm_core::{events, registry};
