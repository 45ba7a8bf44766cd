//! Renders and their outputs: uploads or downloads of rendered files, and hosting them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CatalogResult, OutputAnnouncer};
use crate::{
    ClientId, NewRender, OutputClaim, OutputId, OutputOutcome, RenderId, RenderOutput, RenderRecord,
};

#[async_trait]
pub trait RenderStore: Send + Sync {
    /// Records a render and its outputs, waiting for their uploads or queued for their download.
    async fn create_render(&self, render: &NewRender) -> CatalogResult<RenderRecord>;
    async fn render(&self, tenant: &ClientId, id: &RenderId)
        -> CatalogResult<Option<RenderRecord>>;
    async fn render_output(
        &self,
        tenant: &ClientId,
        id: &OutputId,
    ) -> CatalogResult<Option<RenderOutput>>;
    /// Claims an output waiting for its upload until `until`, so two PUTs cannot race.
    async fn claim_output_upload(
        &self,
        tenant: &ClientId,
        render: &RenderId,
        id: &OutputId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> CatalogResult<OutputClaim>;
    /// Claims up to `limit` outputs with background work due (a download, a hosting copy), and
    /// those whose claim lapsed, until `until`, oldest first.
    async fn claim_render_work(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> CatalogResult<Vec<RenderOutput>>;
    /// Moves a claimed output on, if the claim lasting `claimed_until` is still its own; `None`
    /// otherwise.
    async fn finish_render_output(
        &self,
        id: &OutputId,
        claimed_until: DateTime<Utc>,
        outcome: &OutputOutcome,
        announce: OutputAnnouncer<'_>,
    ) -> CatalogResult<Option<RenderOutput>>;
    /// Marks an output deleted (whatever it was doing: a claim on it no longer counts); returns it
    /// as it was, so its hosted file can be deleted.
    async fn delete_render_output(
        &self,
        tenant: &ClientId,
        id: &OutputId,
        now: DateTime<Utc>,
    ) -> CatalogResult<Option<RenderOutput>>;
}
