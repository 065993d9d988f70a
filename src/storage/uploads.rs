//! Incomplete multipart uploads on S3: what a process killed mid-upload leaves behind.
//!
//! They are invisible to object listings and `object_store` has no call for them, yet the
//! bucket keeps (and bills) their parts. These are two signed requests of the S3 API,
//! `ListMultipartUploads` and `AbortMultipartUpload`, sent with `object_store`'s own client and
//! SigV4 signer, so credentials, endpoint and TLS settings are the store's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::ClientOptions;
use object_store::aws::{AmazonS3, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector, HttpRequest, ReqwestConnector};
use object_store::signer::Signer;

use crate::error::{Error, Result};

/// An upload started and never completed or aborted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    /// The key within the bucket (including the root's prefix).
    pub key: String,
    pub id: String,
    pub initiated: chrono::DateTime<chrono::Utc>,
}

/// What it takes to speak to the bucket directly.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    pub store: Arc<AmazonS3>,
    pub region: String,
    pub allow_http: bool,
}

impl Bucket {
    fn client(&self) -> Result<HttpClient> {
        ReqwestConnector::default()
            .connect(&ClientOptions::new().with_allow_http(self.allow_http))
            .map_err(|source| self.error("connect", source))
    }

    fn error(&self, operation: &'static str, source: object_store::Error) -> Error {
        Error::Storage {
            url: format!("s3://{}", self.store),
            operation,
            source,
        }
    }

    /// The bucket's own URL, as the store addresses it (path- or virtual-hosted style).
    async fn base_url(&self) -> Result<url::Url> {
        let mut url = self
            .store
            .signed_url(
                http::Method::GET,
                &object_store::path::Path::from(""),
                Duration::from_secs(60),
            )
            .await
            .map_err(|source| self.error("sign", source))?;
        url.set_query(None);
        Ok(url)
    }

    async fn send(&self, method: http::Method, url: url::Url) -> Result<Bytes> {
        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(|source| self.error("credentials", source))?;
        let mut request: HttpRequest = http::Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(Bytes::new().into())
            .map_err(|e| Error::Internal(format!("an S3 request: {e}")))?;
        AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
        let generic = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
            store: "S3",
            source: e,
        };
        let response = self
            .client()?
            .execute(request)
            .await
            .map_err(|e| self.error("list uploads", generic(Box::new(e))))?;
        let status = response.status();
        let body = response
            .into_body()
            .bytes()
            .await
            .map_err(|e| self.error("list uploads", generic(Box::new(e))))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body).into_owned();
            return Err(self.error("list uploads", generic(format!("{status}: {text}").into())));
        }
        Ok(body)
    }

    /// Every incomplete upload whose key starts with `prefix`.
    pub(super) async fn incomplete_uploads(&self, prefix: &str) -> Result<Vec<Upload>> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker) = (String::new(), String::new());
        loop {
            let mut url = self.base_url().await?;
            {
                let mut q = url.query_pairs_mut();
                q.append_key_only("uploads");
                q.append_pair("prefix", prefix);
                if !key_marker.is_empty() {
                    q.append_pair("key-marker", &key_marker);
                    q.append_pair("upload-id-marker", &id_marker);
                }
            }
            let body = self.send(http::Method::GET, url).await?;
            let text = String::from_utf8_lossy(&body);
            for upload in elements(&text, "Upload") {
                let (Some(key), Some(id)) = (element(upload, "Key"), element(upload, "UploadId"))
                else {
                    continue;
                };
                let initiated = element(upload, "Initiated")
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or_else(chrono::Utc::now);
                out.push(Upload { key, id, initiated });
            }
            if element(&text, "IsTruncated").as_deref() != Some("true") {
                break;
            }
            key_marker = element(&text, "NextKeyMarker").unwrap_or_default();
            id_marker = element(&text, "NextUploadIdMarker").unwrap_or_default();
            if key_marker.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// Abort `upload`: its parts are deleted.
    pub(super) async fn abort(&self, upload: &Upload) -> Result<()> {
        let mut url = self.base_url().await?;
        let path = format!("{}/{}", url.path().trim_end_matches('/'), upload.key);
        url.set_path(&path);
        url.query_pairs_mut().append_pair("uploadId", &upload.id);
        self.send(http::Method::DELETE, url).await?;
        Ok(())
    }
}

/// The bodies of every `<tag>…</tag>` in `xml`, in order.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(&close) else { break };
        out.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    out
}

/// The text of the first `<tag>` in `xml`, unescaped.
fn element(xml: &str, tag: &str) -> Option<String> {
    elements(xml, tag).first().map(|t| {
        t.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_results_parse() {
        let xml = r#"<?xml version="1.0"?><ListMultipartUploadsResult><Bucket>b</Bucket>
            <IsTruncated>false</IsTruncated>
            <Upload><Key>p/bronze/x/data/w-00000.parquet</Key><UploadId>abc&amp;1</UploadId>
            <Initiated>2026-01-01T00:00:00.000Z</Initiated></Upload>
            <Upload><Key>p/y</Key><UploadId>def</UploadId></Upload></ListMultipartUploadsResult>"#;
        let uploads = elements(xml, "Upload");
        assert_eq!(uploads.len(), 2);
        assert_eq!(
            element(uploads[0], "Key").unwrap(),
            "p/bronze/x/data/w-00000.parquet"
        );
        assert_eq!(element(uploads[0], "UploadId").unwrap(), "abc&1");
        assert_eq!(element(xml, "IsTruncated").unwrap(), "false");
        assert_eq!(element(uploads[1], "Initiated"), None);
    }
}
