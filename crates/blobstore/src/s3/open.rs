//! Opening the store from its URL: bucket, endpoint, region, addressing style and root prefix.

use std::io;

use opendal::{layers::RetryLayer, services::S3, Operator};

use super::S3BlobStore;

impl S3BlobStore {
    /// Opens `s3://BUCKET?endpoint=URL&region=REGION&path_style=true&root=/PREFIX/`; credentials
    /// come from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. `root` keeps several deployments
    /// apart in one bucket.
    pub fn open(url: &str) -> io::Result<Self> {
        let invalid =
            |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{why}: {url}"));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("not an s3:// URL"))?;
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        let bucket = bucket.trim_end_matches('/');
        if bucket.is_empty() || bucket.contains('/') {
            return Err(invalid("the URL must name one bucket"));
        }
        let mut builder = S3::default()
            .bucket(bucket)
            .disable_config_load()
            .disable_ec2_metadata();
        let mut path_style = false;
        let mut region = "us-east-1".to_string();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "endpoint" => builder = builder.endpoint(value),
                "region" => region = value.to_string(),
                "path_style" => path_style = value == "true",
                "root" => builder = builder.root(value),
                _ => return Err(invalid(&format!("unknown parameter '{key}'"))),
            }
        }
        builder = builder.region(&region);
        if !path_style {
            builder = builder.enable_virtual_host_style();
        }
        let key = std::env::var("AWS_ACCESS_KEY_ID")
            .map_err(|_| invalid("AWS_ACCESS_KEY_ID is not set"))?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
            .map_err(|_| invalid("AWS_SECRET_ACCESS_KEY is not set"))?;
        builder = builder.access_key_id(&key).secret_access_key(&secret);
        let op = Operator::new(builder)
            .map_err(io::Error::other)?
            .layer(RetryLayer::new())
            .finish();
        Ok(Self { op })
    }
}
