// Scripts (seed 003): a project's saved, parameterised preload items.

use async_trait::async_trait;
use mediadrive_core::{
    catalog::{CatalogResult, ScriptStore},
    CatalogError, ClientId, NewProjectScript, ProjectId, ProjectScript, ScriptId,
};

use super::{backend, placeholders, rows::stored_id, Backend, Pool};
use crate::time::{from_ms, to_ms};

const SCRIPT_COLUMNS: &str = "id, tenant_id, project_id, name, template, inputs, created_at";

type ScriptRow = (String, String, String, String, String, String, i64);

fn script(row: ScriptRow) -> CatalogResult<ProjectScript> {
    let (id, tenant, project_id, name, template, inputs, created) = row;
    Ok(ProjectScript {
        id: stored_id(id, "script id")?,
        tenant: ClientId::parse(&tenant)
            .map_err(|_| CatalogError::Backend("corrupt client id in catalog".into()))?,
        project_id: stored_id(project_id, "project id")?,
        name,
        template,
        inputs,
        created_at: from_ms(created),
    })
}

pub async fn get(
    pool: &Pool,
    tenant: &ClientId,
    project_id: &ProjectId,
    id: &ScriptId,
) -> CatalogResult<Option<ProjectScript>> {
    let row: Option<ScriptRow> = sqlx::query_as(&format!(
        "SELECT {SCRIPT_COLUMNS} FROM project_scripts
         WHERE id = $1 AND project_id = $2 AND tenant_id = $3"
    ))
    .bind(id.as_str())
    .bind(project_id.as_str())
    .bind(tenant.as_str())
    .fetch_optional(pool)
    .await
    .map_err(backend)?;
    row.map(script).transpose()
}

#[async_trait]
impl ScriptStore for Backend {
    async fn create_project_script(&self, s: &NewProjectScript) -> CatalogResult<ProjectScript> {
        let pool = &self.pool;
        let id = uuid::Uuid::new_v4().to_string();
        let inserted = sqlx::query(
            "INSERT INTO project_scripts (id, tenant_id, project_id, name, template, inputs, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE EXISTS (SELECT 1 FROM projects WHERE id = $3 AND tenant_id = $2)",
        )
        .bind(&id)
        .bind(s.tenant.as_str())
        .bind(s.project_id.as_str())
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
        get(pool, &s.tenant, &s.project_id, &stored_id(id, "script id")?)
            .await?
            .ok_or(CatalogError::NotFound)
    }

    async fn project_scripts(
        &self,
        tenant: &ClientId,
        project_id: &ProjectId,
    ) -> CatalogResult<Vec<ProjectScript>> {
        let pool = &self.pool;
        let rows: Vec<ScriptRow> = sqlx::query_as(&format!(
            "SELECT {SCRIPT_COLUMNS} FROM project_scripts WHERE project_id = $1 AND tenant_id = $2
             ORDER BY created_at, id"
        ))
        .bind(project_id.as_str())
        .bind(tenant.as_str())
        .fetch_all(pool)
        .await
        .map_err(backend)?;
        rows.into_iter().map(script).collect()
    }

    async fn scripts_of_projects(
        &self,
        tenant: &ClientId,
        projects: &[ProjectId],
    ) -> CatalogResult<Vec<ProjectScript>> {
        if projects.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {SCRIPT_COLUMNS} FROM project_scripts
             WHERE tenant_id = $1 AND project_id IN ({})
             ORDER BY project_id, created_at, id",
            placeholders(2, projects.len())
        );
        let mut query = sqlx::query_as::<_, ScriptRow>(&sql).bind(tenant.as_str());
        for project in projects {
            query = query.bind(project.as_str());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
        rows.into_iter().map(script).collect()
    }

    async fn project_script(
        &self,
        tenant: &ClientId,
        project_id: &ProjectId,
        id: &ScriptId,
    ) -> CatalogResult<Option<ProjectScript>> {
        get(&self.pool, tenant, project_id, id).await
    }

    async fn delete_project_script(
        &self,
        tenant: &ClientId,
        project_id: &ProjectId,
        id: &ScriptId,
    ) -> CatalogResult<bool> {
        let pool = &self.pool;
        let done = sqlx::query(
            "DELETE FROM project_scripts WHERE id = $1 AND project_id = $2 AND tenant_id = $3",
        )
        .bind(id.as_str())
        .bind(project_id.as_str())
        .bind(tenant.as_str())
        .execute(pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }
}
