//! The worker's implementations of the capabilities plugins use: synchronous, because the
//! plugin contract is, which a dedicated worker allows (`FileReaderSync`), and what it
//! grants each plugin of them.

mod folder;
mod grant;
#[cfg(feature = "_http")]
mod http;
#[cfg(feature = "_http")]
mod net;

pub use folder::PickedFolder;
pub(crate) use grant::WorkerCapabilities;
#[cfg(feature = "_http")]
pub use http::WorkerHttp;
#[cfg(feature = "_http")]
pub use net::WorkerNet;
