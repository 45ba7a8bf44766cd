//! Blob stores of mediadrive: content-addressed bytes behind the core's `BlobStore` port.

mod fs;

pub use fs::FsBlobStore;
