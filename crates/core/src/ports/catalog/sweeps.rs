//! The lifecycle sweep: what lapsed or aged out goes, across every aggregate at once.

use async_trait::async_trait;

use super::{CatalogResult, FileAnnouncer};
use crate::{SweepReport, SweepRule};

#[async_trait]
pub trait SweepStore: Send + Sync {
    /// Removes pending uploads whose URL lapsed and temporary files past their age, and drops the
    /// bytes of cache entries that expired (keeping their source for a regeneration), as `rule` says.
    /// Uploaded files it removes are announced with `announce`.
    async fn sweep_files(
        &self,
        rule: &SweepRule,
        announce: FileAnnouncer<'_>,
    ) -> CatalogResult<SweepReport>;
}
