//! Feed files on disk, for a static web server or a CDN origin.

use std::path::Path;

use anyhow::Context;

/// Writes `body` to `dir/name` atomically: readers see the old file or the
/// new one, never a torn write.
#[tracing::instrument(skip(body), fields(bytes = body.len()))]
pub(crate) async fn write_atomically(dir: &Path, name: &str, body: &[u8]) -> anyhow::Result<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("Failed to create {}", dir.display()))?;
    // Same folder, so the rename never crosses a file system; a unique name,
    // so two writers never share a temporary file.
    let temporary = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
    let target = dir.join(name);
    let result = async {
        tokio::fs::write(&temporary, body)
            .await
            .with_context(|| format!("Failed to write {}", temporary.display()))?;
        tokio::fs::rename(&temporary, &target)
            .await
            .with_context(|| format!("Failed to move a new feed file to {}", target.display()))
    }
    .await;
    if result.is_err() {
        // Best effort: a leftover temporary file is harmless but untidy.
        let _ = tokio::fs::remove_file(&temporary).await;
    }
    result
}
