//! Content hashes: the address of a blob.

use std::fmt;

/// A BLAKE3 digest in lowercase hex; blobs are stored once per hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(String);

impl ContentHash {
    pub fn from_bytes(digest: [u8; 32]) -> Self {
        let mut s = String::with_capacity(64);
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        Self(s)
    }

    pub fn parse(hex: &str) -> Option<Self> {
        crate::ids::is_lower_hex(hex, 64).then(|| Self(hex.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Blob paths and keys are made from the hash alone (`blobs/ab/cd/<hash>`), so that only
        /// 64 lowercase hex digits ever parse is what keeps every stored byte inside the store.
        #[test]
        fn only_lowercase_hex_digests_parse(
            raw in prop_oneof!["\\PC{0,70}", "[0-9a-fA-F./\\\\%]{62,66}", "[0-9a-f]{64}"]
        ) {
            let parsed = ContentHash::parse(&raw);
            let hex = raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            prop_assert_eq!(parsed.is_some(), hex);
        }
    }

    #[test]
    fn hex_round_trip() {
        let h = ContentHash::from_bytes([0xab; 32]);
        assert_eq!(h.as_str().len(), 64);
        assert_eq!(ContentHash::parse(h.as_str()), Some(h));
        assert_eq!(ContentHash::parse("../../etc/passwd"), None);
    }

    #[test]
    fn digests_are_written_as_two_lowercase_digits_per_byte() {
        let mut digest = [0u8; 32];
        digest[0] = 0x01;
        digest[1] = 0xab;
        digest[31] = 0xf0;
        let h = ContentHash::from_bytes(digest);
        let expected = format!("01ab{}f0", "00".repeat(29));
        assert_eq!(h.as_str(), expected);
        assert_eq!(h.to_string(), expected);
    }
}
