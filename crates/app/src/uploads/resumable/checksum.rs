//! A piece's checksum, computed over its bytes as they arrive (tus's checksum extension).

use sha1::Digest;

/// The algorithms a client may name, in the order a server offers them.
pub const ALGORITHMS: &str = "sha1,sha256,md5";

pub enum Checksum {
    Sha1(sha1::Sha1, Vec<u8>),
    Sha256(sha2::Sha256, Vec<u8>),
    Md5(md5::Md5, Vec<u8>),
}

impl Checksum {
    /// A checksum by `algorithm` that the piece's bytes must have; `None` for an algorithm not
    /// in [`ALGORITHMS`].
    pub fn new(algorithm: &str, expected: Vec<u8>) -> Option<Self> {
        Some(match algorithm {
            "sha1" => Self::Sha1(sha1::Sha1::new(), expected),
            "sha256" => Self::Sha256(sha2::Sha256::new(), expected),
            "md5" => Self::Md5(md5::Md5::new(), expected),
            _ => return None,
        })
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h, _) => h.update(bytes),
            Self::Sha256(h, _) => h.update(bytes),
            Self::Md5(h, _) => h.update(bytes),
        }
    }

    pub fn matches(self) -> bool {
        match self {
            Self::Sha1(h, want) => h.finalize().as_slice() == want,
            Self::Sha256(h, want) => h.finalize().as_slice() == want,
            Self::Md5(h, want) => h.finalize().as_slice() == want,
        }
    }
}
