//! What nodes and clients are let in by, and what an operator watches: API keys, node-wide
//! secrets, health, queue depths and the list of a tenant's webhook endpoints.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mediadrive_core::{
    BlobProbe, Catalog, ClientId, EndpointUpdate, FileName, FolderPath, NewApiKey, NewEndpoint,
    NewOutput, NewRender, OutputKind, ProbeStatus, QueueDepths, Role,
};

use super::{hash, item, preload, stored, tenant};

every_backend_of_module!(
    keys_are_found_by_their_hash_alone,
    keys_are_listed_per_tenant_touched_and_revoked_once,
    a_secret_is_made_once_and_shared_by_every_caller,
    a_rotated_secret_stays_retired_until_its_overlap_ends,
    health_answers_and_queue_depths_count_waiting_work,
    webhook_endpoints_are_listed_per_tenant_in_creation_order,
);

/// The catalog keeps milliseconds; a time it can give back unchanged.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

async fn keys_are_found_by_their_hash_alone(c: Arc<dyn Catalog>) {
    let now = millis(Utc::now());
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    let key = |tenant: &ClientId, role, hash: &str, expires_at| NewApiKey {
        tenant: tenant.clone(),
        name: format!("{role:?} key"),
        role,
        key_hash: hash.into(),
        expires_at,
    };
    let expiry = Some(now + Duration::days(30));
    let editor = c
        .insert_key(&key(&tenant(), Role::Editor, &"ab".repeat(32), expiry), now)
        .await
        .unwrap();
    let viewer = c
        .insert_key(&key(&other, Role::Viewer, &"cd".repeat(32), None), now)
        .await
        .unwrap();
    assert_ne!(editor.id, viewer.id);
    let found = c.key_by_hash(&"ab".repeat(32)).await.unwrap().unwrap();
    assert_eq!(
        (&found.id, &found.tenant, found.role, found.expires_at),
        (&editor.id, &tenant(), Role::Editor, expiry)
    );
    assert_eq!(found.created_at, now);
    let found = c.key_by_hash(&"cd".repeat(32)).await.unwrap().unwrap();
    assert_eq!(
        (&found.id, &found.tenant, found.role, found.expires_at),
        (&viewer.id, &other, Role::Viewer, None)
    );
    assert!(c.key_by_hash(&"ef".repeat(32)).await.unwrap().is_none());
    // A prefix of a stored hash is not that key.
    assert!(c.key_by_hash(&"ab".repeat(31)).await.unwrap().is_none());
}

async fn keys_are_listed_per_tenant_touched_and_revoked_once(c: Arc<dyn Catalog>) {
    let now = millis(Utc::now());
    let other = ClientId::parse("globex").unwrap();
    for t in [tenant(), other.clone()] {
        c.ensure_tenant(&t, 0, now).await.unwrap();
    }
    let mut made = Vec::new();
    for (i, (t, role)) in [
        (tenant(), Role::Admin),
        (other.clone(), Role::Viewer),
        (tenant(), Role::Render),
    ]
    .into_iter()
    .enumerate()
    {
        let key = NewApiKey {
            tenant: t,
            name: format!("key {i}"),
            role,
            key_hash: format!("{i:064x}"),
            expires_at: None,
        };
        let at = now + Duration::seconds(i as i64);
        made.push(c.insert_key(&key, at).await.unwrap());
    }
    let ours = c.api_keys(Some(&tenant())).await.unwrap();
    let names: Vec<&str> = ours.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["key 0", "key 2"], "oldest first, only the tenant's");
    assert_eq!(c.api_keys(None).await.unwrap().len(), 3);
    assert!(ours
        .iter()
        .all(|k| k.last_used_at.is_none() && k.revoked_at.is_none()));

    let used = now + Duration::minutes(5);
    c.touch_key(&made[0].id, used).await.unwrap();
    let found = c
        .key_by_hash(&format!("{:064x}", 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.last_used_at, Some(used));

    // Another tenant's key is not within reach of a tenant's revocation.
    assert!(c
        .revoke_key(Some(&tenant()), &made[1].id, now)
        .await
        .unwrap()
        .is_none());
    let revoked = c
        .revoke_key(None, &made[1].id, used)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(used));
    let again = c
        .revoke_key(Some(&other), &made[1].id, used + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.revoked_at, Some(used), "the first revocation stands");
    let found = c
        .key_by_hash(&format!("{:064x}", 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.revoked_at, Some(used));
    let unknown = mediadrive_core::ApiKeyId::parse(&"f".repeat(32)).unwrap();
    assert!(c.revoke_key(None, &unknown, now).await.unwrap().is_none());
}

async fn a_rotated_secret_stays_retired_until_its_overlap_ends(c: Arc<dyn Catalog>) {
    let now = millis(Utc::now());
    let first = c.secret("signing", &|| b"first".to_vec()).await.unwrap();
    assert!(c.retired_secrets("signing", now).await.unwrap().is_empty());
    c.rotate_secret("signing", b"second", now + Duration::hours(1), now)
        .await
        .unwrap();
    let current = c.secret("signing", &|| b"never".to_vec()).await.unwrap();
    assert_eq!(current, b"second");
    let values = |retired: Vec<(Vec<u8>, DateTime<Utc>)>| -> Vec<Vec<u8>> {
        retired.into_iter().map(|(value, _)| value).collect()
    };
    let retired = c.retired_secrets("signing", now).await.unwrap();
    assert_eq!(retired, vec![(first, now + Duration::hours(1))]);
    let later = now + Duration::minutes(30);
    c.rotate_secret("signing", b"third", later + Duration::hours(1), later)
        .await
        .unwrap();
    assert_eq!(
        values(c.retired_secrets("signing", later).await.unwrap()),
        vec![b"second".to_vec(), b"first".to_vec()],
        "newest first"
    );
    // Past the first overlap only the second value is still retired; past both, none.
    let past_first = now + Duration::minutes(61);
    assert_eq!(
        values(c.retired_secrets("signing", past_first).await.unwrap()),
        vec![b"second".to_vec()]
    );
    assert!(c
        .retired_secrets("signing", later + Duration::hours(2))
        .await
        .unwrap()
        .is_empty());
    assert!(c.retired_secrets("other", now).await.unwrap().is_empty());
}

async fn a_secret_is_made_once_and_shared_by_every_caller(c: Arc<dyn Catalog>) {
    let first = c.secret("signing", &|| b"first".to_vec()).await.unwrap();
    assert_eq!(first, b"first");
    let again = c.secret("signing", &|| b"second".to_vec()).await.unwrap();
    assert_eq!(again, b"first", "an existing secret is never replaced");
    assert_eq!(
        c.secret("other", &|| b"second".to_vec()).await.unwrap(),
        b"second"
    );
    // Nodes starting at once all end up with the one value that was stored.
    let racers: Vec<_> = (0..8u8)
        .map(|n| {
            let c = c.clone();
            tokio::spawn(async move { c.secret("raced", &move || vec![n; 32]).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for racer in racers {
        seen.push(racer.await.unwrap());
    }
    assert!(seen.iter().all(|s| s == &seen[0]), "{seen:?}");
    assert_eq!(seen[0].len(), 32);
}

async fn health_answers_and_queue_depths_count_waiting_work(c: Arc<dyn Catalog>) {
    c.ping().await.unwrap();
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    assert_eq!(c.queue_depths().await.unwrap(), QueueDepths::default());

    stored(c.as_ref(), "", "a.bin", 5, &hash(1)).await;
    stored(c.as_ref(), "", "b.bin", 5, &hash(2)).await;
    c.create_preload(&preload(vec![item("x")], None, now))
        .await
        .unwrap();
    c.create_render(&NewRender {
        tenant: tenant(),
        host: false,
        callback: None,
        outputs: vec![NewOutput {
            kind: OutputKind::Video,
            src: None,
            stem: None,
        }],
        now,
    })
    .await
    .unwrap();
    c.create_webhook_endpoint(&NewEndpoint {
        tenant: tenant(),
        url: "http://a/".into(),
        secret: "whsec_a2V5".into(),
        event_types: Vec::new(),
        description: String::new(),
        now,
        max_endpoints: 0,
    })
    .await
    .unwrap();
    // Each upload above announced itself to the endpoint created after it: nothing for those.
    let a = c
        .file(
            &tenant(),
            &FolderPath::root(),
            &FileName::sanitise("a.bin").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c.enqueue_event(&super::announce("file.uploaded", &a))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        c.queue_depths().await.unwrap(),
        QueueDepths {
            probes: 2,
            generations: 1,
            render_outputs: 1,
            webhook_deliveries: 1,
        }
    );
    let until = now + Duration::minutes(5);
    assert_eq!(c.claim_probes(now, until, 1).await.unwrap().len(), 1);
    let probe = BlobProbe {
        hash: c.claim_probes(now, until, 1).await.unwrap()[0].clone(),
        status: ProbeStatus::Done,
        metadata: Some("{}".into()),
        error: None,
    };
    assert!(c.record_probe(&probe, until).await.unwrap());
    // A claimed probe still waits; a recorded one does not.
    assert_eq!(c.queue_depths().await.unwrap().probes, 1);
    c.ping().await.unwrap();
}

async fn webhook_endpoints_are_listed_per_tenant_in_creation_order(c: Arc<dyn Catalog>) {
    let now = Utc::now();
    c.ensure_tenant(&tenant(), 0, now).await.unwrap();
    let other = ClientId::parse("globex").unwrap();
    c.ensure_tenant(&other, 0, now).await.unwrap();
    assert!(c.webhook_endpoints(&tenant()).await.unwrap().is_empty());
    let endpoint = |tenant: &ClientId, url: &str, at: DateTime<Utc>| NewEndpoint {
        tenant: tenant.clone(),
        url: url.into(),
        secret: "whsec_a2V5".into(),
        event_types: vec!["file.uploaded".into()],
        description: format!("to {url}"),
        now: at,
        max_endpoints: 0,
    };
    let mut ids = Vec::new();
    // Created out of their URLs' order, so the list cannot be ordered by URL by chance.
    for (n, url) in ["http://c/", "http://a/", "http://b/"].iter().enumerate() {
        let at = now + Duration::seconds(n as i64);
        let made = c
            .create_webhook_endpoint(&endpoint(&tenant(), url, at))
            .await
            .unwrap();
        ids.push(made.id);
    }
    c.create_webhook_endpoint(&endpoint(&other, "http://z/", now))
        .await
        .unwrap();
    let listed = c.webhook_endpoints(&tenant()).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), ids);
    assert_eq!(
        listed.iter().map(|e| e.url.as_str()).collect::<Vec<_>>(),
        ["http://c/", "http://a/", "http://b/"]
    );
    assert!(listed
        .iter()
        .all(|e| e.enabled && e.tenant == tenant() && e.event_types == ["file.uploaded"]));
    assert_eq!(listed[1].description, "to http://a/");
    // A disabled endpoint is still listed, as it is; a deleted one is not.
    c.update_webhook_endpoint(
        &tenant(),
        &ids[0],
        &EndpointUpdate {
            enabled: Some(false),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    assert!(c
        .delete_webhook_endpoint(&tenant(), &ids[1], now)
        .await
        .unwrap());
    let listed = c.webhook_endpoints(&tenant()).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|e| (e.id.clone(), e.enabled))
            .collect::<Vec<_>>(),
        [(ids[0].clone(), false), (ids[2].clone(), true)]
    );
    assert_eq!(c.webhook_endpoints(&other).await.unwrap().len(), 1);
}
