//! `[limits]` bounds what a tenant can make the server keep through the Video Jungle surface
//! besides bytes: the size of each project and script text field, and the number of projects.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{detail, VJ};
use crate::harness::Server;

const FIELD_BYTES: usize = 1024;

async fn server() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("limits.toml");
    let toml = format!("[limits]\nproject_field_bytes = {FIELD_BYTES}\nprojects_per_tenant = 3\n");
    std::fs::write(&config, toml).unwrap();
    (
        Server::start_with(&["--config", config.to_str().unwrap()]).await,
        dir,
    )
}

/// The 422 a body field over the limit gets, in FastAPI's shape.
fn too_big(field: &str) -> Value {
    json!({"detail": [{
        "type": "value_error",
        "loc": ["body", field],
        "msg": format!("Value error, {field} holds at most {FIELD_BYTES} bytes"),
        "input": null,
    }]})
}

async fn create(server: &Server, key: &str, body: Value) -> (StatusCode, Value) {
    server
        .call("POST", &format!("{VJ}/projects"), key, Some(body))
        .await
}

#[tokio::test]
async fn project_and_script_fields_and_the_project_count_are_bounded() {
    let (server, _dir) = server().await;
    let key = server.key("acme", "editor");

    // A description exactly at the limit is kept; one byte more is refused, as is data whose JSON
    // is over it. Neither makes a project.
    let at = "d".repeat(FIELD_BYTES);
    let (status, first) = create(&server, &key, json!({"name": "a", "description": at})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(
        first["description"].as_str().map(str::len),
        Some(FIELD_BYTES)
    );
    let over = "d".repeat(FIELD_BYTES + 1);
    let got = create(&server, &key, json!({"name": "b", "description": over})).await;
    assert_eq!(
        got,
        (StatusCode::UNPROCESSABLE_ENTITY, too_big("description"))
    );
    let data = json!({"notes": "n".repeat(FIELD_BYTES)});
    let got = create(&server, &key, json!({"name": "b", "data": data})).await;
    assert_eq!(got, (StatusCode::UNPROCESSABLE_ENTITY, too_big("data")));

    // A script's template and its inputs each have the same bound.
    let p = first["id"].as_str().unwrap();
    let scripts = format!("{VJ}/scripts/{p}/scripts");
    let long = "x".repeat(FIELD_BYTES);
    let template = json!({"type": "image", "model": "local-image", "prompt": long});
    let body = json!({"name": "s", "data": template});
    let got = server.call("POST", &scripts, &key, Some(body)).await;
    assert_eq!(got, (StatusCode::UNPROCESSABLE_ENTITY, too_big("data")));
    let inputs = json!({"subject": {"type": "string", "description": long}});
    let template = json!({"type": "image", "model": "local-image", "prompt": "{{subject}}"});
    let body = json!({"name": "s", "data": template, "inputs": inputs});
    let got = server.call("POST", &scripts, &key, Some(body)).await;
    assert_eq!(got, (StatusCode::UNPROCESSABLE_ENTITY, too_big("inputs")));
    let (_, listed) = server
        .call("GET", &format!("{VJ}/projects/{p}/scripts"), &key, None)
        .await;
    assert_eq!(listed, json!([]));

    // Three projects per tenant: the fourth is refused, another tenant is not affected, and
    // deleting one makes room.
    for name in ["b", "c"] {
        let (status, made) = create(&server, &key, json!({"name": name})).await;
        assert_eq!(status, StatusCode::OK, "{made}");
    }
    let (status, body) = create(&server, &key, json!({"name": "d"})).await;
    assert_eq!(
        (status, detail(&body)),
        (
            StatusCode::FORBIDDEN,
            "Project limit reached. Delete a project to create another."
        )
    );
    let (_, all) = server
        .call("GET", &format!("{VJ}/projects"), &key, None)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let other = server.key("globex", "editor");
    assert_eq!(
        create(&server, &other, json!({"name": "d"})).await.0,
        StatusCode::OK
    );
    let (status, _) = server
        .call("DELETE", &format!("{VJ}/projects/{p}"), &key, None)
        .await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        create(&server, &key, json!({"name": "d"})).await.0,
        StatusCode::OK
    );
}

/// The reservation that runs ahead of a form's bytes stops at the form's declared length: a file
/// that fits the room is taken, even with next to no room to spare.
#[tokio::test]
async fn a_form_that_fits_the_room_is_never_refused_for_its_reservation() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let data = crate::harness::bytes(31, 1_000_000);
    let quota = (data.len() + 1000).to_string();
    server.cli_ok(&["client", "set", "--client", "acme", "--quota", &quota]);
    let p = super::project(&server, &key, "tight").await;
    let id = p["id"].as_str().unwrap();
    let (status, asset) = super::upload(&server, &key, id, "fits", data.clone()).await;
    assert_eq!(status, StatusCode::OK, "{asset}");
    let shown = server.client_show("acme");
    assert_eq!(
        (
            shown["used_bytes"].as_u64(),
            shown["pending_bytes"].as_u64()
        ),
        (Some(data.len() as u64), Some(0))
    );
}

/// `GET /projects` is paged by `limit` and `offset`, newest first, with `Link: rel="next"` while
/// more follow; each project still shows its newest assets and its scripts; out-of-range
/// parameters get FastAPI's 422.
#[tokio::test]
async fn the_project_list_is_paged_by_limit_and_offset() {
    let server = Server::start().await;
    let key = server.key("acme", "editor");
    let big = "d".repeat(60_000);
    let mut made = Vec::new();
    for i in 0..7 {
        let body = json!({"name": format!("p{i}"), "description": big, "data": {"seed": i}});
        let (status, project) = create(&server, &key, body).await;
        assert_eq!(status, StatusCode::OK, "{project}");
        made.push(project["id"].as_str().unwrap().to_string());
    }
    let asset = json!({"upload_method": "file-no-chunk", "asset_type": "user", "keyname": "k"});
    let newest = &made[6];
    let path = format!("{VJ}/projects/{newest}/asset");
    let (status, _) = server.call("POST", &path, &key, Some(asset)).await;
    assert_eq!(status, StatusCode::OK);

    let http = reqwest::Client::new();
    let mut url = server.url(&format!("{VJ}/projects?limit=3"));
    let mut pages = Vec::new();
    loop {
        let resp = http
            .get(&url)
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let next = resp.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            l[l.find('<').unwrap() + 1..l.find('>').unwrap()].to_string()
        });
        let page: Vec<Value> = resp.json().await.unwrap();
        pages.push(page);
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let ids: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = made.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, expected, "newest first, each once");
    let first = &pages[0][0];
    assert_eq!(
        (
            first["asset_count"].as_u64(),
            first["assets"].as_array().unwrap().len()
        ),
        (Some(1), 1)
    );
    assert_eq!(
        first["assets"][0]["keyname"].as_str().map(str::len),
        Some(36),
        "{first}"
    );

    // Without parameters: the first 50, which the official client's projects.list() reads.
    let (status, all) = server
        .call("GET", &format!("{VJ}/projects"), &key, None)
        .await;
    assert_eq!((status, all.as_array().unwrap().len()), (StatusCode::OK, 7));
    for (query, field, msg) in [
        (
            "limit=0",
            "limit",
            "Input should be greater than or equal to 1",
        ),
        (
            "limit=101",
            "limit",
            "Input should be less than or equal to 100",
        ),
        (
            "offset=-1",
            "offset",
            "Input should be greater than or equal to 0",
        ),
        (
            "offset=x",
            "offset",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
    ] {
        let (status, body) = server
            .call("GET", &format!("{VJ}/projects?{query}"), &key, None)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{query}");
        assert_eq!(body["detail"][0]["msg"], msg, "{query}");
    }
}
