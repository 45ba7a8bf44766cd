//! Blob stores of mediadrive: content-addressed bytes behind the core's `BlobStore` port.

mod fs;
mod s3;

pub use fs::FsBlobStore;
pub use s3::S3BlobStore;
