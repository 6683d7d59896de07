//! Graceful shutdown: SIGINT or SIGTERM cancels one token that every loop
//! selects on; in-flight work then gets a deadline to drain.

use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A token cancelled by the first SIGINT or SIGTERM.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing a SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("Shutdown requested; draining");
        cancel.cancel();
    });
    token
}

/// Waits for every task; the first failure cancels the rest. After
/// `shutdown`, tasks get `deadline` to finish before they are abandoned.
pub async fn supervise(
    mut tasks: JoinSet<anyhow::Result<()>>,
    shutdown: CancellationToken,
    deadline: Duration,
) -> anyhow::Result<()> {
    let mut outcome = Ok(());
    loop {
        let next = tokio::select! {
            next = tasks.join_next() => next,
            () = shutdown.cancelled() => break,
        };
        match next {
            None => return outcome,
            Some(Ok(Ok(()))) => {}
            Some(Ok(Err(error))) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "A service failed; stopping the others"
                );
                outcome = Err(error);
                shutdown.cancel();
                break;
            }
            Some(Err(panic)) => {
                outcome = Err(anyhow::anyhow!("a service panicked: {panic}"));
                shutdown.cancel();
                break;
            }
        }
    }
    let drained = tokio::time::timeout(deadline, async {
        while let Some(result) = tasks.join_next().await {
            if let Ok(Err(error)) = result {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "A service failed while draining"
                );
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            deadline_secs = deadline.as_secs(),
            "Drain deadline passed; abandoning unfinished work"
        );
    }
    outcome
}
