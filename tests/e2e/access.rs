//! The access matrix (issue 9): every authenticated operation in the server's own OpenAPI
//! document, called with no key, a wrong key, a key of each role, and another tenant's admin key.
//! No call below an operation's role may succeed (each gets 403, and 401 without a valid key);
//! every call at or above it gets past authorization; another tenant neither sees nor changes
//! anything of this one.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::Server;

const ROLES: [&str; 5] = ["viewer", "render", "editor", "manager", "admin"];
/// Ids that exist nowhere: operations on them still have to be authorized first.
const NO_ID: &str = "9c5e9ddd-2b99-49a5-9188-9dc10e06de67";

/// The tenant's things another tenant must never see, each with a name holding this marker.
const MARKER: &str = "acmesecret";

struct Op {
    method: &'static str,
    /// As the OpenAPI document names it.
    template: &'static str,
    path: String,
    body: Option<Value>,
    /// The lowest role allowed.
    role: &'static str,
    /// It removes or moves something of the tenant's, so its first allowed call must find it
    /// there: nothing refused before it may have touched it.
    destroys: bool,
}

fn op(method: &'static str, template: &'static str, path: String, role: &'static str) -> Op {
    Op {
        method,
        template,
        path,
        body: None,
        role,
        destroys: false,
    }
}

impl Op {
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn destroys(mut self) -> Self {
        self.destroys = true;
        self
    }
}

/// Ids of what the tenant holds, made before the matrix runs.
struct Held {
    project: String,
    doomed_project: String,
    script: String,
    doomed_script: String,
    asset: String,
    doomed_asset: String,
    webhook: String,
    doomed_webhook: String,
    doomed_key: String,
    upload: String,
    doomed_upload: String,
}

async fn ok(server: &Server, method: &str, path: &str, key: &str, body: Value) -> Value {
    let (status, answer) = server.call(method, path, key, Some(body)).await;
    assert!(status.is_success(), "{method} {path}: {status} {answer}");
    answer
}

async fn hold(server: &Server, admin: &str) -> Held {
    for folder in ["docs", "trash", "box"] {
        ok(
            server,
            "POST",
            "/v2/media/folder",
            admin,
            json!({ "folder": folder }),
        )
        .await;
    }
    for name in ["a.txt", "moved.txt", "gone.txt"] {
        server
            .upload(
                admin,
                "docs",
                &format!("{MARKER}-{name}"),
                "text/plain",
                b"acme",
            )
            .await;
    }
    let project = |name: &str| json!({ "name": format!("{MARKER}-{name}") });
    let p = ok(server, "POST", "/videojungle/projects", admin, project("p")).await;
    let doomed = ok(server, "POST", "/videojungle/projects", admin, project("q")).await;
    let project_id = p["id"].as_str().unwrap().to_string();
    let script = |name: &str| {
        json!({
            "name": format!("{MARKER}-{name}"),
            "data": {"type": "image", "model": "local-image", "prompt": "a {{subject}}"},
            "inputs": {"subject": {"type": "string"}},
        })
    };
    let scripts = format!("/videojungle/scripts/{project_id}/scripts");
    let s = ok(server, "POST", &scripts, admin, script("s")).await;
    let doomed_script = ok(server, "POST", &scripts, admin, script("t")).await;
    let link = |name: &str| {
        json!({"upload_method": "file-no-chunk", "asset_type": "user",
               "keyname": format!("{MARKER}-{name}")})
    };
    let assets = format!("/videojungle/projects/{project_id}/asset");
    let asset = ok(server, "POST", &assets, admin, link("a")).await;
    let doomed_asset = ok(server, "POST", &assets, admin, link("b")).await;
    let hook = |name: &str| json!({"url": "http://127.0.0.1:9/hook", "description": format!("{MARKER}-{name}")});
    let webhook = ok(server, "POST", "/v2/webhooks", admin, hook("w")).await;
    let doomed_webhook = ok(server, "POST", "/v2/webhooks", admin, hook("x")).await;
    let key = json!({"role": "viewer", "name": format!("{MARKER}-k")});
    let doomed_key = ok(server, "POST", "/v2/keys", admin, key).await;
    let id = |v: &Value| v["id"].as_str().unwrap().to_string();
    let mut uploads = Vec::new();
    for name in ["u", "v"] {
        let created = server
            .tus_create(admin, &[("filename", &format!("{MARKER}-{name}.bin"))], 10)
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let location = created.headers()["location"].to_str().unwrap();
        uploads.push(location.rsplit('/').next().unwrap().to_string());
    }
    Held {
        upload: uploads[0].clone(),
        doomed_upload: uploads[1].clone(),
        project: project_id.clone(),
        doomed_project: id(&doomed),
        script: id(&s),
        doomed_script: id(&doomed_script),
        asset: id(&asset),
        doomed_asset: id(&doomed_asset),
        webhook: webhook["endpoint"]["id"].as_str().unwrap().to_string(),
        doomed_webhook: doomed_webhook["endpoint"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
        doomed_key: doomed_key["key"]["id"].as_str().unwrap().to_string(),
    }
}

impl Held {
    fn ids(&self) -> [&String; 11] {
        [
            &self.project,
            &self.doomed_project,
            &self.script,
            &self.doomed_script,
            &self.asset,
            &self.doomed_asset,
            &self.webhook,
            &self.doomed_webhook,
            &self.doomed_key,
            &self.upload,
            &self.doomed_upload,
        ]
    }

    /// Everything of the tenant's no other caller may be shown: its ids and its names.
    fn secrets(&self) -> Vec<String> {
        let names = "a.txt moved.txt gone.txt p q s t a b w x k u.bin v.bin".split(' ');
        let names = names.map(|n| format!("{MARKER}-{n}"));
        self.ids().into_iter().cloned().chain(names).collect()
    }
}

/// One call of every authenticated operation, in an order where what an operation removes is
/// no longer needed by a later one.
fn operations(h: &Held) -> Vec<Op> {
    let file = format!("docs/{MARKER}-a.txt");
    let (p, s, a, w) = (&h.project, &h.script, &h.asset, &h.webhook);
    vec![
        op("get", "/v2/media", "/v2/media".into(), "viewer"),
        op("get", "/v2/media/file", format!("/v2/media/file?path={file}"), "viewer"),
        op("get", "/v2/media/file/metadata", format!("/v2/media/file/metadata?path={file}"), "viewer"),
        op("get", "/v2/media/folder", "/v2/media/folder?folder=docs".into(), "viewer"),
        op("post", "/v2/media/file", "/v2/media/file".into(), "render").body(
            json!({"name": "new.txt", "contentType": "text/plain", "size": 3, "folder": "box"}),
        ),
        op("post", "/v2/media/folder", "/v2/media/folder".into(), "render")
            .body(json!({"folder": "box/new"})),
        op("put", "/v2/media/file", "/v2/media/file".into(), "editor")
            .body(json!({"name": format!("{MARKER}-moved.txt"), "folder": "docs", "destination": "box"}))
            .destroys(),
        op("delete", "/v2/media/file", "/v2/media/file".into(), "editor")
            .body(json!({"name": format!("{MARKER}-gone.txt"), "folder": "docs"}))
            .destroys(),
        op("put", "/v2/media/folder", "/v2/media/folder".into(), "editor")
            .body(json!({"folder": "box", "newName": "crate"}))
            .destroys(),
        op("delete", "/v2/media/folder", "/v2/media/folder".into(), "editor")
            .body(json!({"folder": "trash"}))
            .destroys(),
        op("get", "/v2/models", "/v2/models".into(), "viewer"),
        op("post", "/v2/preloads", "/v2/preloads".into(), "render").body(json!({})),
        op("get", "/v2/preloads/{preload_id}", format!("/v2/preloads/{NO_ID}"), "viewer"),
        op("post", "/v2/renders", "/v2/renders".into(), "render").body(json!({})),
        op("get", "/v2/renders/{render_id}", format!("/v2/renders/{NO_ID}"), "viewer"),
        op(
            "put",
            "/v2/renders/{render_id}/outputs/{output_id}",
            format!("/v2/renders/{NO_ID}/outputs/{NO_ID}"),
            "render",
        ),
        op("get", "/v2/webhooks", "/v2/webhooks".into(), "manager"),
        op("post", "/v2/webhooks", "/v2/webhooks".into(), "manager")
            .body(json!({"url": "http://127.0.0.1:9/other"})),
        op("get", "/v2/webhooks/callback-secret", "/v2/webhooks/callback-secret".into(), "manager"),
        op("get", "/v2/webhooks/deliveries", "/v2/webhooks/deliveries".into(), "manager"),
        op(
            "post",
            "/v2/webhooks/deliveries/{id}/redeliver",
            format!("/v2/webhooks/deliveries/{NO_ID}/redeliver"),
            "manager",
        ),
        op("get", "/v2/webhooks/{id}", format!("/v2/webhooks/{w}"), "manager"),
        op("post", "/v2/webhooks/{id}/secret", format!("/v2/webhooks/{w}/secret"), "manager"),
        op("post", "/v2/webhooks/callback-secret", "/v2/webhooks/callback-secret".into(), "manager"),
        op("put", "/v2/webhooks/{id}", format!("/v2/webhooks/{w}"), "manager")
            .body(json!({"description": "renamed"})),
        op("get", "/v2/webhooks/{id}/deliveries", format!("/v2/webhooks/{w}/deliveries"), "manager"),
        op("delete", "/v2/webhooks/{id}", format!("/v2/webhooks/{}", h.doomed_webhook), "manager")
            .destroys(),
        op("get", "/v2/keys", "/v2/keys".into(), "manager"),
        op("post", "/v2/keys", "/v2/keys".into(), "manager")
            .body(json!({"role": "viewer", "name": "other"})),
        op("delete", "/v2/keys/{id}", format!("/v2/keys/{}", h.doomed_key), "manager").destroys(),
        op("post", "/tus/", "/tus/".into(), "render"),
        op("head", "/tus/{id}", format!("/tus/{}", h.upload), "render"),
        op("patch", "/tus/{id}", format!("/tus/{}", h.upload), "render"),
        op("delete", "/tus/{id}", format!("/tus/{}", h.doomed_upload), "render").destroys(),
        op("post", "/serve/v1/assets", "/serve/v1/assets".into(), "render").body(json!({})),
        op("get", "/serve/v1/assets/render/{id}", format!("/serve/v1/assets/render/{NO_ID}"), "viewer"),
        op("get", "/serve/v1/assets/{id}", format!("/serve/v1/assets/{NO_ID}"), "viewer"),
        op("delete", "/serve/v1/assets/{id}", format!("/serve/v1/assets/{NO_ID}"), "editor"),
        op("get", "/videojungle/projects", "/videojungle/projects".into(), "viewer"),
        op("post", "/videojungle/projects", "/videojungle/projects".into(), "render")
            .body(json!({"name": "another"})),
        op("get", "/videojungle/projects/{id}", format!("/videojungle/projects/{p}"), "viewer"),
        op("get", "/videojungle/projects/{id}/asset", format!("/videojungle/projects/{p}/asset"), "viewer"),
        op("get", "/videojungle/projects/{id}/asset/generated", format!("/videojungle/projects/{p}/asset/generated"), "viewer"),
        op("get", "/videojungle/projects/{id}/assets", format!("/videojungle/projects/{p}/assets"), "viewer"),
        op("post", "/videojungle/projects/{id}/asset", format!("/videojungle/projects/{p}/asset"), "render")
            .body(json!({"upload_method": "file-no-chunk", "asset_type": "user", "keyname": "k"})),
        op("get", "/videojungle/assets/{id}", format!("/videojungle/assets/{a}"), "viewer"),
        op("get", "/videojungle/assets/{id}/status", format!("/videojungle/assets/{a}/status"), "viewer"),
        op("get", "/videojungle/assets/check/{id}", format!("/videojungle/assets/check/{a}"), "viewer"),
        op("post", "/videojungle/assets/{id}/upload", format!("/videojungle/assets/{a}/upload"), "render"),
        op("delete", "/videojungle/assets/{id}", format!("/videojungle/assets/{}", h.doomed_asset), "editor")
            .destroys(),
        op("get", "/videojungle/scripts", "/videojungle/scripts".into(), "viewer"),
        op("get", "/videojungle/projects/{project_id}/scripts", format!("/videojungle/projects/{p}/scripts"), "viewer"),
        op("post", "/videojungle/scripts/{project_id}/scripts", format!("/videojungle/scripts/{p}/scripts"), "render")
            .body(json!({"name": "n", "data": {"type": "image", "model": "local-image", "prompt": "x"}})),
        op("get", "/videojungle/scripts/{project_id}/{script_id}", format!("/videojungle/scripts/{p}/{s}"), "viewer"),
        op(
            "post",
            "/videojungle/projects/{project_id}/{script_id}/generate",
            format!("/videojungle/projects/{p}/{s}/generate"),
            "render",
        ),
        op(
            "delete",
            "/videojungle/scripts/{project_id}/{script_id}",
            format!("/videojungle/scripts/{p}/{}", h.doomed_script),
            "editor",
        )
        .destroys(),
        op("delete", "/videojungle/projects/{id}", format!("/videojungle/projects/{}", h.doomed_project), "editor")
            .destroys(),
    ]
}

/// The authenticated operations of the server's OpenAPI document, as "method template".
async fn documented(server: &Server) -> BTreeSet<String> {
    let doc = server.openapi().await;
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("security").is_some() {
                out.insert(format!("{method} {path}"));
            }
        }
    }
    out
}

/// An answer: its status, and its headers and body as one text to search.
async fn send(server: &Server, op: &Op, key: Option<&str>) -> (StatusCode, String) {
    let method = reqwest::Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
    let mut request = server.http.request(method, server.url(&op.path));
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    // tus requests name the protocol version; other surfaces ignore the header.
    request = request.header("tus-resumable", "1.0.0");
    if let Some(body) = &op.body {
        request = request.json(body);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status();
    let mut answer = String::new();
    for (name, value) in resp.headers() {
        answer.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    answer.push('\n');
    answer.push_str(&resp.text().await.unwrap());
    (status, answer)
}

/// What of the tenant's an answer to someone else shows that the request did not name itself
/// (an error may echo what it was asked for): the marker, a held thing's name or its id.
fn shown<'a>(held: &'a [String], op: &Op, answer: &str) -> Vec<&'a str> {
    let request = format!(
        "{} {}",
        op.path,
        op.body.as_ref().map_or(String::new(), Value::to_string)
    );
    held.iter()
        .map(String::as_str)
        .chain([MARKER])
        .filter(|s| answer.contains(s) && !request.contains(s))
        .collect()
}

#[derive(Default, Debug)]
struct Figures {
    operations: usize,
    calls: usize,
    forbidden_calls: usize,
    forbidden_succeeded: usize,
    /// Refused, but not with the status the refusal should have.
    refused_wrongly: usize,
    allowed_refused: usize,
    other_tenant_saw_or_changed: usize,
    /// Answers searched for what they must not show: every answer to a caller not of the tenant.
    searched: usize,
    shown_to_others: usize,
    server_errors: usize,
}

#[tokio::test]
async fn no_call_succeeds_without_its_role_or_across_tenants() {
    // The matrix makes hundreds of calls without a working key from one address: not a flood.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("access.toml");
    std::fs::write(&config, "[limits]\nfailed_auths_per_minute = 0\n").unwrap();
    let flags = [
        "--fetch-allow",
        "127.0.0.0/8",
        "--config",
        config.to_str().unwrap(),
    ];
    let server = Server::start_with(&flags).await;
    let keys: Vec<(&str, String)> = ROLES.iter().map(|r| (*r, server.key("acme", r))).collect();
    let admin = keys[4].1.clone();
    let other = server.key("globex", "admin");
    let held = hold(&server, &admin).await;
    let ops = operations(&held);

    // The matrix covers exactly what the document offers, so a new operation cannot slip past it.
    let covered: BTreeSet<String> = ops
        .iter()
        .map(|o| format!("{} {}", o.method, o.template))
        .collect();
    assert_eq!(covered.len(), ops.len(), "an operation is listed twice");
    assert_eq!(covered, documented(&server).await);

    let mut fig = Figures {
        operations: ops.len(),
        ..Figures::default()
    };
    let mut failures = Vec::new();
    let secrets = held.secrets();
    for op in &ops {
        let name = format!("{} {}", op.method.to_uppercase(), op.path);
        // Another tenant first, while everything of this one is still in place.
        for (caller, key, expected) in [
            ("without a key", None, Some(401)),
            ("with a wrong key", Some("mdk_not_a_key"), Some(401)),
            ("by another tenant", Some(other.as_str()), None),
        ] {
            let (status, answer) = send(&server, op, key).await;
            fig.calls += 1;
            fig.searched += 1;
            let addressed = held.ids().iter().any(|id| op.path.contains(id.as_str()));
            let shown = shown(&secrets, op, &answer);
            if status.is_server_error() {
                fig.server_errors += 1;
                failures.push(format!("{name} {caller}: {status} {answer}"));
            }
            if !shown.is_empty() {
                fig.shown_to_others += 1;
                failures.push(format!(
                    "{name} {caller} showed {shown:?}: {status} {answer}"
                ));
            }
            match expected {
                Some(expected) => {
                    fig.forbidden_calls += 1;
                    if status.is_success() {
                        fig.forbidden_succeeded += 1;
                        failures.push(format!("{name} {caller}: {status} {answer}"));
                    } else if status.as_u16() != expected {
                        fig.refused_wrongly += 1;
                        failures.push(format!("{name} {caller}: {status}, not {expected}"));
                    }
                }
                None if status.is_success() && addressed => {
                    fig.other_tenant_saw_or_changed += 1;
                    failures.push(format!(
                        "{name} {caller} reached this one's: {status} {answer}"
                    ));
                }
                None => {}
            }
        }
        let needed = ROLES.iter().position(|r| *r == op.role).unwrap();
        let mut first_allowed = true;
        for (i, (role, key)) in keys.iter().enumerate() {
            let (status, body) = send(&server, op, Some(key)).await;
            fig.calls += 1;
            if status.is_server_error() {
                fig.server_errors += 1;
                failures.push(format!("{name} as {role}: {status} {body}"));
            } else if i < needed {
                fig.forbidden_calls += 1;
                if status.is_success() {
                    fig.forbidden_succeeded += 1;
                    failures.push(format!("{name} as {role}: {status} {body}"));
                } else if status != StatusCode::FORBIDDEN {
                    fig.refused_wrongly += 1;
                    failures.push(format!("{name} as {role}: {status}, not 403 ({body})"));
                }
            } else {
                let refused = matches!(status.as_u16(), 401 | 403);
                // What it removes was left alone by every call refused before it.
                let missing = op.destroys && first_allowed && !status.is_success();
                if refused || missing {
                    fig.allowed_refused += 1;
                    failures.push(format!("{name} as {role}: {status} {body}"));
                }
            }
            if i >= needed {
                first_allowed = false;
            }
        }
    }
    println!("access matrix: {fig:#?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(fig.forbidden_calls > 0 && fig.operations >= 46);
    assert_eq!(fig.searched, 3 * fig.operations);
}
