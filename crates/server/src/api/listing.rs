//! Folder listings: query parameters, opaque keyset cursors, one page of a folder.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use mediadrive_core::{ClientId, Cursor, FolderPath, ListQuery, MediaType, SortField, SortOrder};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::views::{file_views, FolderListing, FolderView};
use crate::{
    error::{ApiError, ApiResult},
    App,
};

pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 1000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Folder to list; root when absent.
    pub folder: Option<String>,
    /// Alias of `folder`.
    pub path: Option<String>,
    /// `true`: the flat list of every folder with its file count and bytes instead of a page.
    pub tree: Option<bool>,
    /// Only files of this type: image, video, audio or other.
    #[serde(rename = "type")]
    pub media_type: Option<String>,
    /// `date` (default) or `name`.
    pub sort: Option<String>,
    /// `desc` (default for date) or `asc` (default for name).
    pub order: Option<String>,
    /// Files per page, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What a cursor carries: the sort it belongs to and where the previous page ended.
#[derive(Serialize, Deserialize)]
struct CursorToken {
    s: String,
    o: String,
    n: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    c: Option<i64>,
}

fn sort_names(sort: SortField, order: SortOrder) -> (&'static str, &'static str) {
    (
        match sort {
            SortField::Date => "date",
            SortField::Name => "name",
        },
        match order {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        },
    )
}

pub fn encode_cursor(cursor: &Cursor, sort: SortField, order: SortOrder) -> String {
    let (s, o) = sort_names(sort, order);
    let token = CursorToken {
        s: s.into(),
        o: o.into(),
        n: cursor.name.clone(),
        c: cursor.created_ms,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("cursor serialises"))
}

pub fn decode_cursor(raw: &str, sort: SortField, order: SortOrder) -> ApiResult<Cursor> {
    let invalid = || ApiError::bad_request("Invalid cursor");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let token: CursorToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let (s, o) = sort_names(sort, order);
    if token.s != s || token.o != o || (sort == SortField::Date) != token.c.is_some() {
        return Err(invalid());
    }
    Ok(Cursor {
        name: token.n,
        created_ms: token.c,
    })
}

impl ListParams {
    pub fn folder(&self) -> ApiResult<FolderPath> {
        let raw = self.folder.as_deref().or(self.path.as_deref());
        FolderPath::sanitise_or_root(raw).map_err(|_| ApiError::bad_request("Invalid folder name"))
    }

    pub fn query(&self, tenant: &ClientId, folder: FolderPath) -> ApiResult<ListQuery> {
        let sort = match self.sort.as_deref() {
            None | Some("date") => SortField::Date,
            Some("name") => SortField::Name,
            Some(_) => return Err(ApiError::bad_request("sort must be date or name")),
        };
        let order = match self.order.as_deref() {
            None if sort == SortField::Date => SortOrder::Desc,
            None | Some("asc") => SortOrder::Asc,
            Some("desc") => SortOrder::Desc,
            Some(_) => return Err(ApiError::bad_request("order must be asc or desc")),
        };
        let media_type = match self.media_type.as_deref() {
            None | Some("") | Some("all") => None,
            Some(t) => Some(MediaType::parse(t).ok_or_else(|| {
                ApiError::bad_request("type must be image, video, audio or other")
            })?),
        };
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request("limit must be between 1 and 1000"));
        }
        let after = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| decode_cursor(c, sort, order))
            .transpose()?;
        Ok(ListQuery {
            tenant: tenant.clone(),
            folder,
            media_type,
            sort,
            order,
            limit,
            after,
        })
    }
}

/// One page of a folder; subfolders come with the first page.
pub async fn folder_page(
    state: &App,
    tenant: &ClientId,
    params: &ListParams,
) -> ApiResult<FolderListing> {
    let folder = params.folder()?;
    let query = params.query(tenant, folder.clone())?;
    if !state.catalog.folder_exists(tenant, &folder).await? {
        return Err(ApiError::folder_not_found());
    }
    let folders = if query.after.is_none() {
        state.catalog.subfolders(tenant, &folder).await?
    } else {
        Vec::new()
    };
    let page = state.catalog.list_files(&query).await?;
    Ok(FolderListing {
        success: true,
        folder: folder.as_str().to_string(),
        folders: folders.iter().map(FolderView::from).collect(),
        files: file_views(state, &page.files).await?,
        next_cursor: page
            .next
            .map(|c| encode_cursor(&c, query.sort, query.order)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let c = Cursor {
            name: "b.mp4".into(),
            created_ms: Some(42),
        };
        let raw = encode_cursor(&c, SortField::Date, SortOrder::Desc);
        assert_eq!(
            decode_cursor(&raw, SortField::Date, SortOrder::Desc).unwrap(),
            c
        );
        assert!(decode_cursor(&raw, SortField::Date, SortOrder::Asc).is_err());
        assert!(decode_cursor(&raw, SortField::Name, SortOrder::Desc).is_err());
        assert!(decode_cursor("not-a-cursor", SortField::Name, SortOrder::Asc).is_err());
    }
}
