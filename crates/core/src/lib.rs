//! Domain core of mediadrive: the newtypes with rules, the records, and the ports to storage.

pub mod blobs;
pub mod generation;
pub mod hash;
pub mod ids;
pub mod model;
pub mod paths;
pub mod ports;
pub mod projects;
pub mod renders;
pub mod role;
pub mod templates;
pub mod webhooks;

pub use blobs::{BlobError, BlobStore};
pub use generation::{
    AssetType, CacheEntry, Charge, CreditMovement, CreditReason, ItemOutcome, ItemRequest,
    ItemResult, ItemStatus, LedgerEntry, NewCacheEntry, NewPreload, PreloadItem, PreloadRecord,
    Promotion,
};
pub use hash::ContentHash;
pub use ids::{
    ApiKeyId, AssetId, CacheEntryId, ClientId, DeliveryId, EndpointId, EventId, FileId, IdError,
    OutputId, PreloadId, ProjectId, RenderId, ScriptId,
};
pub use model::{
    ApiKeyRecord, BlobProbe, BlobReclaim, Cursor, FileMove, FilePage, FileRecord, FileStatus,
    FolderEntry, FolderMove, FolderStats, ListQuery, MediaType, NewApiKey, NewUpload, Preview,
    ProbeStatus, QueueDepths, ResumableUpload, SortField, SortOrder, SweepReport, SweepRule,
    TempUsage, Tenant, TenantUpdate, UploadClaim,
};
pub use paths::{FileName, FolderPath, PathError};
pub use ports::catalog;
pub use ports::catalog::{Catalog, CatalogError};
pub use projects::{
    AssetCursor, AssetGeneration, AssetQuery, AssetRemoval, NewGeneratedAsset, NewProject,
    NewProjectAsset, NewProjectScript, Project, ProjectAsset, ProjectScript,
};
pub use renders::{
    NewOutput, NewRender, OutputClaim, OutputKind, OutputOutcome, OutputStatus, RenderOutput,
    RenderRecord,
};
pub use role::{Action, Role};
pub use webhooks::{
    AttemptOutcome, AttemptRecord, DeliveryRecord, DueDelivery, EndpointUpdate, NewEndpoint,
    NewEvent, WebhookEndpoint, EVENT_TYPES,
};
