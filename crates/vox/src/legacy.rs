//! The settings of the platform vox replaces, read where vox's own are not set (docs/migration.md).
//!
//! An operator moving over brings the original's `.env`. Its MinIO settings become the S3
//! recording settings: `MINIO_ENDPOINT` (`host:port`, no scheme, as MinIO's Python client takes
//! it) with `MINIO_SECURE` (the client's default, `true`, is HTTPS), `MINIO_ACCESS_KEY`,
//! `MINIO_SECRET_KEY` and `MINIO_BUCKET`. Each one stands in only for the vox setting it maps to,
//! and only where that setting is unset. The MongoDB settings are refused: vox keeps its data in
//! PostgreSQL or SQLite, and booting on an empty database beside a `MONGODB_URI` would look like
//! lost data.

use crate::config::{ConfigError, Source, problem};

/// Where the migration guide is, for messages.
const GUIDE: &str = "docs/migration.md";

/// `source`, with the original's MinIO settings standing in for vox's S3 ones that are unset.
#[derive(Debug)]
pub(crate) struct Legacy<'a, S: Source> {
    source: &'a S,
}

impl<'a, S: Source> Legacy<'a, S> {
    /// Checks the original's settings in `source`: MongoDB's are refused, MinIO's must be
    /// well formed.
    pub(crate) fn new(source: &'a S) -> Result<Self, ConfigError> {
        for setting in ["MONGODB_URI", "MONGODB_DB"] {
            if source.get(setting).is_some() {
                return Err(problem(
                    setting,
                    format!(
                        "vox does not use MongoDB: its data lives in PostgreSQL or SQLite \
                         (DATABASE_URL). Remove {setting}, set DATABASE_URL, and move bots, \
                         campaigns and contacts as {GUIDE} says"
                    ),
                ));
            }
        }
        if let Some(endpoint) = source.get("MINIO_ENDPOINT") {
            minio_host(&endpoint)?;
        }
        if let Some(secure) = source.get("MINIO_SECURE") {
            secure_flag(&secure)?;
        }
        if let Some(bucket) = source.get("MINIO_BUCKET") {
            bucket_name(&bucket)?;
        }
        Ok(Self { source })
    }

    /// The vox setting `name` stands for, from the original's settings.
    fn stand_in(&self, name: &str) -> Option<String> {
        let minio = |setting: &str| self.source.get(setting);
        match name {
            "OBJECT_STORE_URL" => {
                minio("MINIO_BUCKET").map(|bucket| format!("s3://{}", bucket.trim()))
            }
            "S3_ENDPOINT" => {
                let host = minio_host(&minio("MINIO_ENDPOINT")?).ok()?;
                let secure = minio("MINIO_SECURE")
                    .map_or(Ok(true), |s| secure_flag(&s))
                    .ok()?;
                Some(format!(
                    "{}://{host}",
                    if secure { "https" } else { "http" }
                ))
            }
            "S3_ACCESS_KEY_ID" => minio("MINIO_ACCESS_KEY"),
            "S3_SECRET_ACCESS_KEY" => minio("MINIO_SECRET_KEY"),
            _ => None,
        }
    }
}

impl<S: Source> Source for Legacy<'_, S> {
    fn get(&self, name: &str) -> Option<String> {
        self.source.get(name).or_else(|| self.stand_in(name))
    }
}

/// `MINIO_ENDPOINT` as MinIO's client takes it: `host` or `host:port`, nothing else.
fn minio_host(endpoint: &str) -> Result<String, ConfigError> {
    let endpoint = endpoint.trim();
    let wrong = |why: &str| {
        problem(
            "MINIO_ENDPOINT",
            format!("must be host or host:port, as MinIO's client takes it ({why})"),
        )
    };
    if endpoint.contains("://") {
        return Err(wrong(
            "no scheme: MINIO_SECURE chooses between HTTPS and HTTP",
        ));
    }
    if endpoint.contains(['/', '?', '#', '@', ' ']) {
        return Err(wrong("no path, query, user or spaces"));
    }
    let (host, port) = if let Some(rest) = endpoint.strip_prefix('[') {
        // An IPv6 literal: [::1] or [::1]:9000.
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| wrong("an IPv6 address's bracket is not closed"))?;
        let port = match after {
            "" => None,
            after => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| wrong("a port follows the address after a colon"))?,
            ),
        };
        (inside, port)
    } else if endpoint.matches(':').count() > 1 {
        return Err(wrong("an IPv6 address goes in brackets"));
    } else {
        match endpoint.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (endpoint, None),
        }
    };
    if host.is_empty() {
        return Err(wrong("the host is empty"));
    }
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(wrong(&format!("{port:?} is not a port")));
    }
    Ok(endpoint.to_owned())
}

/// `MINIO_SECURE`: `true`/`false` (or `1`/`0`, `yes`/`no`).
fn secure_flag(value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(problem(
            "MINIO_SECURE",
            format!("must be true or false, not {other:?}"),
        )),
    }
}

/// `MINIO_BUCKET`: an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens).
fn bucket_name(bucket: &str) -> Result<(), ConfigError> {
    let bucket = bucket.trim();
    let fine = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if fine {
        Ok(())
    } else {
        Err(problem(
            "MINIO_BUCKET",
            format!(
                "{bucket:?} is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The S3-compatible test server `scripts/test` starts (moto), as `host:port`.
    fn test_server() -> String {
        std::env::var("VOX_TEST_S3_ENDPOINT")
            .expect(
                "VOX_TEST_S3_ENDPOINT is not set: run scripts/test, which starts an S3 test server",
            )
            .trim_start_matches("http://")
            .to_owned()
    }

    #[tokio::test]
    async fn an_old_env_files_minio_settings_reach_the_recordings_in_its_bucket() {
        let host = test_server();
        let bucket = format!("vox-minio-{}", std::process::id());
        let http = reqwest::Client::new();
        let created = http
            .put(format!("http://{host}/{bucket}"))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{}", created.status());
        let audio: Vec<u8> = (0..4_000u32).map(|i| (i % 251) as u8).collect();
        let put = http
            .put(format!("http://{host}/{bucket}/calls/7.wav"))
            .body(audio.clone())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "{}", put.status());

        let settings = Settings::load(
            &env(&[
                ("MINIO_ENDPOINT", &host),
                ("MINIO_SECURE", "false"),
                ("MINIO_ACCESS_KEY", "test"),
                ("MINIO_SECRET_KEY", "test"),
                ("MINIO_BUCKET", &bucket),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(settings.object_store_url, format!("s3://{bucket}"));
        assert_eq!(settings.s3_endpoint, Some(format!("http://{host}")));
        let recordings = crate::commands::s3_recordings(&settings).unwrap().unwrap();
        let response = recordings
            .serve(&format!("s3://{bucket}/calls/7.wav"), None)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.as_ref(), &audio[..]);
    }
}
