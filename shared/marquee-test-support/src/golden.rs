//! Golden files: output compared byte for byte with a file kept in the
//! test crate, rewritten on request.

use std::path::Path;

/// Compares `actual` with `{manifest_dir}/tests/golden/{name}` (pass the
/// test crate's `env!("CARGO_MANIFEST_DIR")`); `UPDATE_GOLDEN=1` rewrites
/// the file instead. A difference fails showing both, as text.
pub fn assert_golden(manifest_dir: &str, name: &str, actual: impl AsRef<[u8]>) {
    let actual = actual.as_ref();
    let path = Path::new(manifest_dir).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "missing golden file {} ({e}): run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from its golden file; if the change is intended, run with UPDATE_GOLDEN=1\n--- expected\n{}\n--- actual\n{}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual),
    );
}
