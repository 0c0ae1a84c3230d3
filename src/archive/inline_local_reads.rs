//! A local directory's store whose reads run on the calling thread, for DataFusion's Parquet
//! scan of a local lake. object_store's `LocalFileSystem` hands every read to tokio's blocking
//! pool (two hand-offs for a ranged `get`, one for `get_ranges`), and a lake query makes a few
//! of them per file: at 5M events a query over 104 files switched threads about 2,000 times,
//! more than its reads cost. A `pread` of a file in the page cache takes microseconds, so these
//! reads are made where they are asked for, as DuckDB makes them. Writes, lists and deletes pass
//! through unchanged.

use std::fs::{File, Metadata};
use std::ops::Range;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

#[derive(Debug)]
pub struct InlineLocalReads {
    inner: Arc<LocalFileSystem>,
}

impl InlineLocalReads {
    pub fn wrap(inner: Arc<LocalFileSystem>) -> Arc<dyn ObjectStore> {
        Arc::new(InlineLocalReads { inner })
    }

    fn open(&self, location: &Path) -> object_store::Result<(File, Metadata, std::path::PathBuf)> {
        let path = self.inner.path_to_filesystem(location)?;
        let failed = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::NotFound => object_store::Error::NotFound {
                path: path.display().to_string(),
                source: source.into(),
            },
            _ => io_error(&path, source),
        };
        let file = File::open(&path).map_err(failed)?;
        let metadata = file.metadata().map_err(failed)?;
        if metadata.is_dir() {
            return Err(object_store::Error::NotFound {
                path: path.display().to_string(),
                source: "is a directory".into(),
            });
        }
        Ok((file, metadata, path))
    }
}

fn io_error(path: &std::path::Path, source: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("{}: {source}", path.display()).into(),
    }
}

/// The object's metadata as `LocalFileSystem` gives it (the same e-tag: inode, mtime, size), so
/// a precondition means the same through either store.
fn object_meta(location: &Path, metadata: &Metadata) -> ObjectMeta {
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let micros = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    ObjectMeta {
        location: location.clone(),
        last_modified: modified.into(),
        size: metadata.len(),
        e_tag: Some(format!(
            "{:x}-{micros:x}-{:x}",
            metadata.ino(),
            metadata.len()
        )),
        version: None,
    }
}

fn read_range(
    file: &File,
    path: &std::path::Path,
    range: Range<u64>,
) -> object_store::Result<Bytes> {
    let len = usize::try_from(range.end - range.start).map_err(|_| {
        io_error(
            path,
            std::io::Error::other("range larger than this machine's memory"),
        )
    })?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, range.start)
        .map_err(|e| io_error(path, e))?;
    Ok(buf.into())
}

impl std::fmt::Display for InlineLocalReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (reads inline)", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for InlineLocalReads {
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
        let (file, metadata, path) = self.open(location)?;
        let meta = object_meta(location, &metadata);
        options.check_preconditions(&meta)?;
        let range = match &options.range {
            Some(r) => r
                .as_range(meta.size)
                .map_err(|e| io_error(&path, std::io::Error::other(e.to_string())))?,
            None => 0..meta.size,
        };
        let bytes = if options.head {
            Bytes::new()
        } else {
            read_range(&file, &path, range.clone())?
        };
        Ok(GetResult {
            payload: GetResultPayload::Stream(Box::pin(stream::once(async move { Ok(bytes) }))),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let (file, _, path) = self.open(location)?;
        ranges
            .iter()
            .map(|r| read_range(&file, &path, r.clone()))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{GetRange, ObjectStoreExt};

    /// The inline store answers every read exactly as `LocalFileSystem` does: bytes, ranges,
    /// metadata (e-tag included), a missing file and a failed precondition.
    #[tokio::test]
    async fn reads_inline_answer_as_the_local_store_does() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/f.parquet"), &body).unwrap();
        let local = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
        let inline = InlineLocalReads::wrap(Arc::clone(&local));
        let path = Path::from("a/f.parquet");

        let ranges = [0..10, 99_990..100_000, 4_096..70_000];
        assert_eq!(
            inline.get_ranges(&path, &ranges).await.unwrap(),
            local.get_ranges(&path, &ranges).await.unwrap()
        );
        for range in [
            None,
            Some(GetRange::Bounded(5..17)),
            Some(GetRange::Suffix(16_384)),
            Some(GetRange::Offset(99_000)),
        ] {
            let options = GetOptions {
                range,
                ..Default::default()
            };
            let ours = inline.get_opts(&path, options.clone()).await.unwrap();
            let theirs = local.get_opts(&path, options).await.unwrap();
            assert_eq!((&ours.meta, &ours.range), (&theirs.meta, &theirs.range));
            assert_eq!(ours.bytes().await.unwrap(), theirs.bytes().await.unwrap());
        }

        let head = inline.head(&path).await.unwrap();
        assert_eq!(head, local.head(&path).await.unwrap());
        let stale = GetOptions {
            if_match: Some("not-the-e-tag".into()),
            ..Default::default()
        };
        assert!(matches!(
            inline.get_opts(&path, stale).await,
            Err(object_store::Error::Precondition { .. })
        ));
        for missing in [Path::from("a/none.parquet"), Path::from("a")] {
            assert!(matches!(
                inline.get_range(&missing, 0..1).await,
                Err(object_store::Error::NotFound { .. })
            ));
        }
        // A range past the end is cut at the end, by both.
        assert_eq!(
            inline.get_range(&path, 99_999..100_001).await.unwrap(),
            local.get_range(&path, 99_999..100_001).await.unwrap()
        );
        assert!(
            inline
                .get_ranges(&path, &[0..1, 99_999..100_001])
                .await
                .is_err()
        );
        assert!(
            local
                .get_ranges(&path, &[0..1, 99_999..100_001])
                .await
                .is_err()
        );
    }
}
