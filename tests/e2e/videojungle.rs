//! The Video Jungle–compatible surface through HTTP: projects, assets as drive files, the upload
//! link, paging, signed links and FastAPI's error shape. The official client's own test is
//! tests/videojungle/test_client.py.

use std::collections::BTreeSet;

use reqwest::{multipart, StatusCode};
use serde_json::{json, Value};

use crate::harness::{bytes, json_of, Server};

mod limits;
mod links;

const VJ: &str = "/videojungle";

async fn project(server: &Server, key: &str, name: &str) -> Value {
    let body = json!({"name": name, "description": "d", "data": {"seed": 42}});
    let (status, project) = server
        .call("POST", &format!("{VJ}/projects"), key, Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    project
}

/// Asks the project for an upload link and sends `data` to it; the answer to the upload.
async fn upload(
    server: &Server,
    key: &str,
    project: &str,
    name: &str,
    data: Vec<u8>,
) -> (StatusCode, Value) {
    let body = json!({"upload_method": "file-no-chunk", "asset_type": "user", "keyname": name});
    let (status, link) = server
        .call(
            "POST",
            &format!("{VJ}/projects/{project}/asset"),
            key,
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    send(
        server,
        key,
        link["upload_url"]["url"].as_str().unwrap(),
        data,
    )
    .await
}

async fn send(server: &Server, key: &str, link: &str, data: Vec<u8>) -> (StatusCode, Value) {
    let form = multipart::Form::new().part("file", multipart::Part::bytes(data).file_name("f"));
    let resp = server
        .http
        .post(server.url(&format!("{VJ}{link}")))
        .header("x-api-key", key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_of(resp).await
}

fn detail(body: &Value) -> &str {
    body["detail"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn other_tenants_see_no_project_and_no_asset() {
    let server = Server::start().await;
    let acme = server.key("acme", "editor");
    let globex = server.key("globex", "admin");
    let p = project(&server, &acme, "campaign").await;
    let id = p["id"].as_str().unwrap();
    let (status, asset) = upload(&server, &acme, id, "hero.bin", bytes(1, 3000)).await;
    assert_eq!(status, StatusCode::OK, "{asset}");
    let asset_id = asset["id"].as_str().unwrap();
    for path in [
        format!("{VJ}/projects/{id}"),
        format!("{VJ}/projects/{id}/assets"),
        format!("{VJ}/assets/{asset_id}"),
        format!("{VJ}/assets/check/{asset_id}"),
        format!("{VJ}/assets/{asset_id}/status"),
    ] {
        let (status, body) = server.call("GET", &path, &globex, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(detail(&body).ends_with("not found"), "{path}: {body}");
    }
    for path in [
        format!("{VJ}/projects/{id}"),
        format!("{VJ}/assets/{asset_id}"),
    ] {
        let (status, _) = server.call("DELETE", &path, &globex, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = send(
        &server,
        &globex,
        &format!("/assets/{asset_id}/upload"),
        bytes(2, 10),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = server
        .call("GET", &format!("{VJ}/projects"), &globex, None)
        .await;
    assert_eq!(listed, json!([]));
    // Still there for its owner, in the drive and the quota.
    let (status, mine) = server
        .call("GET", &format!("{VJ}/assets/{asset_id}"), &acme, None)
        .await;
    assert_eq!(
        (status, mine["uploaded"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (_, projects) = server
        .call("GET", &format!("{VJ}/projects"), &acme, None)
        .await;
    let projects: Vec<_> = projects
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(projects, [&json!(id)]);
    let (_, assets) = server
        .call("GET", &format!("{VJ}/projects/{id}/assets"), &acme, None)
        .await;
    let assets: Vec<_> = assets
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    assert_eq!(assets, [&json!(asset_id)]);
    assert_eq!(server.client_show("acme")["used_bytes"], 3000);
}

#[tokio::test]
async fn assets_are_drive_files_and_leave_with_them() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let p = project(&server, &key, "Horoscope: Aries!").await;
    assert_eq!(p["data"], json!({"seed": 42}));
    let id = p["id"].as_str().unwrap();
    let (_, asset) = upload(&server, &key, id, "reading.bin", bytes(3, 5000)).await;
    let path = asset["asset_path"].as_str().unwrap().to_string();
    assert!(path.starts_with("projects/horoscope-aries-"), "{path}");
    // The drive lists it, counted against the quota.
    let folder = path.rsplit_once('/').unwrap().0;
    let (status, listing) = server
        .call(
            "GET",
            &format!("/v2/media/folder?path={folder}"),
            &key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listing}");
    let (folder_name, file_name) = (folder, path.rsplit_once('/').unwrap().1);
    assert_eq!(file_name, "reading.bin");
    let files: Vec<_> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["folder"].as_str().unwrap(),
                f["name"].as_str().unwrap(),
                f["size"].as_u64().unwrap(),
                f["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(files, [(folder_name, file_name, 5000, "uploaded")]);
    let served = server
        .get(listing["files"][0]["url"].as_str().unwrap())
        .await;
    assert_eq!(served.bytes().await.unwrap().to_vec(), bytes(3, 5000));
    assert_eq!(server.client_show("acme")["used_bytes"], 5000);
    // A second upload to the same asset is refused.
    let link = format!("/assets/{}/upload", asset["id"].as_str().unwrap());
    let (status, body) = send(&server, &key, &link, bytes(4, 10)).await;
    assert_eq!(
        (status, detail(&body)),
        (StatusCode::CONFLICT, "Asset already uploaded")
    );
    // Deleting the file in the drive deletes the asset.
    let (status, _) = server
        .call(
            "DELETE",
            "/v2/media/file",
            &key,
            Some(json!({"files": [path]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call(
            "GET",
            &format!("{VJ}/assets/{}", asset["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(server.client_show("acme")["used_bytes"], 0);
}

#[tokio::test]
async fn lists_page_with_a_limit_of_at_most_one_hundred() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let p = project(&server, &key, "paged").await;
    let id = p["id"].as_str().unwrap();
    let mut uploaded = BTreeSet::new();
    for i in 0..5u64 {
        let (status, asset) = upload(&server, &key, id, &format!("a{i}.bin"), bytes(i, 100)).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        uploaded.insert(asset["id"].as_str().unwrap().to_string());
    }
    assert_eq!(uploaded.len(), 5);
    let mut seen = Vec::new();
    let mut next = Some(server.url(&format!("{VJ}/projects/{id}/assets?limit=2")));
    while let Some(url) = next {
        let resp = server
            .http
            .get(&url)
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        next = resp.headers().get("link").map(|l| {
            l.to_str()
                .unwrap()
                .split(['<', '>'])
                .nth(1)
                .unwrap()
                .to_string()
        });
        let (status, page) = json_of(resp).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.as_array().unwrap().len() <= 2);
        seen.extend(
            page.as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string()),
        );
    }
    // Every asset once: five ids over the pages, and the five uploaded.
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), uploaded);
    let (_, default) = server
        .call("GET", &format!("{VJ}/projects/{id}/assets"), &key, None)
        .await;
    let in_default: BTreeSet<String> = default
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        (default.as_array().unwrap().len(), in_default),
        (5, uploaded)
    );
    for (limit, kind) in [
        ("101", "less_than_equal"),
        ("0", "greater_than_equal"),
        ("ten", "int_parsing"),
    ] {
        let (status, body) = server
            .call(
                "GET",
                &format!("{VJ}/projects/{id}/assets?limit={limit}"),
                &key,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{limit}");
        assert_eq!(body["detail"][0]["type"], kind);
        assert_eq!(body["detail"][0]["loc"], json!(["query", "limit"]));
    }
    let (status, body) = server
        .call(
            "GET",
            &format!("{VJ}/projects/{id}/assets?cursor=nonsense"),
            &key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "cursor"]));
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let viewer = server.key("acme", "viewer");
    let (status, body) = server
        .call(
            "POST",
            &format!("{VJ}/projects"),
            &key,
            Some(json!({"description": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]));
    assert_eq!(body["detail"][0]["msg"], "Field required");
    let (status, body) = server
        .call(
            "POST",
            &format!("{VJ}/projects"),
            &viewer,
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (status, detail(&body)),
        (StatusCode::FORBIDDEN, "Insufficient permissions")
    );
    let (status, body) = server
        .call("GET", &format!("{VJ}/projects"), "wrong", None)
        .await;
    assert_eq!(
        (status, detail(&body)),
        (StatusCode::UNAUTHORIZED, "Invalid API key")
    );
    let p = project(&server, &key, "p").await;
    let id = p["id"].as_str().unwrap();
    let asset_path = format!("{VJ}/projects/{id}/asset");
    let (status, body) = server
        .call(
            "POST",
            &asset_path,
            &key,
            Some(json!({"upload_method": "url", "keyname": "a"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "upload_method"]));
    let (status, body) = server
        .call("POST", &asset_path, &key, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "keyname"]));
    // An empty file, and a form without one, make no asset uploaded.
    let (_, link) = server
        .call("POST", &asset_path, &key, Some(json!({"keyname": "empty"})))
        .await;
    let url = link["upload_url"]["url"].as_str().unwrap();
    let (status, body) = send(&server, &key, url, Vec::new()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let form = multipart::Form::new().text("other", "x");
    let resp = server
        .http
        .post(server.url(&format!("{VJ}{url}")))
        .header("x-api-key", &key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "file"]));
    let (_, check) = server
        .call(
            "GET",
            &format!("{VJ}/assets/check/{}", link["id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(check, json!({"uploaded": false}));
    assert_eq!(server.client_show("acme")["used_bytes"], 0);
}

#[tokio::test]
async fn the_storage_quota_holds_for_asset_uploads() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    server.cli_ok(&["client", "set", "--client", "acme", "--quota", "1000"]);
    let p = project(&server, &key, "full").await;
    let id = p["id"].as_str().unwrap();
    let (status, body) = upload(&server, &key, id, "big.bin", bytes(5, 1500)).await;
    assert_eq!(
        (status, detail(&body)),
        (
            StatusCode::FORBIDDEN,
            "Storage is blocked. Add credits to continue uploading."
        )
    );
    let shown = server.client_show("acme");
    assert_eq!(
        (shown["used_bytes"].clone(), shown["pending_bytes"].clone()),
        (json!(0), json!(0))
    );
    let (_, listed) = server
        .call("GET", &format!("{VJ}/projects/{id}/assets"), &key, None)
        .await;
    let listed: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["uploaded"].clone(), a["asset_path"].clone()))
        .collect();
    assert_eq!(listed, [(json!(false), Value::Null)]);
}
