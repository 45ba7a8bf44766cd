//! Probes someone waits on do not queue behind the background prober.

use std::{io::Cursor, time::Duration};

use super::{probe_now, CONCURRENCY, PERMITS};
use crate::claimed::tests::{node, uploaded};

fn png() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::RgbImage::new(4, 4)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

/// With every permit of the background prober held (by work on hostile files that overran), an
/// upload's or a generation's probe still answers at once, from its own pool.
#[tokio::test]
async fn a_stuck_background_prober_holds_up_no_probe_someone_waits_on() {
    let node = node(|_| {}).await;
    let state = &node.state;
    let file = uploaded(state, "", "a.png", &png()).await;
    let hash = file.blob.expect("an uploaded file has its bytes");
    let held = PERMITS.acquire_many(CONCURRENCY as u32).await.unwrap();
    let probed = tokio::time::timeout(Duration::from_secs(10), probe_now(state, &hash)).await;
    drop(held);
    let info = probed
        .expect("the probe waited for the background prober")
        .unwrap();
    assert_eq!(info.mime, "image/png");
}
