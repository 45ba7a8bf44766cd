//! Webhooks: deliveries fan out, retry and disable their endpoint; changes announce themselves in their own transaction.

use std::sync::Arc;

use chrono::{Duration, Utc};
use mediadrive_core::{
    AttemptOutcome, Catalog, CatalogError, EndpointUpdate, EventId, FileName, FolderPath,
    NewEndpoint, NewEvent, SweepRule,
};

use super::{announce, granted, hash, stored, tenant};

every_backend_of_module!(
    webhook_deliveries_fan_out_retry_and_disable_their_endpoint,
    changes_announce_themselves_in_their_own_transaction,
    a_tenant_holds_at_most_its_share_of_delivery_claims,
    concurrent_endpoint_creations_never_pass_the_limit,
    a_rotated_secret_signs_beside_the_new_one_until_its_overlap_ends,
);

async fn a_rotated_secret_signs_beside_the_new_one_until_its_overlap_ends(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let endpoint = c
        .create_webhook_endpoint(&NewEndpoint {
            tenant: tenant(),
            url: "http://a/".into(),
            secret: "whsec_b2xk".into(),
            event_types: Vec::new(),
            description: String::new(),
            now,
            max_endpoints: 0,
        })
        .await
        .unwrap();
    let other = mediadrive_core::ClientId::parse("globex").unwrap();
    let overlap = now + Duration::hours(1);
    assert!(c
        .rotate_endpoint_secret(&other, &endpoint.id, "whsec_eA==", overlap, now)
        .await
        .unwrap()
        .is_none());
    assert!(c
        .rotate_endpoint_secret(&tenant(), &endpoint.id, "whsec_bmV3", overlap, now)
        .await
        .unwrap()
        .is_some());
    let enqueue = |i: u32, at| {
        let c = c.clone();
        async move {
            c.enqueue_event(&NewEvent {
                id: EventId::parse(&format!("msg_{i:0>32}")).unwrap(),
                tenant: tenant(),
                event_type: "file.uploaded".into(),
                payload: "{}".into(),
                callback: None,
                now: at,
            })
            .await
            .unwrap();
        }
    };
    enqueue(1, now).await;
    let at = now + Duration::seconds(1);
    let due = c
        .claim_deliveries(at, at + Duration::seconds(30), 10, 10)
        .await
        .unwrap();
    assert_eq!(
        (due[0].secret.as_str(), due[0].previous_secret.as_deref()),
        ("whsec_bmV3", Some("whsec_b2xk"))
    );
    // Past the overlap only the new secret signs.
    let later = now + Duration::hours(2);
    enqueue(2, later).await;
    let due = c
        .claim_deliveries(later, later + Duration::seconds(30), 10, 10)
        .await
        .unwrap();
    let fresh = due
        .iter()
        .find(|d| d.event_id.as_str().ends_with('2'))
        .unwrap();
    assert_eq!(
        (fresh.secret.as_str(), fresh.previous_secret.as_deref()),
        ("whsec_bmV3", None)
    );
    // A tenant's callback secret rotates too, made by the rotation when it had none.
    c.rotate_callback_secret(&tenant(), "whsec_Y2I=", overlap)
        .await
        .unwrap();
    let current = c
        .callback_secret(&tenant(), &|| "whsec_never".into())
        .await
        .unwrap();
    assert_eq!(current, "whsec_Y2I=");
    c.rotate_callback_secret(&tenant(), "whsec_Y2Iy", overlap)
        .await
        .unwrap();
    let current = c
        .callback_secret(&tenant(), &|| "whsec_never".into())
        .await
        .unwrap();
    assert_eq!(current, "whsec_Y2Iy");
}

async fn concurrent_endpoint_creations_never_pass_the_limit(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    let attempt = |i: usize| {
        let c = c.clone();
        async move {
            c.create_webhook_endpoint(&NewEndpoint {
                tenant: tenant(),
                url: format!("http://a/{i}"),
                secret: "whsec_a2V5".into(),
                event_types: Vec::new(),
                description: String::new(),
                now: Utc::now(),
                max_endpoints: 5,
            })
            .await
        }
    };
    let limited = |e: &CatalogError| matches!(e, CatalogError::TooManyEndpoints);
    assert_eq!(granted(20, attempt, limited).await, 5);
    assert_eq!(c.webhook_endpoints(&tenant()).await.unwrap().len(), 5);
}

async fn a_tenant_holds_at_most_its_share_of_delivery_claims(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    let (busy, quiet) = (
        tenant(),
        mediadrive_core::ClientId::parse("globex").unwrap(),
    );
    for (t, url) in [(&busy, "http://slow/"), (&quiet, "http://fast/")] {
        c.ensure_tenant(t, 0, now).await.unwrap();
        c.create_webhook_endpoint(&NewEndpoint {
            tenant: t.clone(),
            url: url.into(),
            secret: "whsec_a2V5".into(),
            event_types: Vec::new(),
            description: String::new(),
            now,
            max_endpoints: 0,
        })
        .await
        .unwrap();
    }
    // The busy tenant's six events are older than the quiet one's.
    for i in 0..7i64 {
        let t = if i < 6 { &busy } else { &quiet };
        let event = NewEvent {
            id: EventId::parse(&format!("msg_{i:0>32}")).unwrap(),
            tenant: t.clone(),
            event_type: "file.uploaded".into(),
            payload: format!("{{\"n\":{i}}}"),
            callback: None,
            now: now + Duration::milliseconds(i),
        };
        c.enqueue_event(&event).await.unwrap();
    }
    let at = now + Duration::seconds(1);
    let until = at + Duration::seconds(30);
    let payloads = |due: Vec<mediadrive_core::DueDelivery>| -> Vec<String> {
        let mut p: Vec<String> = due.into_iter().map(|d| d.payload).collect();
        p.sort();
        p
    };
    let first = c.claim_deliveries(at, until, 8, 2).await.unwrap();
    assert_eq!(
        payloads(first),
        ["{\"n\":0}", "{\"n\":1}", "{\"n\":6}"],
        "the busy tenant's two oldest, and the quiet tenant's at once"
    );
    // While its two are in flight, nothing more of the busy tenant's is claimed, on any node.
    assert!(c
        .claim_deliveries(at, until, 8, 2)
        .await
        .unwrap()
        .is_empty());
    // Once the claims lapse (their senders died), each is claimed again, within a larger share.
    let later = until + Duration::seconds(1);
    let again = c
        .claim_deliveries(later, later + Duration::seconds(30), 8, 3)
        .await
        .unwrap();
    assert_eq!(
        payloads(again),
        ["{\"n\":0}", "{\"n\":1}", "{\"n\":2}", "{\"n\":6}"]
    );
}

async fn webhook_deliveries_fan_out_retry_and_disable_their_endpoint(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let endpoint = |url: &str, types: &[&str]| NewEndpoint {
        tenant: tenant(),
        url: url.into(),
        secret: "whsec_a2V5".into(),
        event_types: types.iter().map(|t| t.to_string()).collect(),
        description: String::new(),
        now,
        max_endpoints: 0,
    };
    let all = c
        .create_webhook_endpoint(&endpoint("http://a/", &[]))
        .await
        .unwrap();
    let uploads = c
        .create_webhook_endpoint(&endpoint("http://b/", &["file.uploaded"]))
        .await
        .unwrap();
    let event = |id: &str, kind: &str, callback: Option<&str>| NewEvent {
        id: EventId::parse(&format!("msg_{:0>32}", &id[4..])).unwrap(),
        tenant: tenant(),
        event_type: kind.into(),
        payload: format!("{{\"id\":\"{id}\"}}"),
        callback: callback.map(str::to_string),
        now,
    };
    assert_eq!(
        c.enqueue_event(&event("msg_1", "file.uploaded", None))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        c.enqueue_event(&event("msg_2", "file.deleted", None))
            .await
            .unwrap(),
        1
    );
    // A callback is a target of its own, signed with the tenant's callback secret.
    let secret = c
        .callback_secret(&tenant(), &|| "whsec_Y2I=".into())
        .await
        .unwrap();
    assert_eq!(
        c.callback_secret(&tenant(), &|| "whsec_other".into())
            .await
            .unwrap(),
        secret
    );
    assert_eq!(
        c.enqueue_event(&event("msg_3", "preload.completed", Some("http://cb/")))
            .await
            .unwrap(),
        2
    );

    let until = now + Duration::seconds(30);
    let due = c.claim_deliveries(now, until, 10, 10).await.unwrap();
    assert_eq!(due.len(), 5);
    assert!(
        c.claim_deliveries(now, until, 10, 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed once"
    );
    let callback = due.iter().find(|d| d.url == "http://cb/").unwrap();
    assert_eq!(
        (callback.secret.as_str(), callback.endpoint_id.as_ref()),
        (secret.as_str(), None)
    );

    // Two failures in a row on endpoint b disable it (limit 2); its delivery then waits.
    let to_b = due.iter().find(|d| d.url == "http://b/").unwrap();
    let failed = |at, retry_at| AttemptOutcome {
        at,
        status_code: Some(500),
        error: Some("the receiver answered 500".into()),
        duration_ms: 3,
        delivered: false,
        retry_at: Some(retry_at),
        disable_after: 2,
    };
    assert!(c
        .record_attempt(&to_b.id, until, &failed(now, now))
        .await
        .unwrap());
    assert!(
        !c.record_attempt(&to_b.id, until, &failed(now, now))
            .await
            .unwrap(),
        "claim spent"
    );
    let again = c.claim_deliveries(now, until, 10, 10).await.unwrap();
    assert_eq!(
        again.iter().map(|d| d.url.as_str()).collect::<Vec<_>>(),
        ["http://b/"]
    );
    assert!(c
        .record_attempt(&to_b.id, until, &failed(now, now))
        .await
        .unwrap());
    let b = c
        .webhook_endpoint(&tenant(), &uploads.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.enabled, b.failure_streak), (false, 2));
    assert!(c
        .claim_deliveries(now, until, 10, 10)
        .await
        .unwrap()
        .is_empty());
    let log = c
        .webhook_deliveries(&tenant(), Some(&uploads.id), 10)
        .await
        .unwrap();
    assert_eq!((log[0].status.as_str(), log[0].log.len()), ("pending", 2));

    // Enabling resumes it with a fresh count; a success is final.
    let enable = EndpointUpdate {
        enabled: Some(true),
        ..Default::default()
    };
    let b = c
        .update_webhook_endpoint(&tenant(), &uploads.id, &enable, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((b.enabled, b.failure_streak), (true, 0));
    let resumed = c.claim_deliveries(now, until, 10, 10).await.unwrap();
    assert_eq!(resumed.len(), 1);
    let ok = AttemptOutcome {
        at: now,
        status_code: Some(204),
        error: None,
        duration_ms: 1,
        delivered: true,
        retry_at: None,
        disable_after: 2,
    };
    assert!(c.record_attempt(&resumed[0].id, until, &ok).await.unwrap());
    let log = c
        .webhook_deliveries(&tenant(), Some(&uploads.id), 10)
        .await
        .unwrap();
    assert_eq!((log[0].status.as_str(), log[0].attempts), ("delivered", 3));

    // Redelivery sends it once more; deleting an endpoint gives up what still waits for it.
    assert!(c.redeliver(&tenant(), &log[0].id, now).await.unwrap());
    assert!(c
        .delete_webhook_endpoint(&tenant(), &uploads.id, now)
        .await
        .unwrap());
    let left: Vec<String> = c
        .claim_deliveries(
            now + Duration::minutes(1),
            until + Duration::minutes(1),
            10,
            10,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.url)
        .collect();
    assert!(!left.contains(&"http://b/".to_string()), "{left:?}");
    assert!(
        !c.redeliver(&tenant(), &log[0].id, now).await.unwrap(),
        "a deleted endpoint's delivery is not sent anywhere"
    );
    assert!(c
        .webhook_endpoint(&tenant(), &all.id)
        .await
        .unwrap()
        .is_some());
}

async fn changes_announce_themselves_in_their_own_transaction(c: Arc<dyn Catalog>) {
    c.ensure_tenant(&tenant(), 0, Utc::now()).await.unwrap();
    c.create_webhook_endpoint(&NewEndpoint {
        tenant: tenant(),
        url: "http://a/".into(),
        secret: "whsec_a2V5".into(),
        event_types: Vec::new(),
        description: String::new(),
        now: Utc::now(),
        max_endpoints: 0,
    })
    .await
    .unwrap();
    let waiting = || async {
        let now = Utc::now() + Duration::seconds(1);
        let due = c
            .claim_deliveries(now, now + Duration::minutes(1), 10, 10)
            .await
            .unwrap();
        let mut payloads: Vec<String> = due.into_iter().map(|d| d.payload).collect();
        payloads.sort();
        payloads
    };
    // The upload, the delete and the temp file's expiry each wrote their event with the change.
    stored(c.as_ref(), "", "x.bin", 5, &hash(9)).await;
    assert_eq!(waiting().await, ["{\"path\":\"x.bin\"}"]);
    let name = (FolderPath::root(), FileName::sanitise("x.bin").unwrap());
    c.delete_files(&tenant(), &[name], &|f| announce("file.deleted", f))
        .await
        .unwrap();
    stored(c.as_ref(), "temp", "t.bin", 5, &hash(10)).await;
    let now = Utc::now() + Duration::days(2);
    let rule = SweepRule {
        now,
        uploads_lapsed_before: now,
        temp_cutoff: now,
        cache_cutoff: now,
        preloads_before: now,
        dry_run: false,
    };
    c.sweep_files(&rule, &|f| announce("file.deleted", f))
        .await
        .unwrap();
    assert_eq!(
        waiting().await,
        [
            "{\"path\":\"temp/t.bin\"}",
            "{\"path\":\"temp/t.bin\"}",
            "{\"path\":\"x.bin\"}"
        ],
        "the temp file's upload and expiry, and x.bin's delete"
    );
}
