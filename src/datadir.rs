//! The data dir is private to the account Fimy runs as: the SQLite database (and its
//! `-wal`/`-shm` files), the uploads, the emails written as files and the keys hold
//! personal data and secrets. Directories are `0700` and files `0600`, whatever the
//! umask: modes are set explicitly after creation, and an existing installation's data
//! dir, database files and uploads directory are tightened at start.

use std::io;
use std::path::Path;

/// The mode of the data dir and of every directory Fimy makes in it.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file Fimy writes in the data dir.
pub const FILE_MODE: u32 = 0o600;

/// The directory of the data dir that holds the attachments' local store.
pub const UPLOADS_DIR: &str = "uploads";

/// Creates the data dir (and its `uploads/`) if needed and makes both private.
pub fn ensure(data_dir: &Path) -> io::Result<()> {
    private_dir(data_dir)?;
    private_dir(&data_dir.join(UPLOADS_DIR))
}

/// Creates `dir` and any missing parent, each new one `0700`, and sets `dir` itself
/// to `0700`.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)?;
    set_mode(dir, DIR_MODE)
}

/// Makes an existing file `0600` (nothing when it does not exist).
pub fn tighten_file(path: &Path) -> io::Result<()> {
    match set_mode(path, FILE_MODE) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Options that create a file `0600` (before the umask; [`set_mode`] it after to be
/// exact).
pub fn private_file_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Creates the SQLite database file `0600` if it is missing (SQLite gives its `-wal`
/// and `-shm` files the database file's mode), and tightens the three if they exist.
pub fn private_sqlite(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        private_dir(dir)?;
    }
    match private_file_options()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        tighten_file(Path::new(&name))?;
    }
    Ok(())
}

/// Sets the permission bits of `path` exactly (not subject to the umask).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if current != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn an_open_data_dir_and_database_are_made_private() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = data.join("fimy.db");
        std::fs::write(&db, b"").unwrap();
        std::fs::write(data.join("fimy.db-wal"), b"").unwrap();
        for f in [&db, &data.join("fimy.db-wal")] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        ensure(&data).unwrap();
        private_sqlite(&db).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("uploads")), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&data.join("fimy.db-wal")), 0o600);
        assert!(!data.join("fimy.db-shm").exists(), "nothing is invented");

        let fresh = root.path().join("a/b/fimy.db");
        private_sqlite(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o600);
        assert_eq!(mode(&root.path().join("a/b")), 0o700);
    }
}
