//! Presigned upload URLs for the filesystem backend: HMAC-SHA256 over everything the PUT may not change.

use hmac::{Hmac, Mac};
use mediadrive_core::FileId;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// What a presigned upload URL binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    pub file: FileId,
    pub size: u64,
    pub content_type: String,
    /// Unix seconds after which the URL is refused.
    pub expires: i64,
}

#[derive(Clone)]
pub struct UploadSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UploadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadSigner([redacted])")
    }
}

impl UploadSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, grant: &UploadGrant) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        // Newlines cannot occur in any field (ids are hex, content types are checked), so the
        // encoding is unambiguous.
        mac.update(
            format!(
                "PUT\n{}\n{}\n{}\n{}",
                grant.file, grant.size, grant.content_type, grant.expires
            )
            .as_bytes(),
        );
        mac
    }

    pub fn sign(&self, grant: &UploadGrant) -> String {
        hex::encode(self.mac(grant).finalize().into_bytes())
    }

    pub fn verify(&self, grant: &UploadGrant, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let expected = self.mac(grant).finalize().into_bytes();
        expected.as_slice().ct_eq(&given).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> UploadGrant {
        UploadGrant {
            file: FileId::parse("0123456789abcdef0123456789abcdef").unwrap(),
            size: 3145728,
            content_type: "video/mp4".into(),
            expires: 1_800_000_000,
        }
    }

    #[test]
    fn any_altered_field_breaks_the_signature() {
        let signer = UploadSigner::new(b"k".to_vec());
        let sig = signer.sign(&grant());
        assert!(signer.verify(&grant(), &sig));
        let altered = [
            UploadGrant {
                size: 3145729,
                ..grant()
            },
            UploadGrant {
                content_type: "video/webm".into(),
                ..grant()
            },
            UploadGrant {
                expires: 1_800_000_001,
                ..grant()
            },
            UploadGrant {
                file: FileId::parse("f123456789abcdef0123456789abcdef").unwrap(),
                ..grant()
            },
        ];
        for g in altered {
            assert!(!signer.verify(&g, &sig), "{g:?}");
        }
        assert!(!signer.verify(&grant(), "zz"));
        assert!(!UploadSigner::new(b"other".to_vec()).verify(&grant(), &sig));
    }
}
