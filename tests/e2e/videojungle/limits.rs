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
