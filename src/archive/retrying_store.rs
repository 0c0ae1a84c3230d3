//! An object store whose reads are retried under a [`RetryPolicy`], for readers that take a
//! store rather than our fetch functions: DataFusion's Parquet scan of a lake on S3. Without it
//! those reads had only object_store's few quick retries, so a throttling burst failed a lake
//! query that the same burst on the raw archive would only have slowed down.
//!
//! Reads (`get_opts`, `get_ranges`) are retried whole, bodies included: a GET's body is read
//! inside the attempt, so a body that breaks off is retried like a refused request. Writes,
//! lists and deletes pass through unchanged (the lake's writers and listings retry where they
//! need to).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

use super::retry::{Exhausted, RetryPolicy};

#[derive(Debug)]
pub struct ReadRetryingStore {
    inner: Arc<dyn ObjectStore>,
    retry: RetryPolicy,
}

impl ReadRetryingStore {
    pub fn wrap(inner: Arc<dyn ObjectStore>, retry: RetryPolicy) -> Arc<dyn ObjectStore> {
        Arc::new(ReadRetryingStore { inner, retry })
    }

    /// The error of a read given up, in one line (the store's own repeats the URL and a
    /// server's XML body); "not found" stays itself, for readers that act on it.
    fn gave_up(e: Exhausted) -> object_store::Error {
        if e.is_not_found() {
            return e.error;
        }
        object_store::Error::Generic {
            store: "S3",
            source: e.to_string().into(),
        }
    }
}

impl std::fmt::Display for ReadRetryingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (reads retried)", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for ReadRetryingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.head {
            return self
                .retry
                .run(|| self.inner.get_opts(location, options.clone()))
                .await
                .map_err(Self::gave_up);
        }
        let (bytes, meta, range, attributes) = self
            .retry
            .run(|| async {
                let got = self.inner.get_opts(location, options.clone()).await?;
                let (meta, range, attributes) =
                    (got.meta.clone(), got.range.clone(), got.attributes.clone());
                Ok((got.bytes().await?, meta, range, attributes))
            })
            .await
            .map_err(Self::gave_up)?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async move { Ok(bytes) }))),
            meta,
            range,
            attributes,
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.retry
            .run(|| self.inner.get_ranges(location, ranges))
            .await
            .map_err(Self::gave_up)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}
