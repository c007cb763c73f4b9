//! The binary itself: help, bad configuration, migrate.

use std::process::Command;

fn fimy() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fimy"));
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_URL",
        "FIMY_LISTEN",
        "FIMY_DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

#[test]
fn help_lists_the_commands() {
    let out = fimy().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "seed"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_key() {
    for (var, value) in [
        ("FIMY_LISTEN", "not-an-address"),
        ("DATABASE_URL", "mysql://localhost/fimy"),
        ("FIMY_LOG_FORMAT", "yaml"),
        ("REDIS_URL", "http://localhost"),
    ] {
        let out = fimy().env(var, value).arg("migrate").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(var), "{var}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fimy.toml");
    std::fs::write(&file, "listen = 8080\n").unwrap();
    let out = fimy()
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen"));
}

#[test]
fn migrate_creates_the_sqlite_database_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = fimy()
            .env("FIMY_DATA_DIR", dir.path())
            .arg("migrate")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("fimy.db").exists());
}

#[test]
fn an_unreachable_database_is_a_clear_error_not_a_panic() {
    let out = fimy()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/fimy")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Failed to connect to the database"), "{err}");
    assert!(!err.contains("panicked"));
}

/// Every directory and file under `dir` with its permission bits.
#[cfg(unix)]
fn modes(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, bool, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        out.push((
            path.clone(),
            meta.is_dir(),
            meta.permissions().mode() & 0o777,
        ));
        if meta.is_dir() {
            modes(&path, out);
        }
    }
}

#[cfg(unix)]
#[test]
fn the_data_dir_is_private_whatever_the_umask_even_for_an_existing_installation() {
    use std::io::BufRead;
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    // What an earlier version left: an open data dir, database and uploads directory.
    std::fs::create_dir_all(data.join("uploads")).unwrap();
    std::fs::write(data.join("fimy.db"), b"").unwrap();
    for (path, mode) in [
        (data.clone(), 0o755),
        (data.join("uploads"), 0o755),
        (data.join("fimy.db"), 0o644),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" serve")
        .arg(env!("CARGO_BIN_EXE_fimy"))
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("SMTP_URL")
        .env("FIMY_DATA_DIR", &data)
        .env("FIMY_LISTEN", "127.0.0.1:0")
        .env("FIMY_DEMO_DATA", "true")
        .env("FIMY_WORKERS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Serving once it prints its addresses: the database is open (in WAL mode).
    let stdout = child.stdout.take().unwrap();
    let mut running = false;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.contains("Web app:") {
            running = true;
            break;
        }
    }
    let mut found = Vec::new();
    if running {
        modes(&data, &mut found);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(running, "the server did not start");
    let names: Vec<String> = found
        .iter()
        .map(|(p, _, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "fimy.db",
        "fimy.db-wal",
        "fimy.db-shm",
        "secret.key",
        "uploads",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let data_mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(data_mode, 0o700, "the data dir");
    let open: Vec<_> = found
        .iter()
        .filter(|(_, is_dir, mode)| *mode != if *is_dir { 0o700 } else { 0o600 })
        .collect();
    assert!(open.is_empty(), "not private: {open:?}");
}

/// SIGTERM stops the server through its shutdown signal: it drains, stops its background
/// work and actor threads, and exits successfully, promptly.
#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    use std::io::BufRead;
    let data = tempfile::tempdir().unwrap();
    let mut child = fimy()
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("SMTP_URL")
        .env("FIMY_DATA_DIR", data.path())
        .env("FIMY_LISTEN", "127.0.0.1:0")
        .env("FIMY_DEMO_DATA", "true")
        .env("FIMY_WORKERS", "1")
        .env("FIMY_SHUTDOWN_GRACE_MS", "2000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Read all it prints (a closed pipe would fail its next line), saying when it serves.
    let stdout = child.stdout.take().unwrap();
    let (serving, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("Web app:") {
                let _ = serving.send(());
            }
        }
    });
    started
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the server starts");
    let term = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(term.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the server exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}
