//! The portable Tonearm core: what the native host and the browser bundle share.
//!
//! Plugins as the host holds them ([`plugin`]), the [`registry`] that picks among them,
//! the [`guard`] every plugin call goes through, and the one [`events`] bus. Nothing here
//! touches a file, a socket or a thread of its own, so it builds for
//! `wasm32-unknown-unknown` as it does natively.

pub mod events;
pub mod guard;
pub mod log;
pub mod net;
pub mod plugin;
pub mod registry;
pub mod state;
#[doc(hidden)]
pub mod testing;

pub use events::{CoreEvent, EventBus, Received, Subscription};
pub use registry::Registry;
