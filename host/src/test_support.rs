//! Fakes shared by the host's unit tests.

pub use tonearm_core::testing::fixed_score_decoder;
