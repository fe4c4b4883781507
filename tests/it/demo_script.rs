//! `infra/demo.sh` when moto cannot start (a new user's first run with a broken venv, a port
//! taken, a failed build of the AWS-rules layer): the script stops at once with moto.sh's own
//! message and exit 1. Before, `eval "$(infra/moto.sh start …)"` swallowed the failure (eval of
//! nothing succeeds) and the user read `AWS_ENDPOINT_URL: unbound variable` instead.
//!
//! Real components: the script itself under bash, its `infra/venv.sh` and `infra/moto.sh`; only
//! the venv is a stand-in whose `moto_server` fails on start.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A venv that `infra/venv.sh` accepts as it is (a `bin/python`, the requirements stamp) and
/// whose `moto_server` prints `marker` on stderr and exits 1.
fn venv_whose_moto_fails(marker: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wfm-relay-demo-sh-{}", uuid::Uuid::new_v4()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("venv dir");
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 (a prerequisite of the scripts)");
    let python = String::from_utf8_lossy(&python.stdout).trim().to_owned();
    std::os::unix::fs::symlink(&python, bin.join("python")).expect("bin/python");
    std::fs::copy(
        repo().join("infra/requirements.txt"),
        dir.join(".wfm-relay-requirements"),
    )
    .expect("requirements stamp");
    let moto = bin.join("moto_server");
    std::fs::write(&moto, format!("#!/bin/sh\necho '{marker}' >&2\nexit 1\n")).expect("moto");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&moto, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the repo")
        .to_owned()
}

#[test]
fn demo_sh_stops_with_motos_message_when_moto_cannot_start() {
    let marker = format!("fake moto cannot start {}", uuid::Uuid::new_v4());
    let venv = venv_whose_moto_fails(&marker);
    let out = Command::new("bash")
        .arg(repo().join("infra/demo.sh"))
        .arg("--keep")
        .env("WFM_RELAY_VENV", &venv)
        // As in a new user's shell: nothing of infra/test.sh's own moto.
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("MOTO_ENDPOINT_URL")
        .output()
        .expect("bash infra/demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("moto server did not become ready on port"),
        "{stderr}"
    );
    assert!(stderr.contains(&marker), "moto's log is shown: {stderr}");
    assert!(!stderr.contains("unbound variable"), "{stderr}");
    assert!(!stdout.contains("== moto server at"), "{stdout}");
    assert!(!stdout.contains("cargo build"), "{stdout}");
    // The run's state folder (moto.log) under .demo/ and the stand-in venv are removed.
    if let Ok(runs) = std::fs::read_dir(repo().join(".demo")) {
        for run in runs.flatten() {
            let log = std::fs::read_to_string(run.path().join("moto.log")).unwrap_or_default();
            if log.contains(&marker) {
                let _ = std::fs::remove_dir_all(run.path());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&venv);
}
