//! The worker's implementations of the capabilities plugins use: synchronous, because the
//! plugin contract is, which a dedicated worker allows (`FileReaderSync`).

mod folder;
#[cfg(feature = "_http")]
mod http;
#[cfg(feature = "_http")]
mod net;

pub use folder::PickedFolder;
#[cfg(feature = "_http")]
pub use http::WorkerHttp;
#[cfg(feature = "_http")]
pub use net::WorkerNet;
