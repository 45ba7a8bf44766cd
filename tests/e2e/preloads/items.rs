//! Seed 000 through HTTP, the request side: idempotency, refusals item by item, the models list,
//! every built-in generator, and `src` URLs that must not reach private addresses.

use super::*;

#[tokio::test]
async fn an_idempotency_key_answers_with_the_same_preload() {
    let s = setup().await;
    let post = |key: &'static str| {
        s.server
            .http
            .post(s.server.url("/v2/preloads"))
            .header("x-api-key", &s.key)
            .header("idempotency-key", key)
            .json(&json!({"preload": [throwaway()]}))
            .send()
    };
    let first: Value = post("job-1").await.unwrap().json().await.unwrap();
    let second: Value = post("job-1").await.unwrap().json().await.unwrap();
    let other: Value = post("job-2").await.unwrap().json().await.unwrap();
    assert_eq!(first["id"], second["id"]);
    assert_ne!(first["id"], other["id"]);
    s.wait(first["id"].as_str().unwrap()).await;
    s.wait(other["id"].as_str().unwrap()).await;
    // job-2 found the asset job-1 made in the cache.
    assert_eq!(s.mock.calls.count("images"), 1);
    assert_eq!(s.credits(), 95);
}

#[tokio::test]
async fn every_bad_item_gets_a_400_naming_the_item_and_field() {
    let s = setup().await;
    let cases = [
        (json!({}), "preload is required"),
        (json!({"preload": "x"}), "preload is required"),
        (json!({"preload": []}), "preload must hold at least one item"),
        (json!({"preload": [1]}), "preload[0]: each item must be an object"),
        (json!({"preload": [{"id": "a"}]}), "preload[0] (id a): type is required"),
        (
            json!({"preload": [{"id": "a", "type": "hologram"}]}),
            "preload[0] (id a): type must be one of image, video, audio, voice, html, component",
        ),
        (
            json!({"preload": [throwaway(), {"id": "b", "type": "image", "model": "flux-schnell"}]}),
            "preload[1] (id b): prompt is required",
        ),
        (
            json!({"preload": [{"type": "image", "model": "dall-e-9", "prompt": "x"}]}),
            "preload[0]: model dall-e-9 is not available for type image; available: flux-schnell, offline-model, local-image, url",
        ),
        (
            json!({"preload": [{"type": "image", "prompt": "x", "save-to-media": "yes"}]}),
            "preload[0]: save-to-media must be true or false",
        ),
        (
            json!({"preload": [{"type": "voice", "src": "https://example.com/a.mp3"}]}),
            "preload[0]: src is only supported on image and video items",
        ),
        (
            json!({"preload": [{"type": "image", "src": "ftp://example.com/a.png"}]}),
            "preload[0]: src must be an http or https URL",
        ),
        (
            json!({"preload": [{"type": "audio", "duration": 9999}]}),
            "preload[0]: duration must be a number from 0.1 to 300",
        ),
        (
            json!({"preload": [{"type": "component", "model": "lower-third", "width": -1}]}),
            "preload[0]: width must be a whole number from 1 to 8192",
        ),
    ];
    for (body, msg) in cases {
        s.server
            .expect_error("POST", "/v2/preloads", &s.key, Some(body), 400, msg)
            .await;
    }
    let many: Vec<Value> = (0..101).map(|_| throwaway()).collect();
    s.server
        .expect_error(
            "POST",
            "/v2/preloads",
            &s.key,
            Some(json!({"preload": many})),
            400,
            "preload holds 101 items; at most 100 are allowed",
        )
        .await;
    let viewer = s.server.key("acme", "viewer");
    s.server
        .expect_error(
            "POST",
            "/v2/preloads",
            &viewer,
            Some(json!({"preload": [throwaway()]})),
            403,
            "Insufficient permissions",
        )
        .await;
    assert_eq!(
        s.mock.total_model_calls(),
        0,
        "a refused request generated something"
    );
    let id = s.queue(json!([throwaway()])).await;
    let stranger = s.server.key("other", "admin");
    for (key, path) in [
        (&stranger, format!("/v2/preloads/{id}")),
        (&s.key, "/v2/preloads/nope".to_string()),
    ] {
        s.server
            .expect_error("GET", &path, key, None, 404, "Preload not found")
            .await;
    }
}

#[tokio::test]
async fn models_lists_every_generator_with_cost_and_availability() {
    let s = setup().await;
    let viewer = s.server.key("acme", "viewer");
    let (status, body) = s.server.call("GET", "/v2/models", &viewer, None).await;
    assert_eq!(status, StatusCode::OK);
    let models = body["models"].as_array().unwrap();
    let find = |t: &str, m: &str| {
        models
            .iter()
            .find(|x| x["type"] == t && x["model"] == m)
            .unwrap_or_else(|| panic!("{t}/{m} missing from {body}"))
    };
    let flux = find("image", "flux-schnell");
    assert_eq!(
        (
            flux["credits"].as_i64(),
            flux["available"].as_bool(),
            flux["local"].as_bool(),
            flux["default"].as_bool()
        ),
        (Some(5), Some(true), Some(false), Some(true))
    );
    let offline = find("image", "offline-model");
    assert_eq!(offline["available"], false);
    let builtin = find("image", "local-image");
    assert_eq!(
        (
            builtin["credits"].as_i64(),
            builtin["local"].as_bool(),
            builtin["default"].as_bool()
        ),
        (Some(1), Some(true), Some(false))
    );
    assert_eq!(find("voice", "elevenlabs")["credits"], 3);
    assert_eq!(find("component", "lower-third")["credits"], 4);
    for (t, m) in [
        ("audio", "local-tone"),
        ("voice", "espeak-ng"),
        ("html", "chromium"),
        ("video", "local-video"),
    ] {
        let builtin = find(t, m);
        assert_eq!(
            (
                builtin["local"].as_bool(),
                builtin["available"].as_bool(),
                builtin["credits"].as_i64()
            ),
            (Some(true), Some(true), Some(1)),
            "{t}/{m}"
        );
    }
    assert_eq!(find("video", "url")["credits"], 0);
    assert_eq!(
        message(&s.server.call("GET", "/v2/models", "wrong", None).await.1),
        "Invalid API key"
    );
}

#[tokio::test]
async fn the_builtins_and_the_http_generator_make_real_media() {
    let s = setup().await;
    let items = s
        .run(json!([
            {"id": "img", "type": "image", "model": "local-image", "prompt": "hello world", "width": 320, "height": 200},
            {"id": "tone", "type": "audio", "duration": 1.5, "frequency": 880},
            {"id": "speech", "type": "voice", "model": "espeak-ng", "text": "Hello from mediadrive", "save-to-media": true},
            {"id": "page", "type": "html", "html": "<body style='background:#c00'><h1>Hi</h1></body>", "width": 400, "height": 300},
            {"id": "clip", "type": "video", "duration": 1, "width": 160, "height": 90},
            {"id": "lower", "type": "component", "model": "lower-third", "template": "news", "save-to-media": true},
            {"id": "peek", "type": "html", "width": 320, "height": 240, "html":
                "<body style='margin:0;background:#fff'><iframe src='file:///etc/passwd' style='border:0;width:100%;height:100%'></iframe></body>"}
        ]))
        .await;
    let img = ready(&items[0]);
    assert_eq!(
        (img["width"].as_u64(), img["height"].as_u64()),
        (Some(320), Some(200))
    );
    assert!(url(img).ends_with(".webp"));
    let tone = ready(&items[1]);
    assert!(url(tone).ends_with(".wav"));
    assert_eq!(tone["duration"].as_f64(), Some(1.5));
    let speech = ready(&items[2]);
    assert!(
        url(speech).ends_with("/acme/files/generated/voice/speech.wav"),
        "{speech}"
    );
    assert!(speech["duration"].as_f64().unwrap() > 0.5);
    let page = ready(&items[3]);
    assert_eq!(
        (page["width"].as_u64(), page["height"].as_u64()),
        (Some(400), Some(300))
    );
    assert!(url(page).ends_with(".png"));
    let clip = ready(&items[4]);
    assert_eq!(
        (clip["width"].as_u64(), clip["height"].as_u64()),
        (Some(160), Some(90))
    );
    assert!(url(clip).ends_with(".mp4"));
    let lower = ready(&items[5]);
    assert!(
        url(lower).ends_with("/acme/files/generated/component/lower.mp4"),
        "{lower}"
    );
    assert_eq!(s.mock.calls.seen("component")["template"], "news");
    assert_eq!(s.mock.calls.seen("component")["type"], "component");
    for item in &items {
        assert_eq!(s.get_bytes(url(item)).await.0, StatusCode::OK, "{item}");
    }
    // Client HTML cannot show the server's files: the page comes from a data: URL.
    let (_, png) = s.get_bytes(url(ready(&items[6]))).await;
    let shot = image::load_from_memory(&png).unwrap().to_luma8();
    assert!(
        shot.pixels().all(|p| p.0[0] > 200),
        "the screenshot shows something of file:///etc/passwd"
    );
    // Six built-in generations at 1 credit each, the HTTP generator at 4.
    assert_eq!(s.credits(), 100 - 6 - 4);
}

#[tokio::test]
async fn src_urls_to_private_addresses_are_refused() {
    // The stand-in file server listens on 127.0.0.2, which the operator allow-lists; every other
    // private address stays refused.
    let files = MockModels::start_on("127.0.0.2").await;
    let s = setup_with(
        "max_asset_bytes = 10000\nfetch_timeout_secs = 2",
        &["--fetch-allow", "127.0.0.2/32"],
    )
    .await;
    let port = files.base.rsplit(':').next().unwrap().to_string();
    for host in [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fe80::1]",
        "0.0.0.0",
    ] {
        let (status, body) = s
            .server
            .call(
                "POST",
                "/v2/preloads",
                &s.key,
                Some(json!({"preload": [{"type": "image", "src": format!("http://{host}:{port}/files/a.webp")}]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{host}: {body}");
        assert!(
            message(&body)
                .contains("is a private, loopback or link-local address, which may not be fetched"),
            "{host}: {body}"
        );
    }
    let allowed = format!("{}/files/photo.webp", files.base);
    let redirect_inwards = format!(
        "{}/files/redirect?to=http://127.0.0.1:{port}/files/a.webp",
        files.base
    );
    let items = s
        .run(json!([
            {"id": "name", "type": "image", "src": format!("http://localhost:{port}/files/a.webp")},
            {"id": "redirect", "type": "image", "src": redirect_inwards},
            {"id": "ok", "type": "image", "src": allowed, "save-to-media": true},
            {"id": "big", "type": "image", "src": format!("{}/files/big.bin", files.base)},
            {"id": "slow", "type": "image", "src": format!("{}/files/slow.webp", files.base)},
            {"id": "video", "type": "video", "src": format!("{}/files/still.webp", files.base)},
        ]))
        .await;
    // A name is refused by its name: the address it resolves to is the server's to know.
    assert_eq!(items[0]["status"], "failed");
    assert!(
        items[0]["error"].as_str().unwrap().contains(
            "localhost resolves to a private, loopback or link-local address, which may not be fetched"
        ),
        "{}",
        items[0]
    );
    assert!(!items[0]["error"].as_str().unwrap().contains("127.0.0.1"));
    assert_eq!(items[1]["status"], "failed");
    assert!(
        items[1]["error"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1 is a private, loopback or link-local address"),
        "{}",
        items[1]
    );
    let ok = ready(&items[2]);
    assert!(url(ok).ends_with("/acme/files/generated/image/ok.webp"));
    assert_eq!(s.get_bytes(url(ok)).await.1, webp_for("photo.webp", 32, 24));
    assert_eq!(
        items[3]["error"],
        "the asset exceeds the maximum size of 10000 bytes"
    );
    assert!(
        items[4]["error"].as_str().unwrap().ends_with("timed out"),
        "{}",
        items[4]
    );
    assert_eq!(
        items[5]["error"],
        "the generator returned an image (image/webp) where video items need a video"
    );
    // An image a model server answers with by URL is fetched under the same rules.
    let by_url = |link: String| json!({"type": "image", "model": "flux-schnell", "prompt": format!("by url {link}")});
    let linked = s
        .run(json!([
            by_url(format!("{}/files/linked.webp", files.base)),
            by_url(format!("{}/files/linked.webp", s.mock.base)),
        ]))
        .await;
    assert_eq!(ready(&linked[0])["width"], 32);
    assert_eq!(linked[1]["status"], "failed");
    assert!(
        linked[1]["error"]
            .as_str()
            .unwrap()
            .contains("is a private, loopback or link-local address"),
        "{}",
        linked[1]
    );
    // Downloaded once: asking again is served from the cache.
    let fetched = files.calls.count("files");
    let again = s
        .run_one(json!({"id": "ok", "type": "image", "src": allowed}))
        .await;
    assert_eq!(ready(&again)["persistent"], false);
    assert_eq!(files.calls.count("files"), fetched);
    // URL sources cost nothing by default; the model's two images cost 5 each, the refused one
    // was refunded.
    assert_eq!(s.credits(), 95);
}

/// Client HTML rendered by the built-in Chromium reaches nothing and runs nothing: no request to a
/// loopback server (the node's neighbours), an external host or the server's files, and no script
/// (JavaScript is off unless the operator turns it on for the model).
#[tokio::test]
async fn hostile_html_reaches_nothing_and_runs_no_script() {
    let neighbour = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = neighbour.local_addr().unwrap().port();
    neighbour.set_nonblocking(true).unwrap();
    let s = setup().await;
    let html = format!(
        "<body style='margin:0;background:#fff'>\
         <script>document.body.style.background='#c00';\
         fetch('http://127.0.0.1:{port}/fetch');</script>\
         <link rel='stylesheet' href='http://127.0.0.1:{port}/style.css'>\
         <img src='http://127.0.0.1:{port}/img.png' style='width:10px'>\
         <iframe src='http://127.0.0.1:{port}/frame' style='border:0;width:10px'></iframe>\
         <img src='http://example.com/x.png' style='width:10px'>\
         <iframe src='file:///etc/passwd' style='border:0;width:10px'></iframe>\
         </body>"
    );
    let item = s
        .run_one(json!({"type": "html", "html": html, "width": 200, "height": 150}))
        .await;
    let (_, png) = s.get_bytes(url(ready(&item))).await;
    let shot = image::load_from_memory(&png).unwrap().to_rgb8();
    let red = shot
        .pixels()
        .filter(|p| p.0[0] > 150 && p.0[1] < 80 && p.0[2] < 80)
        .count();
    assert_eq!(red, 0, "the page's script ran");
    assert!(
        neighbour.accept().is_err(),
        "the page reached a loopback server"
    );
}
