//! Per-request callbacks of preloads and renders: signed like endpoint deliveries, logged, and
//! sent again on request; a render's endpoints and callback hear of each asset as it is hosted.

use reqwest::StatusCode;
use serde_json::json;

use super::{register, start, Receiver};

#[tokio::test]
async fn a_preload_callback_hears_of_each_item_and_of_the_end() {
    let (server, _config) = start().await;
    let manager = server.key("acme", "manager");
    let receiver = Receiver::start().await;
    let (_, secret) = server
        .call("GET", "/v2/webhooks/callback-secret", &manager, None)
        .await;
    *receiver.secret.lock().unwrap() = secret["secret"].as_str().unwrap().to_string();
    let (status, body) = server
        .call(
            "POST",
            "/v2/preloads",
            &manager,
            Some(json!({
                "callback": receiver.url,
                "preload": [
                    {"id": "a", "type": "audio", "duration": 0.5},
                    {"id": "b", "type": "image", "model": "nope", "prompt": "x"}
                ]
            })),
        )
        .await;
    // An unknown model is refused before anything is queued.
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = server
        .call(
            "POST",
            "/v2/preloads",
            &manager,
            Some(json!({
                "callback": receiver.url,
                "preload": [{"id": "a", "type": "audio", "duration": 0.5}]
            })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mut got = receiver.wait_for(2).await;
    assert!(got.iter().all(|r| r.signature_ok), "{got:?}");
    got.sort_by_key(|r| r.body["type"].as_str().unwrap().to_string());
    assert_eq!(got[1].body["type"], "preload.item.ready");
    assert_eq!(got[1].body["data"]["item"]["id"], "a");
    assert_eq!(got[1].body["data"]["item"]["status"], "ready");
    assert_eq!(got[0].body["type"], "preload.completed");
    assert_eq!(got[0].body["data"]["preload"]["status"], "done");
    assert_eq!(got[0].body["data"]["preload"]["id"], body["id"]);
    // Callbacks have a log too, and may be sent again.
    let (_, all) = server
        .call("GET", "/v2/webhooks/deliveries", &manager, None)
        .await;
    let callbacks = all["deliveries"].as_array().unwrap();
    assert_eq!(callbacks.len(), 2);
    assert!(callbacks
        .iter()
        .all(|d| d["endpoint_id"].is_null() && d["url"] == receiver.url.as_str()));
    let redeliver = format!(
        "/v2/webhooks/deliveries/{}/redeliver",
        callbacks[0]["id"].as_str().unwrap()
    );
    let (status, _) = server.call("POST", &redeliver, &manager, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    receiver.wait_for(3).await;
}

#[tokio::test]
async fn a_render_callback_and_endpoints_hear_of_each_asset_as_it_is_hosted() {
    let (server, _config) = start().await;
    let manager = server.key("acme", "manager");
    let endpoint = Receiver::start().await;
    register(
        &server,
        &manager,
        &endpoint,
        json!(["asset.hosted", "asset.failed"]),
    )
    .await;
    let callback = Receiver::start().await;
    let (_, secret) = server
        .call("GET", "/v2/webhooks/callback-secret", &manager, None)
        .await;
    *callback.secret.lock().unwrap() = secret["secret"].as_str().unwrap().to_string();
    let (status, render) = server
        .call(
            "POST",
            "/v2/renders",
            &manager,
            Some(json!({"callback": callback.url,
                        "outputs": [{"type": "video"}, {"type": "thumbnail"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{render}");
    let outputs = render["outputs"].as_array().unwrap();
    let clip = crate::mock_models::MockModels::start().await;
    let video = server
        .http
        .get(format!("{}/files/clip.mp4", clip.base))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    // The thumbnail is not an image: refused at upload, so only the video is hosted.
    for (output, bytes, status) in [
        (&outputs[0], video.to_vec(), StatusCode::OK),
        (
            &outputs[1],
            vec![0u8; 100],
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let resp = server
            .http
            .put(output["upload_url"].as_str().unwrap())
            .header("x-api-key", &manager)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status);
    }
    endpoint.wait_for(1).await;
    callback.wait_for(1).await;
    // The refusal failed nothing: the thumbnail still waits for its bytes, and no event of it
    // was recorded (events are recorded with the change they tell of).
    let (_, now) = server
        .call(
            "GET",
            &format!("/v2/renders/{}", render["id"].as_str().unwrap()),
            &manager,
            None,
        )
        .await;
    assert_eq!(now["outputs"][1]["status"], "waiting", "{now}");
    let (_, log) = server
        .call("GET", "/v2/webhooks/deliveries", &manager, None)
        .await;
    let types: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["asset.hosted", "asset.hosted"], "{log}");
    // Once it is sent, it is hosted and heard of like the video.
    let thumbnail = crate::mock_models::webp_for("thumbnail", 64, 36);
    let resp = server
        .http
        .put(outputs[1]["upload_url"].as_str().unwrap())
        .header("x-api-key", &manager)
        .body(thumbnail)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    for receiver in [&endpoint, &callback] {
        let mut got = receiver.wait_for(2).await;
        assert_eq!(got.len(), 2, "{got:?}");
        got.sort_by_key(|r| r.body["data"]["asset"]["id"] != outputs[0]["id"]);
        for (r, output) in got.iter().zip(outputs) {
            assert!(r.signature_ok);
            assert_eq!(r.body["type"], "asset.hosted");
            let data = &r.body["data"];
            assert_eq!(data["render_id"], render["id"]);
            assert_eq!(data["asset"]["id"], output["id"]);
            assert_eq!(data["asset"]["status"], "ready");
            let hosted = data["asset"]["hosted_url"].as_str().unwrap();
            assert_eq!(server.get(hosted).await.status(), StatusCode::OK);
        }
    }
}
