//! A store that reads and refuses every write: an `http(s)://` root, which a plain web server
//! serves but cannot take a write for. Refusing here, before a request is sent, makes every
//! writer fail the same way at its first write, naming the root, with nothing sent.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

#[derive(Debug)]
pub(crate) struct ReadOnly {
    inner: Arc<dyn ObjectStore>,
    url: String,
}

impl ReadOnly {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, url: &str) -> ReadOnly {
        ReadOnly {
            inner,
            url: url.to_string(),
        }
    }

    fn refused(&self) -> object_store::Error {
        object_store::Error::NotSupported {
            source: format!(
                "{} is read-only: a lake on http(s):// is read, and written where it is served from",
                self.url
            )
            .into(),
        }
    }
}

impl ReadOnly {
    fn unlisted(&self) -> object_store::Error {
        object_store::Error::NotSupported {
            source: format!(
                "{} is read over HTTP, which lists nothing; what needs a listing runs where the \
                 lake is written",
                self.url
            )
            .into(),
        }
    }
}

impl fmt::Display for ReadOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadOnly({})", self.url)
    }
}

#[async_trait]
impl ObjectStore for ReadOnly {
    async fn put_opts(
        &self,
        _location: &ObjectPath,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(self.refused())
    }

    async fn put_multipart_opts(
        &self,
        _location: &ObjectPath,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(self.refused())
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        let url = self.url.clone();
        locations
            .map(move |_| {
                Err(object_store::Error::NotSupported {
                    source: format!("{url} is read-only: nothing there is deleted").into(),
                })
            })
            .boxed()
    }

    /// A plain web server has no listing: a version's files are read by the names the catalog
    /// and the manifests give.
    fn list(
        &self,
        _prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        futures::stream::once(futures::future::ready(Err(self.unlisted()))).boxed()
    }

    async fn list_with_delimiter(
        &self,
        _prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        Err(self.unlisted())
    }

    async fn copy_opts(
        &self,
        _from: &ObjectPath,
        _to: &ObjectPath,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(self.refused())
    }
}
