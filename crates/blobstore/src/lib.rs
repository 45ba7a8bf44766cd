//! Blob stores of mediadrive: content-addressed bytes behind the core's `BlobStore` port.

mod fs;
mod s3;

pub use fs::FsBlobStore;
pub use s3::S3BlobStore;

use mediadrive_core::{BlobError, ContentHash};

/// Where `hash` lives below a store's blobs root, `ab/cd/<hash>`: two levels of 256 folders keep
/// every folder small, and both stores lay bytes out alike so that one can be copied to the other.
fn address(hash: &ContentHash) -> [&str; 3] {
    let h = hash.as_str();
    [&h[0..2], &h[2..4], h]
}

/// A commit of bytes whose hash was not (or not so) computed by `finish`.
fn not_finished() -> BlobError {
    BlobError::Io(std::io::Error::other("staged blob not finished"))
}
