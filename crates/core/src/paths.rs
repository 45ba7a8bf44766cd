//! Folder paths and file names, sanitised once as seed 002 says.

use std::fmt;

const MAX_NAME_LEN: usize = 255;
const MAX_FOLDER_LEN: usize = 1024;
const MAX_FOLDER_DEPTH: usize = 32;

/// The folder whose files are temporary and expire on their own (seed 002).
pub const TEMP_FOLDER: &str = "temp";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("Invalid folder name")]
    InvalidFolder,
    #[error("Invalid file name")]
    InvalidName,
}

/// A folder path relative to the tenant's root: segments of `[a-zA-Z0-9_-]+` joined by `/`; empty is the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FolderPath(String);

impl FolderPath {
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Drops every character outside `[a-zA-Z0-9/_-]` (seed 002), then empty segments.
    /// An input that had content but sanitises to nothing is an error, so it cannot land at the root by accident.
    pub fn sanitise(raw: &str) -> Result<Self, PathError> {
        let kept: String = raw
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'))
            .collect();
        let segments: Vec<&str> = kept.split('/').filter(|s| !s.is_empty()).collect();
        if segments.is_empty() {
            return Err(PathError::InvalidFolder);
        }
        Self::from_segments(&segments)
    }

    /// Like [`FolderPath::sanitise`], but an absent or blank input is the root (seed 002: "If empty, the file lands at the root").
    pub fn sanitise_or_root(raw: Option<&str>) -> Result<Self, PathError> {
        match raw.map(str::trim) {
            None | Some("") | Some("/") => Ok(Self::root()),
            Some(s) => Self::sanitise(s),
        }
    }

    /// Rebuilds a path that was stored after sanitisation; refuses anything that would not survive it unchanged.
    pub fn from_stored(stored: &str) -> Result<Self, PathError> {
        if stored.is_empty() {
            return Ok(Self::root());
        }
        let p = Self::sanitise(stored)?;
        if p.0 == stored {
            Ok(p)
        } else {
            Err(PathError::InvalidFolder)
        }
    }

    fn from_segments(segments: &[&str]) -> Result<Self, PathError> {
        let joined = segments.join("/");
        if segments.len() > MAX_FOLDER_DEPTH || joined.len() > MAX_FOLDER_LEN {
            return Err(PathError::InvalidFolder);
        }
        Ok(Self(joined))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Files under `temp` (or any folder inside it) are temporary.
    pub fn is_temporary(&self) -> bool {
        self.0 == TEMP_FOLDER || self.0.starts_with("temp/")
    }

    pub fn is_temp_root(&self) -> bool {
        self.0 == TEMP_FOLDER
    }

    pub fn parent(&self) -> Option<FolderPath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => Self(self.0[..i].to_string()),
            None => Self::root(),
        })
    }

    /// The last segment; empty for the root.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    pub fn join(&self, segment: &str) -> Result<FolderPath, PathError> {
        if self.is_root() {
            Self::sanitise(segment)
        } else {
            Self::sanitise(&format!("{}/{}", self.0, segment))
        }
    }

    /// Every folder from the top down to this one, excluding the root.
    pub fn ancestors_and_self(&self) -> Vec<FolderPath> {
        let mut out = Vec::new();
        let mut end = 0;
        for (i, c) in self.0.char_indices() {
            if c == '/' {
                out.push(Self(self.0[..i].to_string()));
            }
            end = i + c.len_utf8();
        }
        if end > 0 {
            out.push(self.clone());
        }
        out
    }

    /// True when `self` is `other` or lies inside it.
    pub fn is_within(&self, other: &FolderPath) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }
}

impl fmt::Display for FolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file name: every character outside `[a-zA-Z0-9._-]` becomes `_` (seed 002).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileName(String);

impl FileName {
    pub fn sanitise(raw: &str) -> Result<Self, PathError> {
        let name: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // "." and ".." would be rewritten by every URL normaliser on the way to us.
        if name.is_empty() || name.len() > MAX_NAME_LEN || name.bytes().all(|b| b == b'.') {
            return Err(PathError::InvalidName);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn extension(&self) -> Option<&str> {
        self.0
            .rsplit_once('.')
            .map(|(_, ext)| ext)
            .filter(|e| !e.is_empty())
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Splits a stored-file path such as `videos/raw/clip.mp4` into its folder and name.
pub fn split_file_path(raw: &str) -> Result<(FolderPath, FileName), PathError> {
    let raw = raw.trim_matches('/');
    match raw.rsplit_once('/') {
        Some((folder, name)) => Ok((FolderPath::sanitise(folder)?, FileName::sanitise(name)?)),
        None => Ok((FolderPath::root(), FileName::sanitise(raw)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seed_examples() {
        assert_eq!(FileName::sanitise("clip.mp4").unwrap().as_str(), "clip.mp4");
        assert_eq!(
            FileName::sanitise("my clip (1).mp4").unwrap().as_str(),
            "my_clip__1_.mp4"
        );
        assert_eq!(
            FolderPath::sanitise("videos/raw").unwrap().as_str(),
            "videos/raw"
        );
        assert_eq!(FolderPath::sanitise("/a//b c/").unwrap().as_str(), "a/bc");
        assert_eq!(FolderPath::sanitise("!!!"), Err(PathError::InvalidFolder));
        assert_eq!(FolderPath::sanitise("../.."), Err(PathError::InvalidFolder));
    }

    #[test]
    fn dot_names_are_refused() {
        assert!(FileName::sanitise(".").is_err());
        assert!(FileName::sanitise("..").is_err());
        assert!(FileName::sanitise(".env").is_ok());
    }

    #[test]
    fn temp_and_ancestry() {
        let p = FolderPath::sanitise("temp/renders").unwrap();
        assert!(p.is_temporary());
        assert!(!FolderPath::sanitise("temporary").unwrap().is_temporary());
        let anc: Vec<String> = FolderPath::sanitise("a/b/c")
            .unwrap()
            .ancestors_and_self()
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(anc, ["a", "a/b", "a/b/c"]);
        assert!(FolderPath::root().ancestors_and_self().is_empty());
        let ab = FolderPath::sanitise("a/b").unwrap();
        assert!(ab.is_within(&FolderPath::sanitise("a").unwrap()));
        assert!(!FolderPath::sanitise("ab")
            .unwrap()
            .is_within(&FolderPath::sanitise("a").unwrap()));
        assert_eq!(ab.parent().unwrap().as_str(), "a");
        assert_eq!(ab.name(), "b");
    }

    proptest! {
        #[test]
        fn sanitised_names_only_hold_allowed_characters(raw in "\\PC{1,80}") {
            if let Ok(name) = FileName::sanitise(&raw) {
                prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
                prop_assert_eq!(name.as_str().chars().count(), raw.chars().count());
                prop_assert_eq!(FileName::sanitise(name.as_str()).unwrap(), name.clone());
            }
        }

        /// Whatever a served URL's path holds (traversal, encoded or not, separators of any
        /// platform, control characters), what it names in the drive is a clean folder and name.
        #[test]
        fn served_paths_name_only_clean_folders_and_names(
            raw in prop_oneof![
                "\\PC{0,80}",
                "(\\.\\.|%2[eEfF]|/|\\\\|[a-z]|\\x00|:){0,30}",
            ]
        ) {
            if let Ok((folder, name)) = split_file_path(&raw) {
                let segments: Vec<&str> = folder.as_str().split('/').collect();
                prop_assert!(folder.as_str().is_empty() || segments.iter().all(|s| !s.is_empty()));
                prop_assert!(segments.iter().all(|s| !s.contains('.')));
                prop_assert!(name.as_str() != "." && name.as_str() != "..");
                prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            }
        }

        #[test]
        fn sanitised_folders_are_stable_and_clean(raw in "[a-z/ ._!-]{0,60}") {
            if let Ok(folder) = FolderPath::sanitise(&raw) {
                let s = folder.as_str();
                prop_assert!(!s.starts_with('/') && !s.ends_with('/') && !s.contains("//"));
                prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b)));
                prop_assert_eq!(FolderPath::from_stored(s).unwrap(), folder.clone());
            }
        }
    }

    fn folder(s: &str) -> FolderPath {
        FolderPath::from_stored(s).unwrap()
    }

    #[test]
    fn blank_folders_are_the_root_and_others_are_sanitised() {
        for blank in [None, Some(""), Some("  "), Some("/"), Some(" / ")] {
            assert_eq!(FolderPath::sanitise_or_root(blank), Ok(FolderPath::root()));
        }
        assert_eq!(
            FolderPath::sanitise_or_root(Some(" a b ")),
            Ok(folder("ab"))
        );
        assert_eq!(
            FolderPath::sanitise_or_root(Some("//")),
            Err(PathError::InvalidFolder)
        );
        assert!(FolderPath::root().is_root());
        assert!(!folder("a").is_root());
        assert_eq!(FolderPath::root().as_str(), "");
    }

    #[test]
    fn only_exactly_stored_paths_are_rebuilt() {
        assert_eq!(FolderPath::from_stored(""), Ok(FolderPath::root()));
        assert_eq!(
            FolderPath::from_stored("a/b-c_d").unwrap().as_str(),
            "a/b-c_d"
        );
        for unclean in ["/a", "a/", "a//b", "a b", "a/../b", "!!"] {
            assert_eq!(
                FolderPath::from_stored(unclean),
                Err(PathError::InvalidFolder),
                "{unclean}"
            );
        }
    }

    #[test]
    fn folders_are_limited_in_depth_and_length() {
        let deepest = vec!["a"; MAX_FOLDER_DEPTH].join("/");
        assert_eq!(FolderPath::sanitise(&deepest).unwrap().as_str(), deepest);
        assert_eq!(
            FolderPath::sanitise(&format!("{deepest}/a")),
            Err(PathError::InvalidFolder)
        );
        let longest = "a".repeat(MAX_FOLDER_LEN);
        assert_eq!(FolderPath::sanitise(&longest).unwrap().as_str(), longest);
        assert_eq!(
            FolderPath::sanitise(&format!("{longest}a")),
            Err(PathError::InvalidFolder)
        );
        // The length counts the separators too.
        let long_pair = format!("{}/{}", "a".repeat(512), "b".repeat(512));
        assert_eq!(
            FolderPath::sanitise(&long_pair),
            Err(PathError::InvalidFolder)
        );
    }

    #[test]
    fn the_temporary_tier_is_temp_and_what_lies_inside_it() {
        assert!(folder("temp").is_temporary());
        assert!(folder("temp").is_temp_root());
        assert!(folder("temp/a/b").is_temporary());
        assert!(!folder("temp/a").is_temp_root());
        for other in ["", "tempx", "temp-a", "a/temp", "xtemp/a"] {
            assert!(!folder(other).is_temporary(), "{other}");
            assert!(!folder(other).is_temp_root(), "{other}");
        }
    }

    #[test]
    fn parents_names_and_joins() {
        assert_eq!(FolderPath::root().parent(), None);
        assert_eq!(folder("a").parent(), Some(FolderPath::root()));
        assert_eq!(folder("a/b/c").parent(), Some(folder("a/b")));
        assert_eq!(FolderPath::root().name(), "");
        assert_eq!(folder("a").name(), "a");
        assert_eq!(folder("a/bc").name(), "bc");
        assert_eq!(FolderPath::root().join("x y"), Ok(folder("xy")));
        assert_eq!(folder("a").join("b/c"), Ok(folder("a/b/c")));
        assert_eq!(folder("a").join("!"), Ok(folder("a")));
        assert_eq!(FolderPath::root().join("!"), Err(PathError::InvalidFolder));
        assert_eq!(folder("a/b").to_string(), "a/b");
        assert_eq!(folder("ab").ancestors_and_self(), [folder("ab")]);
        assert_eq!(folder("a").ancestors_and_self(), [folder("a")]);
        assert_eq!(
            folder("a/b").ancestors_and_self(),
            [folder("a"), folder("a/b")]
        );
    }

    #[test]
    fn within_means_equal_or_below_a_whole_segment() {
        let ab = folder("a/b");
        assert!(ab.is_within(&FolderPath::root()));
        assert!(FolderPath::root().is_within(&FolderPath::root()));
        assert!(ab.is_within(&ab));
        assert!(ab.is_within(&folder("a")));
        assert!(!folder("a").is_within(&ab));
        assert!(!folder("a/bc").is_within(&ab));
        assert!(!folder("b/a").is_within(&folder("a")));
        assert!(!FolderPath::root().is_within(&folder("a")));
    }

    #[test]
    fn names_are_limited_and_know_their_extension() {
        let longest = "n".repeat(MAX_NAME_LEN);
        assert_eq!(FileName::sanitise(&longest).unwrap().as_str(), longest);
        assert_eq!(
            FileName::sanitise(&format!("{longest}n")),
            Err(PathError::InvalidName)
        );
        assert_eq!(FileName::sanitise(""), Err(PathError::InvalidName));
        assert_eq!(FileName::sanitise("..."), Err(PathError::InvalidName));
        assert_eq!(FileName::sanitise(".. ").unwrap().as_str(), ".._");
        assert_eq!(FileName::sanitise("a b").unwrap().to_string(), "a_b");
        let ext = |n: &str| {
            FileName::sanitise(n)
                .unwrap()
                .extension()
                .map(str::to_string)
        };
        assert_eq!(ext("clip.mp4").as_deref(), Some("mp4"));
        assert_eq!(ext("a.tar.gz").as_deref(), Some("gz"));
        assert_eq!(ext(".env").as_deref(), Some("env"));
        assert_eq!(ext("clip."), None);
        assert_eq!(ext("clip"), None);
    }

    /// How a served URL's path names a folder and a file.
    #[test]
    fn served_paths_split_at_their_last_slash() {
        let split = |raw: &str| {
            split_file_path(raw).map(|(f, n)| (f.as_str().to_string(), n.as_str().to_string()))
        };
        assert_eq!(split("clip.mp4"), Ok((String::new(), "clip.mp4".into())));
        assert_eq!(split("/clip.mp4/"), Ok((String::new(), "clip.mp4".into())));
        assert_eq!(
            split("videos/raw/clip.mp4"),
            Ok(("videos/raw".into(), "clip.mp4".into()))
        );
        assert_eq!(split("a b/c d"), Ok(("ab".into(), "c_d".into())));
        assert_eq!(split("!!/clip.mp4"), Err(PathError::InvalidFolder));
        assert_eq!(split("videos/.."), Err(PathError::InvalidName));
        assert_eq!(split(""), Err(PathError::InvalidName));
        assert_eq!(split("/"), Err(PathError::InvalidName));
    }
}
