//! The `relayctl` binary as on-call runs it, without AWS: exit codes, the refusal without a
//! terminal, `--env-file` reaching the configuration, `--request-file` errors.

use std::process::{Command, Output, Stdio};

const CONFIG_VARS: [&str; 5] = [
    "WFM_URL",
    "WFM_ALLOW_HTTP",
    "DLQ_URL",
    "RETRY_QUEUE_URL",
    "ARCHIVE_BUCKET",
];

/// Runs `relayctl args` with stdin closed (not a terminal) and no relay configuration inherited.
fn relayctl(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_relayctl"));
    cmd.args(args)
        .stdin(Stdio::null())
        .env_remove("RELAYCTL_ENV_FILE_LOADED");
    for v in CONFIG_VARS {
        cmd.env_remove(v);
    }
    cmd.output().expect("relayctl runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relayctl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write temp file");
    p
}

#[test]
fn help_exits_zero_and_explains_the_walk_through() {
    let o = relayctl(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for step in [
        "relayctl stats",
        "relayctl peek",
        "relayctl replay --dry-run",
    ] {
        assert!(out.contains(step), "{out}");
    }
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &[][..],
        &["replay", "--reason", "flaky"],
        &["--request-file", "r.json", "stats"],
    ] {
        let o = relayctl(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn destructive_actions_without_a_terminal_need_yes() {
    for args in [
        &["replay"][..],
        &["redrive", "--reason", "transient_exhausted"],
        &["archive"],
        &["replay-archive", "--key", "dead-letters/"],
    ] {
        let o = relayctl(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = stderr(&o);
        assert!(e.contains("refusing to") && e.contains("--yes"), "{e}");
    }
    // A dry run needs no confirmation: it gets as far as the configuration.
    let o = relayctl(&["replay", "--dry-run"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("WFM_URL"), "{}", stderr(&o));
}

#[test]
fn env_file_reaches_the_configuration() {
    let env = temp_file(
        "missing-dlq.env",
        "# on-call, staging\nWFM_URL=https://wfm.example.com/api\nRETRY_QUEUE_URL=http://q/retry\n",
    );
    let o = relayctl(&["stats", "--env-file", env.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("configuration variable DLQ_URL: is required"),
        "{}",
        stderr(&o)
    );

    let bad = temp_file("bad.env", "WFM_URL https://x\n");
    let o = relayctl(&["--env-file", bad.to_str().expect("utf-8 path"), "stats"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("line 1"), "{}", stderr(&o));
}

#[test]
fn request_file_is_checked_before_anything_runs() {
    let typo = temp_file("typo.json", r#"{"action":"replay","filtr":{}}"#);
    let o = relayctl(&["--request-file", typo.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("filtr"), "{}", stderr(&o));

    let o = relayctl(&["--request-file", "/nonexistent/next.json"]);
    assert_eq!(o.status.code(), Some(2));
}
