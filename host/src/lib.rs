//! Tonearm on a native platform: what providers are granted here (folders, file bytes,
//! the network of `tonearm-net`), the facade over the SQLite store
//! (`tonearm-store-sqlite`) as [`Tonearm`], decoding to files, the config file, and the
//! conformance harness for folder providers. The `tonearm` command (`cli/`) and native
//! apps build on it.
//!
//! The data flows plugin → loader (`tonearm-loader`) → [`registry`] → [`sync`] → library →
//! [`playback`], and every step reports on the one [`events`] bus. Nothing above the
//! loader knows how a plugin was loaded.

pub mod cache;
pub mod capabilities;
pub mod config;
pub mod conformance;
pub mod playback;
pub mod player;
pub mod plugins;
pub mod sync;

#[cfg(test)]
mod test_support;

pub use registry::Registry;
pub use sync::{HostCapabilities, Tonearm};
pub use tonearm_core::{CoreEvent, EventBus, Received, Subscription};
pub use tonearm_core::{OAuthClient, SignIn, SignInError, SignInStart};
pub use tonearm_core::{SyncOutcome, SyncRequest, TonearmError};
pub use tonearm_core::{enrich, events, registry};
pub use tonearm_store_sqlite::SqliteStore;
