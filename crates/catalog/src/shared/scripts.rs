// Scripts (seed 003): a project's saved, parameterised preload items.

use mediadrive_core::{
    catalog::CatalogResult, CatalogError, ClientId, NewProjectScript, ProjectScript,
};

use super::{backend, prep, Pool};
use crate::time::{from_ms, to_ms};

const SCRIPT_COLUMNS: &str = "id, tenant_id, project_id, name, template, inputs, created_at";

type ScriptRow = (String, String, String, String, String, String, i64);

fn script(row: ScriptRow) -> CatalogResult<ProjectScript> {
    let (id, tenant, project_id, name, template, inputs, created) = row;
    Ok(ProjectScript {
        id,
        tenant: ClientId::parse(&tenant)
            .map_err(|_| CatalogError::Backend("corrupt client id in catalog".into()))?,
        project_id,
        name,
        template,
        inputs,
        created_at: from_ms(created),
    })
}

pub async fn create(pool: &Pool, s: &NewProjectScript) -> CatalogResult<ProjectScript> {
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = sqlx::query(&prep(
        "INSERT INTO project_scripts (id, tenant_id, project_id, name, template, inputs, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
         WHERE EXISTS (SELECT 1 FROM projects WHERE id = ?3 AND tenant_id = ?2)",
    ))
    .bind(&id)
    .bind(s.tenant.as_str())
    .bind(&s.project_id)
    .bind(&s.name)
    .bind(&s.template)
    .bind(&s.inputs)
    .bind(to_ms(s.now))
    .execute(pool)
    .await
    .map_err(backend)?;
    if inserted.rows_affected() != 1 {
        return Err(CatalogError::NotFound);
    }
    get(pool, &s.tenant, &s.project_id, &id)
        .await?
        .ok_or(CatalogError::NotFound)
}

pub async fn list(
    pool: &Pool,
    tenant: &ClientId,
    project_id: &str,
) -> CatalogResult<Vec<ProjectScript>> {
    let rows: Vec<ScriptRow> = sqlx::query_as(&prep(&format!(
        "SELECT {SCRIPT_COLUMNS} FROM project_scripts WHERE project_id = ?1 AND tenant_id = ?2
         ORDER BY created_at, id"
    )))
    .bind(project_id)
    .bind(tenant.as_str())
    .fetch_all(pool)
    .await
    .map_err(backend)?;
    rows.into_iter().map(script).collect()
}

pub async fn get(
    pool: &Pool,
    tenant: &ClientId,
    project_id: &str,
    id: &str,
) -> CatalogResult<Option<ProjectScript>> {
    let row: Option<ScriptRow> = sqlx::query_as(&prep(&format!(
        "SELECT {SCRIPT_COLUMNS} FROM project_scripts
         WHERE id = ?1 AND project_id = ?2 AND tenant_id = ?3"
    )))
    .bind(id)
    .bind(project_id)
    .bind(tenant.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(script).transpose()
}

pub async fn delete(
    pool: &Pool,
    tenant: &ClientId,
    project_id: &str,
    id: &str,
) -> CatalogResult<bool> {
    let done = sqlx::query(&prep(
        "DELETE FROM project_scripts WHERE id = ?1 AND project_id = ?2 AND tenant_id = ?3",
    ))
    .bind(id)
    .bind(project_id)
    .bind(tenant.as_str())
    .execute(pool)
    .await
    .map_err(backend)?;
    Ok(done.rows_affected() == 1)
}
