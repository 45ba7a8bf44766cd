//! Video Jungle scripts through HTTP: saved preload templates on a project, run with query
//! parameters into generated assets that are drive files, and every bad parameter named.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

const VJ: &str = "/videojungle";

async fn project(server: &Server, key: &str) -> String {
    let (status, project) = server
        .call(
            "POST",
            &format!("{VJ}/projects"),
            key,
            Some(json!({"name": "shots"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{project}");
    project["id"].as_str().unwrap().to_string()
}

/// A script drawing an image of `{{subject}}`, `{{w}}` pixels wide (64 unless given).
async fn script(server: &Server, key: &str, project: &str) -> Value {
    let body = json!({
        "name": "card",
        "data": {"type": "image", "model": "local-image", "prompt": "a {{subject}} at dawn",
                 "width": "{{w}}", "height": 64},
        "inputs": {"subject": {"type": "string", "description": "what to draw"},
                   "w": {"type": "integer", "default": 64}},
    });
    let (status, script) = server
        .call(
            "POST",
            &format!("{VJ}/scripts/{project}/scripts"),
            key,
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{script}");
    script
}

async fn generate(
    server: &Server,
    key: &str,
    project: &str,
    script: &str,
    q: &str,
) -> (StatusCode, Value) {
    server
        .call(
            "POST",
            &format!("{VJ}/projects/{project}/{script}/generate?{q}"),
            key,
            None,
        )
        .await
}

/// The asset once its generation has ended.
async fn settled(server: &Server, key: &str, id: &str) -> Value {
    for _ in 0..600 {
        let (status, asset) = server
            .call("GET", &format!("{VJ}/assets/{id}"), key, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        if asset["uploaded"] == true || asset["status"] == "failed" {
            return asset;
        }
        assert!(
            matches!(asset["status"].as_str(), Some("queued" | "processing")),
            "{asset}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("asset {id} was not generated");
}

#[tokio::test]
async fn a_script_run_makes_a_generated_drive_asset() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let p = project(&server, &key).await;
    let s = script(&server, &key, &p).await;
    assert_eq!(s["name"], "card");
    assert_eq!(s["project_id"], p.as_str());
    assert_eq!(s["key"], "local-image");
    assert_eq!(s["manuscript"], "a {{subject}} at dawn");
    assert_eq!(
        s["inputs"][0],
        json!({"name": "subject", "type": "string", "description": "what to draw", "required": true})
    );
    assert_eq!(
        s["inputs"][1],
        json!({"name": "w", "type": "integer", "default": 64, "required": false})
    );
    let sid = s["id"].as_str().unwrap();
    let (_, listed) = server
        .call("GET", &format!("{VJ}/projects/{p}/scripts"), &key, None)
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let (_, got) = server
        .call("GET", &format!("{VJ}/scripts/{p}/{sid}"), &key, None)
        .await;
    assert_eq!(got, s);
    let (_, shown) = server
        .call("GET", &format!("{VJ}/projects/{p}"), &key, None)
        .await;
    assert_eq!(shown["scripts"][0]["id"], sid);

    let (status, answer) = generate(&server, &key, &p, sid, "subject=red+fox&w=96").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let asset_id = answer["asset_id"].as_str().unwrap();
    let keyname = answer["asset_key"].as_str().unwrap();
    // The answer's url follows the asset without an API key.
    let followed: Value = server
        .get(answer["url"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(followed["id"], asset_id);
    assert_eq!(followed["keyname"], keyname);

    let asset = settled(&server, &key, asset_id).await;
    assert_eq!(asset["uploaded"], true, "{asset}");
    assert_eq!(asset["status"], Value::Null);
    assert_eq!(asset["asset_type"], "image");
    assert_eq!(
        asset["create_parameters"],
        json!({"subject": "red fox", "w": 96})
    );
    let path = asset["asset_path"].as_str().unwrap();
    assert!(path.starts_with("generated/image/"), "{path}");
    let resp = server.get(asset["url"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/webp");
    // A drive file like any other, counted in the tenant's usage.
    let (status, _) = server
        .call("GET", &format!("/v2/media/file?path={path}"), &key, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, generated) = server
        .call(
            "GET",
            &format!("{VJ}/projects/{p}/asset/generated"),
            &key,
            None,
        )
        .await;
    assert_eq!(generated.as_array().unwrap().len(), 1, "{generated}");

    // An upload is no way into a generated asset.
    let (status, body) = server
        .call(
            "POST",
            &format!("{VJ}/assets/{asset_id}/upload"),
            &key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The same parameters again: the drive file is shared, and stays until its last asset goes.
    let (_, again) = generate(&server, &key, &p, sid, "w=96&subject=red%20fox").await;
    let again_id = again["asset_id"].as_str().unwrap();
    let second = settled(&server, &key, again_id).await;
    assert_eq!(second["asset_path"], path);
    let (status, _) = server
        .call("DELETE", &format!("{VJ}/assets/{asset_id}"), &key, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let resp = server.get(second["download_url"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, _) = server
        .call("DELETE", &format!("{VJ}/assets/{again_id}"), &key, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call("GET", &format!("/v2/media/file?path={path}"), &key, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Deleting the script keeps what it made; its id then finds nothing to run.
    let (_, third) = generate(&server, &key, &p, sid, "subject=owl").await;
    settled(&server, &key, third["asset_id"].as_str().unwrap()).await;
    let (status, _) = server
        .call("DELETE", &format!("{VJ}/scripts/{p}/{sid}"), &key, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = generate(&server, &key, &p, sid, "subject=owl").await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::NOT_FOUND, Some("Script not found"))
    );
    let (_, kept) = server
        .call(
            "GET",
            &format!("{VJ}/assets/{}", third["asset_id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(kept["uploaded"], true);

    // Long after, with the preloads forgotten, the generated asset is still whole.
    let later = (chrono::Utc::now() + chrono::Duration::days(400)).to_rfc3339();
    server.cli_ok(&["sweep", "--at", &later]);
    let (_, kept) = server
        .call(
            "GET",
            &format!("{VJ}/assets/{}", third["asset_id"].as_str().unwrap()),
            &key,
            None,
        )
        .await;
    assert_eq!(kept["uploaded"], true, "{kept}");
}

/// The `(type, loc)` of each field a 422 names.
fn named(body: &Value) -> Vec<(String, String)> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap().to_string(),
                d["loc"][1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn missing_unknown_and_malformed_parameters_are_named() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let p = project(&server, &key).await;
    let s = script(&server, &key, &p).await;
    let sid = s["id"].as_str().unwrap();
    let (status, body) = generate(&server, &key, &p, sid, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&body), [("missing".into(), "subject".into())]);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "subject"]));
    assert_eq!(body["detail"][0]["msg"], "Field required");
    let (status, body) = generate(&server, &key, &p, sid, "w=wide&colour=red").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut got = named(&body);
    got.sort();
    assert_eq!(
        got,
        [
            ("extra_forbidden".into(), "colour".into()),
            ("int_parsing".into(), "w".into()),
            ("missing".into(), "subject".into()),
        ]
    );
    // Well formed, but the filled item is not one its generator takes.
    let (status, body) = generate(&server, &key, &p, sid, "subject=fox&w=5").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["detail"].as_str().unwrap().contains("width"), "{body}");
    let (_, project_now) = server
        .call("GET", &format!("{VJ}/projects/{p}"), &key, None)
        .await;
    assert_eq!(project_now["asset_count"], 0, "a refused run left an asset");

    // Other tenants' projects and scripts are not there for them.
    let globex = server.key("globex", "admin");
    for (method, path) in [
        (
            "POST",
            format!("{VJ}/projects/{p}/{sid}/generate?subject=x"),
        ),
        ("GET", format!("{VJ}/projects/{p}/scripts")),
        ("GET", format!("{VJ}/scripts/{p}/{sid}")),
        ("DELETE", format!("{VJ}/scripts/{p}/{sid}")),
    ] {
        let (status, body) = server.call(method, &path, &globex, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // Running scripts takes the render role.
    let viewer = server.key("acme", "viewer");
    let (status, _) = generate(&server, &viewer, &p, sid, "subject=x").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_script_is_checked_when_it_is_saved() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    let p = project(&server, &key).await;
    let cases = [
        (json!({"data": {"type": "image"}}), "missing", "name"),
        (json!({"name": "s"}), "missing", "data"),
        (json!({"name": "s", "data": [1]}), "dict_type", "data"),
        (
            json!({"name": "s", "data": {"type": "gif"}}),
            "value_error",
            "data",
        ),
        (
            json!({"name": "s", "data": {"type": "image", "model": "dall-e"}}),
            "value_error",
            "data",
        ),
        (
            json!({"name": "s", "data": {"type": "image", "prompt": "{{who}}"}}),
            "value_error",
            "data",
        ),
        (
            json!({"name": "s", "data": {"type": "image"}, "inputs": {"9lives": "x"}}),
            "value_error",
            "inputs",
        ),
        (
            json!({"name": "s", "data": {"type": "image"}, "inputs": 3}),
            "value_error",
            "inputs",
        ),
    ];
    for (body, kind, field) in cases {
        let (status, answer) = server
            .call(
                "POST",
                &format!("{VJ}/scripts/{p}/scripts"),
                &key,
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(
            named(&answer),
            [(kind.to_string(), field.to_string())],
            "{body}"
        );
    }
    let (_, answer) = server
        .call(
            "POST",
            &format!("{VJ}/scripts/{p}/scripts"),
            &key,
            Some(json!({"name": "s", "data": {"type": "image", "prompt": "{{who}} {{what}}"}})),
        )
        .await;
    assert!(
        answer["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .ends_with("who, what"),
        "{answer}"
    );
    let (status, _) = server
        .call(
            "POST",
            &format!("{VJ}/scripts/nope/scripts"),
            &key,
            Some(json!({"name": "s", "data": {"type": "image"}})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_generation_that_fails_leaves_a_failed_asset_that_says_why() {
    let server = Server::start().await;
    let key = server.key("acme", "render");
    server.cli_ok(&["client", "set", "--client", "acme", "--credits", "0"]);
    let p = project(&server, &key).await;
    let s = script(&server, &key, &p).await;
    let (status, answer) =
        generate(&server, &key, &p, s["id"].as_str().unwrap(), "subject=fox").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = answer["asset_id"].as_str().unwrap();
    let asset = settled(&server, &key, id).await;
    assert_eq!(asset["status"], "failed");
    assert_eq!(asset["uploaded"], false);
    assert!(
        asset["error"]
            .as_str()
            .unwrap()
            .starts_with("Not enough credits"),
        "{asset}"
    );
    assert_eq!(asset["url"], Value::Null);
    let (_, status_view) = server
        .call("GET", &format!("{VJ}/assets/{id}/status"), &key, None)
        .await;
    assert_eq!(status_view["status"], "failed");
    let (_, check) = server
        .call("GET", &format!("{VJ}/assets/check/{id}"), &key, None)
        .await;
    assert_eq!(check, json!({"uploaded": false}));
}
