//! Render outputs (seed 004): the files of one render land in the temporary tier at once and, unless
//! the render opts out, are hosted in the drive in the background, each asset on its own time.

use chrono::{DateTime, Utc};

use crate::{CacheEntryId, ClientId, FileId, OutputId, RenderId};

/// What one output of a render is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    Video,
    Thumbnail,
    Poster,
    /// A file transferred into hosting by URL, outside any render (Shotstack's `POST /assets`).
    Transfer,
}

impl OutputKind {
    pub const RENDER_OUTPUTS: [OutputKind; 3] = [Self::Video, Self::Thumbnail, Self::Poster];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Thumbnail => "thumbnail",
            Self::Poster => "poster",
            Self::Transfer => "transfer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Video, Self::Thumbnail, Self::Poster, Self::Transfer]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// What follows the render id in the hosted file's name, as Shotstack names its outputs.
    pub fn name_suffix(self) -> &'static str {
        match self {
            Self::Video | Self::Transfer => "",
            Self::Thumbnail => "-thumb",
            Self::Poster => "-poster",
        }
    }
}

/// Where an output is. `Ready` with its hosted file gone reads as deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStatus {
    /// Its bytes are to be uploaded by the renderer.
    Waiting,
    /// Its bytes are to be downloaded from its `src`.
    Fetching,
    /// In the temporary tier, being copied into hosting.
    Importing,
    /// In the temporary tier only: the render asked not to be hosted.
    Temporary,
    Ready,
    Failed,
    Deleted,
}

impl OutputStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Fetching => "fetching",
            Self::Importing => "importing",
            Self::Temporary => "temporary",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Waiting,
            Self::Fetching,
            Self::Importing,
            Self::Temporary,
            Self::Ready,
            Self::Failed,
            Self::Deleted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct NewOutput {
    pub kind: OutputKind,
    /// Downloaded from here; `None`: the renderer uploads the bytes.
    pub src: Option<String>,
    /// The stem of the hosted file's name; the render id when `None`.
    pub stem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewRender {
    pub tenant: ClientId,
    pub host: bool,
    pub callback: Option<String>,
    pub outputs: Vec<NewOutput>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOutput {
    /// A UUID, as Shotstack's SDK expects of asset ids.
    pub id: OutputId,
    pub render_id: RenderId,
    pub tenant: ClientId,
    pub kind: OutputKind,
    pub src: Option<String>,
    pub stem: Option<String>,
    pub status: OutputStatus,
    pub error: Option<String>,
    /// The temporary tier: the cache entry holding its bytes, once they arrived.
    pub cache_entry: Option<CacheEntryId>,
    /// The hosted drive file, while it exists.
    pub hosted_file: Option<FileId>,
    pub host: bool,
    pub callback: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRecord {
    pub id: RenderId,
    pub tenant: ClientId,
    pub host: bool,
    pub callback: Option<String>,
    pub created_at: DateTime<Utc>,
    pub outputs: Vec<RenderOutput>,
}

/// How a claimed output moved on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputOutcome {
    /// Its bytes are in the temporary tier, in this cache entry.
    Stored(CacheEntryId),
    /// It is hosted as this drive file.
    Hosted(FileId),
    Failed(String),
    /// The claim is given up (an upload broke off); the output may be tried again.
    Released,
}

/// How a claim on an output awaiting its upload turned out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputClaim {
    Claimed(Box<RenderOutput>),
    /// Its bytes already arrived, or it takes them from a URL.
    NotWaiting,
    InProgress,
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_kinds_round_trip_and_suffix_their_hosted_name() {
        let all = [
            (OutputKind::Video, "video", ""),
            (OutputKind::Thumbnail, "thumbnail", "-thumb"),
            (OutputKind::Poster, "poster", "-poster"),
            (OutputKind::Transfer, "transfer", ""),
        ];
        for (k, text, suffix) in all {
            assert_eq!(k.as_str(), text);
            assert_eq!(OutputKind::parse(text), Some(k));
            assert_eq!(k.name_suffix(), suffix);
        }
        assert_eq!(OutputKind::parse("audio"), None);
    }

    #[test]
    fn output_statuses_round_trip() {
        let all = [
            (OutputStatus::Waiting, "waiting"),
            (OutputStatus::Fetching, "fetching"),
            (OutputStatus::Importing, "importing"),
            (OutputStatus::Temporary, "temporary"),
            (OutputStatus::Ready, "ready"),
            (OutputStatus::Failed, "failed"),
            (OutputStatus::Deleted, "deleted"),
        ];
        for (s, text) in all {
            assert_eq!(s.as_str(), text);
            assert_eq!(OutputStatus::parse(text), Some(s));
        }
        assert_eq!(OutputStatus::parse("queued"), None);
    }
}
