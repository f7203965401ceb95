//! The portable Tonearm core: what the native host and the browser bundle share.
//!
//! Plugins as the host holds them ([`plugin`]), the [`registry`] that picks among them,
//! the [`guard`] every plugin call goes through, the one [`events`] bus, the [`library`]
//! interface both platforms' stores implement, and the [`sync`] engine that fills it. Nothing here
//! touches a file, a socket or a thread of its own, so it builds for
//! `wasm32-unknown-unknown` as it does natively.

#[cfg(feature = "oauth")]
pub mod auth;
pub mod bytes;
pub mod cache;
pub mod enrich;
pub mod events;
pub mod guard;
pub mod library;
pub mod log;
pub mod net;
pub mod playback;
pub mod player;
pub mod plugin;
pub mod registry;
pub mod sources;
pub mod state;
pub mod sync;
#[doc(hidden)]
pub mod testing;
pub mod tonearm;

pub use events::{CoreEvent, EventBus, Received, Subscription};
pub use library::LibraryStore;
pub use registry::Registry;
#[cfg(feature = "oauth")]
pub use tonearm::{OAuthClient, SignIn, SignInError, SignInStart};
pub use tonearm::{SyncOutcome, SyncRequest, Tonearm, TonearmError};

/// `Send` natively, where async work moves between threads; nothing in the browser, whose
/// one thread owns handles (IndexedDB, `File`) that cannot move.
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub trait MaybeSend: Send {}
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` natively, where async work moves between threads; nothing in the browser, whose
/// one thread owns handles (IndexedDB, `File`) that cannot move.
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub trait MaybeSend {}
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` natively; nothing in the browser (see [`MaybeSend`]).
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
pub trait MaybeSync: Sync {}
#[cfg(not(all(target_arch = "wasm32", not(target_os = "wasi"))))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` natively; nothing in the browser (see [`MaybeSend`]).
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
pub trait MaybeSync {}
#[cfg(all(target_arch = "wasm32", not(target_os = "wasi")))]
impl<T: ?Sized> MaybeSync for T {}
