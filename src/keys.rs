//! `mediadrive key` and `mediadrive secret`: the operator's side of the keys' lifecycle, over
//! every tenant, and the rotation of the node-wide signing key.

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use mediadrive_app::{
    keys::{self, Granter, KeyRequest},
    representations::KeyView,
    signing_keys,
};
use mediadrive_core::Role;

use crate::{
    backends::{open_catalog, open_state},
    commands::client_id,
    settings::{resolve, StoreArgs},
};

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key and print it alone on stdout; creates the tenant if needed.
    Create {
        #[arg(long)]
        client: String,
        /// viewer, render, editor, manager or admin.
        #[arg(long)]
        role: Role,
        /// What the key is for, shown by `key list`.
        #[arg(long, default_value = "")]
        name: String,
        /// When the key stops working (RFC 3339).
        #[arg(long)]
        expires: Option<DateTime<Utc>>,
    },
    /// Print the keys (of one tenant, or all) as JSON: id, name, role, status, when created,
    /// last used, expiring or revoked. Never a key itself.
    List {
        #[arg(long)]
        client: Option<String>,
    },
    /// Revoke a key by its id (from `key list`): it stops working at once, on every node.
    Revoke { id: String },
}

pub async fn key(store: &StoreArgs, cmd: KeyCommand) -> Result<()> {
    let state = open_state(resolve(store, None)?).await?;
    match cmd {
        KeyCommand::Create {
            client,
            role,
            name,
            expires,
        } => {
            let tenant = client_id(&client)?;
            let request = KeyRequest {
                name,
                role,
                expires_at: expires,
            };
            let (_, key) = keys::create(&state, &tenant, Granter::Operator, request).await?;
            println!("{key}");
        }
        KeyCommand::List { client } => {
            let tenant = client.as_deref().map(client_id).transpose()?;
            let now = Utc::now();
            let listed: Vec<KeyView> = keys::list(&state, tenant.as_ref())
                .await?
                .iter()
                .map(|k| KeyView::of(k, now))
                .collect();
            println!("{}", serde_json::to_string_pretty(&listed)?);
        }
        KeyCommand::Revoke { id } => {
            let revoked = keys::revoke(&state, None, Granter::Operator, &id).await?;
            let view = KeyView::of(&revoked, Utc::now());
            println!("{}", serde_json::to_string_pretty(&view)?);
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Replace the key presigned upload URLs and Video Jungle asset links are signed with. URLs
    /// signed before keep working for the overlap; every node takes the new key within 30 s.
    Rotate {
        /// Seconds the old key still verifies [default: the longest a signed URL lives, plus
        /// the 30 s nodes take to reload].
        #[arg(long)]
        overlap_secs: Option<u64>,
    },
}

pub async fn secret(store: &StoreArgs, cmd: SecretCommand) -> Result<()> {
    let SecretCommand::Rotate { overlap_secs } = cmd;
    let config = resolve(store, None)?;
    let overlap = overlap_secs.map(Duration::from_secs).unwrap_or_else(|| {
        let vj_links = Duration::from_secs(config.videojungle.link_ttl_secs);
        config.upload_url_ttl.max(vj_links) + signing_keys::REFRESH_EVERY
    });
    let catalog = open_catalog(&config).await?;
    signing_keys::rotate(catalog.as_ref(), overlap).await?;
    println!(
        "upload-signing key rotated; the old key verifies for {} more seconds",
        overlap.as_secs()
    );
    Ok(())
}
