//! The storage port for uploaded files (gift-card attachments) and its embedded adapter:
//! [`LocalStore`] keeps each blob as one file under `<data_dir>/uploads/`. Keys are
//! checked before they become paths, so no key can reach outside the store, and a blob is
//! written to a temporary file that is renamed into place, so a crash leaves either the
//! whole blob or none. A blob is read either whole ([`BlobStore::get`]) or opened
//! ([`BlobStore::open`]) and streamed from any offset, so serving a part of a large file
//! reads only that part.

use actix_web::web::Bytes;
use anyhow::{Context, bail};
use async_trait::async_trait;
use futures_util::Stream;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt};

/// How much of a blob is read at a time when it is streamed.
const READ_CHUNK: usize = 64 * 1024;

/// Longest key accepted, in bytes.
const MAX_KEY_LEN: usize = 200;
/// Most `/`-separated segments in a key.
const MAX_KEY_SEGMENTS: usize = 8;

/// Where uploaded blobs live. Keys are `/`-separated segments of ASCII letters, digits,
/// `-` and `_` (for instance `attachments/<card id>/<attachment id>`).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `bytes` under `key`, replacing what was there.
    async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()>;
    /// The blob under `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>>;
    /// The blob under `key` opened for reading, its length known and nothing read yet, or
    /// `None` when there is none. It keeps reading the blob as it was when opened.
    async fn open(&self, key: &str) -> anyhow::Result<Option<Blob>>;
    /// Removes the blob under `key`; removing a missing blob is not an error.
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
}

/// A reader that can also seek: what an opened blob reads from.
pub trait BlobSource: AsyncRead + AsyncSeek + Send + Unpin {}
impl<T: AsyncRead + AsyncSeek + Send + Unpin> BlobSource for T {}

/// An opened blob: its length, and its bytes from any offset as a stream of chunks.
pub struct Blob {
    len: u64,
    source: Box<dyn BlobSource>,
}

impl Blob {
    /// A blob of `len` bytes read from `source`.
    pub fn new(len: u64, source: impl BlobSource + 'static) -> Blob {
        Blob {
            len,
            source: Box::new(source),
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes `first..=last` (inclusive, as in a `Content-Range`), read chunk by chunk as the
    /// stream is polled. Fails when the range is not within the blob.
    pub async fn read_range(
        mut self,
        first: u64,
        last: u64,
    ) -> std::io::Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
        if first > last || last >= self.len {
            return Err(std::io::Error::new(
                ErrorKind::InvalidInput,
                format!("bytes {first}-{last} are not within a blob of {}", self.len),
            ));
        }
        if first > 0 {
            self.source.seek(std::io::SeekFrom::Start(first)).await?;
        }
        let part = self.source.take(last - first + 1);
        Ok(tokio_util::io::ReaderStream::with_capacity(
            part, READ_CHUNK,
        ))
    }

    /// All its bytes, read chunk by chunk as the stream is polled.
    pub fn read_all(self) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let whole = self.source.take(self.len);
        tokio_util::io::ReaderStream::with_capacity(whole, READ_CHUNK)
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Blobs as files under a root directory (by default `<data_dir>/uploads`).
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The store of a data dir: `<data_dir>/uploads`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join(crate::datadir::UPLOADS_DIR))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a key, once the key is known to be safe.
    fn path_of(&self, key: &str) -> anyhow::Result<PathBuf> {
        check_key(key)?;
        Ok(key.split('/').fold(self.root.clone(), |p, s| p.join(s)))
    }
}

/// Refuses every key that is not plain segments of `[A-Za-z0-9_-]`: no `.` or `..`, no
/// absolute paths, no backslashes, no empty segments, nothing a file system could read
/// as anything but a name.
pub fn check_key(key: &str) -> anyhow::Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        bail!("a storage key has 1 to {MAX_KEY_LEN} bytes");
    }
    let mut segments = 0;
    for segment in key.split('/') {
        segments += 1;
        let ok = !segment.is_empty()
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok || segments > MAX_KEY_SEGMENTS {
            bail!("invalid storage key {key:?}");
        }
    }
    Ok(())
}

#[async_trait]
impl BlobStore for LocalStore {
    async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        let path = self.path_of(key)?;
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .context("the storage writer stopped")?
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        let path = self.path_of(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    async fn open(&self, key: &str) -> anyhow::Result<Option<Blob>> {
        let path = self.path_of(key)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        };
        // The length of the file opened: a put renames a new file over the path, so this
        // handle goes on reading the blob it measured.
        let len = file
            .metadata()
            .await
            .with_context(|| format!("cannot read the size of {}", path.display()))?
            .len();
        Ok(Some(Blob::new(len, file)))
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let path = self.path_of(key)?;
        // The (possibly now empty) directory stays: removing it could race a put into it.
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot delete {}", path.display())),
        }
    }
}

/// Writes `bytes` to a hidden temporary file beside `path` (keys cannot name it: they
/// have no dots), flushes it to disk and renames it over `path`; on failure the temporary
/// file is removed.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    crate::datadir::private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let written = (|| -> std::io::Result<()> {
        // Private whatever the umask: uploads are personal (photos, voice messages).
        let mut file = crate::datadir::private_file_options()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        crate::datadir::set_mode(&tmp, crate::datadir::FILE_MODE)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is synced (where a directory can be).
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::in_data_dir(dir.path());
        (dir, store)
    }

    const KEY: &str =
        "attachments/0193c0de-0000-7000-8000-000000000001/0193c0de-0000-7000-8000-000000000002";

    #[tokio::test]
    async fn put_get_and_delete_round_trip() {
        let (dir, store) = store();
        assert_eq!(store.get(KEY).await.unwrap(), None);
        store.put(KEY, Bytes::from_static(b"hello")).await.unwrap();
        assert_eq!(
            store.get(KEY).await.unwrap(),
            Some(Bytes::from_static(b"hello"))
        );
        // Under <data_dir>/uploads, at the key's path.
        let file = dir.path().join("uploads").join(KEY);
        assert_eq!(std::fs::read(&file).unwrap(), b"hello");
        store.put(KEY, Bytes::from_static(b"again")).await.unwrap();
        assert_eq!(
            store.get(KEY).await.unwrap(),
            Some(Bytes::from_static(b"again"))
        );
        store.delete(KEY).await.unwrap();
        assert_eq!(store.get(KEY).await.unwrap(), None);
        assert!(!file.exists());
        // Deleting what is gone is fine.
        store.delete(KEY).await.unwrap();
    }

    async fn collect(stream: impl Stream<Item = std::io::Result<Bytes>>) -> Vec<u8> {
        use futures_util::TryStreamExt;
        stream
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_opened_blob_streams_whole_or_any_part() {
        let (_dir, store) = store();
        assert!(store.open(KEY).await.unwrap().is_none());
        // Several read chunks long, and not a multiple of one.
        let bytes: Vec<u8> = (0..(3 * READ_CHUNK + 123))
            .map(|i| (i % 251) as u8)
            .collect();
        store.put(KEY, Bytes::from(bytes.clone())).await.unwrap();

        let blob = store.open(KEY).await.unwrap().unwrap();
        assert_eq!(blob.len(), bytes.len() as u64);
        assert_eq!(collect(blob.read_all()).await, bytes);

        let last = bytes.len() as u64 - 1;
        for (first, end) in [
            (0, 0),
            (0, 9),
            (5, READ_CHUNK as u64 + 7),
            (last, last),
            (0, last),
        ] {
            let blob = store.open(KEY).await.unwrap().unwrap();
            let part = collect(blob.read_range(first, end).await.unwrap()).await;
            assert_eq!(part, &bytes[first as usize..=end as usize], "{first}-{end}");
        }
        for (first, end) in [(0, last + 1), (9, 5), (u64::MAX, u64::MAX)] {
            let blob = store.open(KEY).await.unwrap().unwrap();
            assert!(blob.read_range(first, end).await.is_err(), "{first}-{end}");
        }
        assert!(store.open("../secret.key").await.is_err());
    }

    #[tokio::test]
    async fn an_opened_blob_keeps_reading_what_it_opened() {
        let (_dir, store) = store();
        store
            .put(KEY, Bytes::from_static(b"the first"))
            .await
            .unwrap();
        let blob = store.open(KEY).await.unwrap().unwrap();
        store
            .put(KEY, Bytes::from_static(b"a second, longer one"))
            .await
            .unwrap();
        assert_eq!(blob.len(), 9);
        assert_eq!(collect(blob.read_all()).await, b"the first");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn blobs_and_their_directories_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();
        store.put(KEY, Bytes::from_static(b"voice")).await.unwrap();
        let file = dir.path().join("uploads").join(KEY);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
    }

    #[tokio::test]
    async fn a_put_leaves_no_temporary_file() {
        let (dir, store) = store();
        store
            .put("a/b", Bytes::from(vec![7u8; 100_000]))
            .await
            .unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path().join("uploads/a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["b"]);
    }

    #[tokio::test]
    async fn a_failed_put_keeps_the_old_blob_and_no_temporary_file() {
        let (dir, store) = store();
        store.put("a/b", Bytes::from_static(b"old")).await.unwrap();
        // The target is now a non-empty directory: the rename must fail.
        let target = dir.path().join("uploads/a/c");
        std::fs::create_dir_all(target.join("x")).unwrap();
        assert!(store.put("a/c", Bytes::from_static(b"new")).await.is_err());
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("uploads/a"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["b", "c"]);
        assert_eq!(
            store.get("a/b").await.unwrap(),
            Some(Bytes::from_static(b"old"))
        );
    }

    #[tokio::test]
    async fn keys_cannot_leave_the_store() {
        let (dir, store) = store();
        std::fs::write(dir.path().join("secret.key"), "s").unwrap();
        for bad in [
            "",
            "../secret.key",
            "..",
            ".",
            "a/../../secret.key",
            "/etc/passwd",
            "a//b",
            "a/",
            "a\\..\\b",
            "a/.hidden",
            "a/b.tmp",
            "caf\u{e9}",
            "a\0b",
            "a b",
            &"x".repeat(MAX_KEY_LEN + 1),
            "a/b/c/d/e/f/g/h/i",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
            assert!(store.get(bad).await.is_err(), "get {bad:?}");
            assert!(store.put(bad, Bytes::new()).await.is_err(), "put {bad:?}");
            assert!(store.delete(bad).await.is_err(), "delete {bad:?}");
        }
        assert_eq!(std::fs::read(dir.path().join("secret.key")).unwrap(), b"s");
        for good in ["a", "a/b", KEY, "A-z_0"] {
            check_key(good).unwrap();
        }
    }
}
