//! Render outputs: claims, uploads, downloads and hosting, each step only under its claim.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{
    Catalog, ClientId, EventId, FileName, FolderPath, NewEvent, NewOutput, NewRender, OutputClaim,
    OutputKind, OutputOutcome, OutputStatus, Promotion,
};

use super::{announce, entry, hash, tenant};

every_backend_of_module!(render_outputs_move_on_only_under_their_claim,);

async fn render_outputs_move_on_only_under_their_claim(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    // As the API does when a request names a callback.
    c.callback_secret(&tenant(), &|| "whsec_dGVzdA==".into())
        .await
        .unwrap();
    let output = |kind, src: Option<&str>| NewOutput {
        kind,
        src: src.map(str::to_string),
        stem: None,
    };
    let render = c
        .create_render(&NewRender {
            tenant: tenant(),
            host: true,
            callback: Some("https://example.com/cb".into()),
            outputs: vec![
                output(OutputKind::Video, Some("https://example.com/a.mp4")),
                output(OutputKind::Poster, None),
            ],
            now,
        })
        .await
        .unwrap();
    let [video, poster] = [&render.outputs[0], &render.outputs[1]];
    assert_eq!(
        (video.status, poster.status),
        (OutputStatus::Fetching, OutputStatus::Waiting)
    );
    let other = ClientId::parse("globex").unwrap();
    assert!(c.render(&other, &render.id).await.unwrap().is_none());
    assert!(c.render_output(&other, &video.id).await.unwrap().is_none());

    // Only the download is background work; the poster waits for its upload, claimed once.
    let until = now + Duration::minutes(5);
    let claimed = c.claim_render_work(now, until, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|o| &o.id).collect::<Vec<_>>(),
        [&video.id]
    );
    assert!(c
        .claim_render_work(now, until, 10)
        .await
        .unwrap()
        .is_empty());
    let acme = tenant();
    let up =
        |at| c.claim_output_upload(&acme, &render.id, &poster.id, at, at + Duration::minutes(5));
    assert!(matches!(up(now).await.unwrap(), OutputClaim::Claimed(_)));
    assert_eq!(up(now).await.unwrap(), OutputClaim::InProgress);
    assert_eq!(
        c.claim_output_upload(&tenant(), &render.id, &video.id, now, until)
            .await
            .unwrap(),
        OutputClaim::NotWaiting
    );

    // A claim that lapsed is taken over; the old holder can no longer record anything.
    let later = until + Duration::seconds(1);
    let until2 = later + Duration::minutes(5);
    assert_eq!(
        c.claim_render_work(later, until2, 10).await.unwrap().len(),
        1
    );
    c.lease_blob(&hash(1), 100, now + Duration::minutes(10))
        .await
        .unwrap();
    let (cached, _) = c
        .store_cache_entry(&entry(&format!("render:{}", video.id), &hash(1), 100, now))
        .await
        .unwrap();
    let stored = OutputOutcome::Stored(cached.id.clone());
    let silent = |_: &mediadrive_core::RenderOutput| Vec::new();
    assert!(c
        .finish_render_output(&video.id, until, &stored, &silent)
        .await
        .unwrap()
        .is_none());
    let after = c
        .finish_render_output(&video.id, until2, &stored, &silent)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, OutputStatus::Importing);
    assert_eq!(after.cache_entry.as_ref(), Some(&cached.id));

    // Hosting: claimed again, the promoted file recorded with its announcement.
    let claimed = c.claim_render_work(later, until2, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let file = c
        .promote_cache_entry(&Promotion {
            entry_id: cached.id.clone(),
            tenant: tenant(),
            folder: FolderPath::from_stored("renders").unwrap(),
            names: vec![FileName::sanitise("r.webp").unwrap()],
            now,
            default_quota: None,
            share: false,
        })
        .await
        .unwrap();
    let hosted_event = |o: &mediadrive_core::RenderOutput| {
        vec![NewEvent {
            id: EventId::parse(&format!("msg_{}", o.id.as_str().replace('-', ""))).unwrap(),
            tenant: tenant(),
            event_type: "asset.hosted".into(),
            payload: format!("{{\"status\":\"{}\"}}", o.status.as_str()),
            callback: o.callback.clone(),
            now,
        }]
    };
    let hosted = c
        .finish_render_output(
            &video.id,
            until2,
            &OutputOutcome::Hosted(file.id.clone()),
            &hosted_event,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hosted.status, OutputStatus::Ready);
    assert_eq!(hosted.hosted_file.as_ref(), Some(&file.id));
    let due = c
        .claim_deliveries(now, now + Duration::minutes(1), 10, 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "the callback's delivery");
    assert_eq!(due[0].payload, "{\"status\":\"ready\"}");

    // Deleting the hosted file from the drive makes the output read as deleted.
    let name = (file.folder.clone(), file.name.clone());
    c.delete_files(&tenant(), &[name], &|f| announce("file.deleted", f))
        .await
        .unwrap();
    let gone = c
        .render_output(&tenant(), &video.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (gone.status, gone.hosted_file),
        (OutputStatus::Deleted, None)
    );

    // A deleted output takes no upload and no claim of its own any more.
    let deleted = c
        .delete_render_output(&tenant(), &poster.id, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.status, OutputStatus::Waiting);
    assert_eq!(
        up(later + Duration::hours(1)).await.unwrap(),
        OutputClaim::Missing
    );
    assert!(c
        .claim_render_work(later, until2, 10)
        .await
        .unwrap()
        .is_empty());
}
