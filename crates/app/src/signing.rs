//! Presigned URLs: HMAC-SHA256 over everything the request may not change. Uploads for the
//! filesystem backend, and the Video Jungle surface's asset links.

use std::{
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
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

/// What a signed asset link binds: which asset, whether it downloads, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetGrant {
    pub asset: String,
    pub download: bool,
    /// Unix seconds after which the link is refused.
    pub expires: i64,
}

/// A request a URL may carry a signature for.
pub trait Grant {
    /// Newlines cannot occur in any field (ids are hex or UUIDs, content types are checked), and
    /// each kind of grant starts with its own word, so the encoding is unambiguous.
    fn message(&self) -> String;
}

impl Grant for UploadGrant {
    fn message(&self) -> String {
        format!(
            "PUT\n{}\n{}\n{}\n{}",
            self.file, self.size, self.content_type, self.expires
        )
    }
}

impl Grant for AssetGrant {
    fn message(&self) -> String {
        format!("ASSET\n{}\n{}\n{}", self.asset, self.download, self.expires)
    }
}

/// The keys URLs are signed with: the current one signs, and the ones a rotation retired still
/// verify until their overlap ends, so URLs handed out before it keep working until they expire.
#[derive(Clone)]
pub struct UploadSigner {
    keys: Arc<RwLock<Arc<SigningKeys>>>,
    /// When the keys were last reloaded because a signature did not verify.
    reloaded: Arc<Mutex<Option<Instant>>>,
}

struct SigningKeys {
    current: Vec<u8>,
    /// Each with the end of its overlap, checked on every use: a node need not reload to stop
    /// taking a key whose overlap ended.
    retired: Vec<(Vec<u8>, DateTime<Utc>)>,
}

/// A retired key, and until when it still verifies.
pub type RetiredKey = (Vec<u8>, DateTime<Utc>);

impl std::fmt::Debug for UploadSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UploadSigner([redacted])")
    }
}

impl UploadSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self::with_retired(key, Vec::new())
    }

    pub fn with_retired(current: Vec<u8>, retired: Vec<RetiredKey>) -> Self {
        let keys = Arc::new(SigningKeys { current, retired });
        Self {
            keys: Arc::new(RwLock::new(keys)),
            reloaded: Arc::default(),
        }
    }

    /// Takes the keys another node's rotation left in the catalog.
    pub fn replace(&self, current: Vec<u8>, retired: Vec<RetiredKey>) {
        *self.keys.write().expect("signing keys lock") = Arc::new(SigningKeys { current, retired });
    }

    /// Whether a signature that did not verify may reload the keys now: at most once per
    /// `gap`, so forged signatures cannot make every request a catalog read.
    pub fn may_reload(&self, gap: Duration) -> bool {
        let mut reloaded = self.reloaded.lock().expect("signing keys lock");
        if reloaded.is_some_and(|at| at.elapsed() < gap) {
            return false;
        }
        *reloaded = Some(Instant::now());
        true
    }

    fn keys(&self) -> Arc<SigningKeys> {
        self.keys.read().expect("signing keys lock").clone()
    }

    pub fn sign(&self, grant: &impl Grant) -> String {
        hex::encode(mac(&self.keys().current, grant).finalize().into_bytes())
    }

    pub fn verify(&self, grant: &impl Grant, signature: &str) -> bool {
        let Ok(given) = hex::decode(signature) else {
            return false;
        };
        let keys = self.keys();
        let now = Utc::now();
        let retired = keys.retired.iter().filter(|(_, until)| *until > now);
        std::iter::once(&keys.current)
            .chain(retired.map(|(key, _)| key))
            .any(|key| {
                let expected = mac(key, grant).finalize().into_bytes();
                bool::from(expected.as_slice().ct_eq(&given))
            })
    }
}

fn mac(key: &[u8], grant: &impl Grant) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(grant.message().as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn a_retired_key_verifies_until_its_overlap_ends_and_never_signs() {
        let old = UploadSigner::new(b"old".to_vec());
        let signed_before = old.sign(&grant());
        let later = Utc::now() + chrono::Duration::minutes(5);
        let signer = UploadSigner::with_retired(b"new".to_vec(), vec![(b"old".to_vec(), later)]);
        assert!(signer.verify(&grant(), &signed_before));
        assert_ne!(
            signer.sign(&grant()),
            signed_before,
            "the current key signs"
        );
        let ended = Utc::now() - chrono::Duration::seconds(1);
        signer.replace(b"new".to_vec(), vec![(b"old".to_vec(), ended)]);
        assert!(!signer.verify(&grant(), &signed_before));
        assert!(signer.verify(&grant(), &signer.sign(&grant())));
    }

    #[test]
    fn an_asset_link_binds_its_asset_disposition_and_expiry() {
        let signer = UploadSigner::new(b"k".to_vec());
        let grant = AssetGrant {
            asset: "9c5e9ddd-2b99-49a5-9188-9dc10e06de67".into(),
            download: false,
            expires: 1_800_000_000,
        };
        let sig = signer.sign(&grant);
        assert!(signer.verify(&grant, &sig));
        let download = AssetGrant {
            download: true,
            ..grant.clone()
        };
        assert!(!signer.verify(&download, &sig));
        let later = AssetGrant {
            expires: 1_800_000_001,
            ..grant.clone()
        };
        assert!(!signer.verify(&later, &sig));
    }

    fn any_upload_grant() -> impl Strategy<Value = UploadGrant> {
        (
            "[0-9a-f]{32}",
            any::<u64>(),
            "[a-z]{1,10}/[a-z0-9.+-]{1,20}",
            any::<i64>(),
        )
            .prop_map(|(file, size, content_type, expires)| UploadGrant {
                file: FileId::parse(&file).unwrap(),
                size,
                content_type,
                expires,
            })
    }

    proptest! {
        /// A signature holds for its own grant only: change any one field, or any one character
        /// of the signature, and it is refused.
        #[test]
        fn a_signature_verifies_its_own_grant_and_nothing_else(
            grant in any_upload_grant(),
            other in any_upload_grant(),
            field in 0usize..4,
            flip in 0usize..64,
            key in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let signer = UploadSigner::new(key);
            let sig = signer.sign(&grant);
            prop_assert!(signer.verify(&grant, &sig));
            let mut altered = grant.clone();
            match field {
                0 => altered.file = other.file,
                1 => altered.size = other.size,
                2 => altered.content_type = other.content_type,
                _ => altered.expires = other.expires,
            }
            prop_assert_eq!(signer.verify(&altered, &sig), altered == grant);
            let mut tampered = sig.clone().into_bytes();
            tampered[flip] = if tampered[flip] == b'0' { b'1' } else { b'0' };
            prop_assert!(!signer.verify(&grant, std::str::from_utf8(&tampered).unwrap()));
            prop_assert!(!signer.verify(&grant, &sig[..flip]));
        }

        #[test]
        fn made_up_signatures_are_refused(grant in any_upload_grant(), sig in "\\PC{0,130}") {
            prop_assert!(!UploadSigner::new(b"k".to_vec()).verify(&grant, &sig));
        }
    }

    /// URLs signed by one node are verified by another, and by releases before and after this
    /// one: the signed text and its encoding are fixed. (HMAC-SHA256 as Python's `hmac` makes it.)
    #[test]
    fn signatures_are_hmac_sha256_of_the_fixed_text_in_lowercase_hex() {
        let signer = UploadSigner::new(b"k".to_vec());
        assert_eq!(
            grant().message(),
            "PUT\n0123456789abcdef0123456789abcdef\n3145728\nvideo/mp4\n1800000000"
        );
        assert_eq!(
            signer.sign(&grant()),
            "36c53df56aa5353b93425fd4051e68072b1b93f69d866074e32e0ae737718fb1"
        );
        let asset = AssetGrant {
            asset: "9c5e9ddd-2b99-49a5-9188-9dc10e06de67".into(),
            download: false,
            expires: 1_800_000_000,
        };
        assert_eq!(
            asset.message(),
            "ASSET\n9c5e9ddd-2b99-49a5-9188-9dc10e06de67\nfalse\n1800000000"
        );
        let sig = signer.sign(&asset);
        assert_eq!(
            sig,
            "ca441ec1386afa702243a2c5707b1b428d29d0c6c1e2e0f2c758be332898346b"
        );
        // Hex digits in either case decode to the same bytes.
        assert!(signer.verify(&asset, &sig.to_uppercase()));
    }

    #[test]
    fn the_key_never_appears_in_debug_output() {
        let signer = UploadSigner::new(b"very-secret-key".to_vec());
        assert_eq!(format!("{signer:?}"), "UploadSigner([redacted])");
    }
}
