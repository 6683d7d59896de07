//! Reading Marquee's output back with Python's own parsers.

use std::ffi::OsStr;
use std::process::Command;

/// Runs the Python `script` (`python3 -c`) with `args` and returns what it
/// printed as JSON; a failing script fails the test with `failure` and
/// what it wrote to stderr.
pub fn python_json<T: serde::de::DeserializeOwned>(
    script: &str,
    args: impl IntoIterator<Item = impl AsRef<OsStr>>,
    failure: &str,
) -> T {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 must be installed to read Marquee's output back");
    assert!(
        output.status.success(),
        "{failure}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script printed JSON")
}
