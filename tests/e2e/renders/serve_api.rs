//! Shotstack Serve's asset API over render outputs: listing, getting, deleting and transfers.

use super::*;

#[tokio::test]
async fn the_serve_api_lists_gets_deletes_and_transfers_assets() {
    let s = setup().await;
    let render = s
        .create(json!({"outputs": [
            {"type": "video", "src": s.src("clip.mp4")},
            {"type": "thumbnail", "src": s.src("thumb")}
        ]}))
        .await;
    let id = render["id"].as_str().unwrap();
    s.settled(id).await;
    let (status, assets) = s
        .server
        .call(
            "GET",
            &format!("/serve/v1/assets/render/{id}"),
            &s.key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assets}");
    let assets = assets["data"].as_array().unwrap().clone();
    assert_eq!(assets.len(), 2);
    for asset in &assets {
        assert_eq!(asset["type"], "asset");
        let a = &asset["attributes"];
        assert_eq!(
            (a["owner"].as_str(), a["renderId"].as_str()),
            (Some("acme"), Some(id))
        );
        assert_eq!(a["status"], "ready");
        let (status, _) = s.bytes_of(a["url"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK);
    }
    let video = assets
        .iter()
        .find(|a| a["attributes"]["filename"] == format!("{id}.mp4"))
        .unwrap();
    let asset_id = video["attributes"]["id"].as_str().unwrap();
    let hosted = video["attributes"]["url"].as_str().unwrap().to_string();
    let before = s.used_bytes();

    let viewer = s.server.key("acme", "viewer");
    s.server
        .expect_error(
            "DELETE",
            &format!("/serve/v1/assets/{asset_id}"),
            &viewer,
            None,
            403,
            "Insufficient permissions",
        )
        .await;
    assert_eq!(s.delete_asset(asset_id).await, StatusCode::NO_CONTENT);
    let (status, asset) = s
        .server
        .call("GET", &format!("/serve/v1/assets/{asset_id}"), &s.key, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asset["data"]["attributes"]["status"], "deleted");
    assert!(asset["data"]["attributes"]["url"].is_null());
    let (status, _) = s.bytes_of(&hosted).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(s.used_bytes() < before);

    // A transfer: a file fetched by URL straight into hosting.
    let (status, queued) = s
        .server
        .call(
            "POST",
            "/serve/v1/assets",
            &s.key,
            Some(json!({"url": s.src("logo"), "id": "brand-logo",
                        "destinations": [{"provider": "shotstack"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{queued}");
    assert_eq!(queued["data"]["type"], "transfer");
    assert_eq!(queued["data"]["attributes"]["status"], "queued");
    let transfer = queued["data"]["attributes"]["id"].as_str().unwrap();
    let attributes = s.settled_asset(transfer).await;
    assert_eq!(attributes["status"], "ready", "{attributes}");
    assert_eq!(attributes["filename"], "brand-logo.webp");
    // The same file under the same id again is an asset of its own, with a file of its own:
    // deleting one leaves the other.
    let (_, again) = s
        .server
        .call(
            "POST",
            "/serve/v1/assets",
            &s.key,
            Some(json!({"url": s.src("logo"), "id": "brand-logo",
                        "destinations": [{"provider": "shotstack"}]})),
        )
        .await;
    let twin = again["data"]["attributes"]["id"].as_str().unwrap();
    let twin_attributes = s.settled_asset(twin).await;
    assert_eq!(twin_attributes["status"], "ready");
    assert_ne!(twin_attributes["filename"], attributes["filename"]);
    assert_eq!(s.delete_asset(twin).await, StatusCode::NO_CONTENT);
    let (_, asset) = s
        .server
        .call("GET", &format!("/serve/v1/assets/{transfer}"), &s.key, None)
        .await;
    assert_eq!(asset["data"]["attributes"]["status"], "ready");
    let (status, _) = s.bytes_of(attributes["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    for (body, expected) in [
        (json!({"id": "x", "destinations": []}), "url is required"),
        (
            json!({"url": s.src("logo"), "destinations": []}),
            "id is required",
        ),
        (
            json!({"url": s.src("logo"), "id": "x"}),
            "destinations is required",
        ),
        (
            json!({"url": s.src("logo"), "id": "x", "destinations": [{"provider": "mux"}]}),
            "destination provider mux is not offered here; only shotstack (hosting) is",
        ),
        (
            json!({"url": s.src("logo"), "id": "x",
                   "destinations": [{"provider": "shotstack", "exclude": true}]}),
            "no destination takes the file: hosting is excluded",
        ),
    ] {
        s.server
            .expect_error(
                "POST",
                "/serve/v1/assets",
                &s.key,
                Some(body),
                400,
                expected,
            )
            .await;
    }
    let other = s.server.key("globex", "admin");
    s.server
        .expect_error(
            "GET",
            &format!("/serve/v1/assets/{transfer}"),
            &other,
            None,
            404,
            "Asset not found",
        )
        .await;
    s.server
        .expect_error(
            "GET",
            &format!("/serve/v1/assets/render/{id}"),
            &other,
            None,
            404,
            "Render not found",
        )
        .await;
}
