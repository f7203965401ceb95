//! The worker's implementations of the capabilities plugins use: synchronous, because the
//! plugin contract is, which a dedicated worker allows (`FileReaderSync`).

mod folder;
mod http;

pub use folder::PickedFolder;
pub use http::{WorkerHttp, send_xhr};
