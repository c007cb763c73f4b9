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
