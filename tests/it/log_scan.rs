//! The secret scan of case C27: every text a test collected (function logs, EMF lines, queue
//! bodies and attributes, S3 objects, reports, relayctl's stdout and stderr) is searched for
//! each secret, and a hit names the place. Also runs a program under a pseudo-terminal, so its
//! terminal-only output (relayctl's confirmation prompt) is part of the scan.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Texts collected from named places, searched together.
#[derive(Debug, Default)]
pub struct LogScan {
    places: Vec<(String, String)>,
}

impl LogScan {
    /// Adds `text`, found at `place` (e.g. `forwarder log`, `DLQ body`).
    pub fn add(&mut self, place: impl Into<String>, text: impl Into<String>) {
        self.places.push((place.into(), text.into()));
    }

    /// Adds bytes, decoded lossily (a secret in them is still found).
    pub fn add_bytes(&mut self, place: impl Into<String>, bytes: &[u8]) {
        self.add(place, String::from_utf8_lossy(bytes).into_owned());
    }

    /// Panics, naming the place and the line, when any text holds any of `secrets`.
    pub fn assert_free_of(&self, secrets: &[&str]) {
        for (place, text) in &self.places {
            for secret in secrets {
                if let Some(line) = text.lines().find(|l| l.contains(secret)) {
                    panic!("{place} holds the secret {secret:?}: {line}");
                }
            }
        }
    }
}

/// Everything a program wrote to its terminal, with its exit code.
#[derive(Debug)]
pub struct PtyOutput {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// stdout and stderr together, as the terminal showed them (CR LF line ends, the echoed
    /// input included).
    pub text: String,
}

/// Runs `program args…` with `envs` on a pseudo-terminal through util-linux `script -qec`
/// (stdin, stdout and stderr all on the terminal, so `isatty` is true as for an operator), and
/// types `input` into it.
///
/// Why `script` and not a crate (expectrl, rexpect): util-linux is part of every Debian/Ubuntu
/// image the tests run on, it is maintained with the kernel's userland, it adds no dependency
/// (those crates bring their own pty and process layers) and no unsafe code, the case names it,
/// and `-e` gives back the child's exit code. macOS's BSD `script` takes other flags; the
/// integration tests run on Linux (infra/test.sh).
pub fn run_in_pty(
    program: &Path,
    args: &[&str],
    envs: &[(String, String)],
    input: &str,
) -> PtyOutput {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = quote(&program.display().to_string());
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("type the input");
    }
    let mut text = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut text)
        .expect("read the terminal");
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    let status = child.wait().expect("script ends");
    text.push_str(&err);
    PtyOutput {
        code: status.code(),
        text,
    }
}
