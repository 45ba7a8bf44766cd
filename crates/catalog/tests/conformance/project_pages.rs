//! A page of projects with their newest assets and their scripts, read together (the Video Jungle
//! project list).

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{
    Catalog, ClientId, FolderPath, NewProject, NewProjectAsset, NewProjectScript, ProjectId,
};

use super::tenant;

every_backend_of_module!(projects_page_with_their_newest_assets_and_scripts_read_together,);

async fn projects_page_with_their_newest_assets_and_scripts_read_together(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    let mut projects = Vec::new();
    for i in 0..5i64 {
        let project = c
            .create_project(&NewProject {
                tenant: tenant(),
                name: format!("p{i}"),
                description: None,
                data: None,
                folder: FolderPath::from_stored(&format!("projects/p-{i}")).unwrap(),
                now: now + Duration::milliseconds(i),
                max_projects: 0,
            })
            .await
            .unwrap();
        // Project i holds i assets and one script.
        for a in 0..i {
            c.create_project_asset(&NewProjectAsset {
                tenant: tenant(),
                project_id: project.id.clone(),
                keyname: format!("key-{i}-{a}"),
                name: format!("a{i}-{a}"),
                asset_type: "user".into(),
                description: None,
                create_parameters: None,
                now: now + Duration::milliseconds(a),
                upload_expires_at: now + Duration::hours(1),
            })
            .await
            .unwrap();
        }
        c.create_project_script(&NewProjectScript {
            tenant: tenant(),
            project_id: project.id.clone(),
            name: format!("s{i}"),
            template: "{}".into(),
            inputs: "{}".into(),
            now,
        })
        .await
        .unwrap();
        projects.push(project);
    }
    let names = |page: Vec<mediadrive_core::Project>| -> Vec<String> {
        page.into_iter().map(|p| p.name).collect()
    };
    assert_eq!(
        names(c.projects(&tenant(), 2, 0).await.unwrap()),
        ["p4", "p3"]
    );
    assert_eq!(
        names(c.projects(&tenant(), 2, 2).await.unwrap()),
        ["p2", "p1"]
    );
    assert_eq!(names(c.projects(&tenant(), 2, 4).await.unwrap()), ["p0"]);
    assert!(c.projects(&tenant(), 2, 6).await.unwrap().is_empty());
    assert!(c.projects(&other, 10, 0).await.unwrap().is_empty());

    let ids: Vec<ProjectId> = projects.iter().map(|p| p.id.clone()).collect();
    let newest = c.newest_assets(&tenant(), &ids, 2).await.unwrap();
    for (i, project) in projects.iter().enumerate() {
        let held: Vec<&str> = newest
            .iter()
            .filter(|a| a.project_id == project.id)
            .map(|a| a.name.as_str())
            .collect();
        let expected: Vec<String> = (0..i).rev().take(2).map(|a| format!("a{i}-{a}")).collect();
        assert_eq!(held, expected, "project {i}: its newest two, newest first");
    }
    assert!(c.newest_assets(&other, &ids, 2).await.unwrap().is_empty());
    assert!(c.newest_assets(&tenant(), &[], 2).await.unwrap().is_empty());
    let scripts = c.scripts_of_projects(&tenant(), &ids[1..3]).await.unwrap();
    let mut script_names: Vec<&str> = scripts.iter().map(|s| s.name.as_str()).collect();
    script_names.sort();
    assert_eq!(script_names, ["s1", "s2"]);
    assert!(c
        .scripts_of_projects(&other, &ids)
        .await
        .unwrap()
        .is_empty());
}
