//! The `marquee` binary as its own process, as operators run it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use marquee_test_support::wait;

/// How long a process may take to answer as a test expects.
const WAIT: Duration = Duration::from_secs(60);

pub fn samples_dir(service: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../marquee-{service}-ingest/samples"))
}

/// [`super::config_on`] `port` as a config file in `dir`.
pub fn config_on_port(dir: &Path, port: u16) -> PathBuf {
    let file = dir.join(format!("marquee-{port}.toml"));
    std::fs::write(&file, super::config_on(port)).unwrap();
    file
}

/// A `marquee` process, stopped with SIGKILL when dropped. Its output
/// goes to `log`, kept after the test for a failure's post-mortem.
pub struct Marquee {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    command: Vec<String>,
    env: Vec<(String, String)>,
    port: u16,
}

impl Marquee {
    /// `marquee --config config args…` listening on `port`, with `env`.
    pub fn start(config: &Path, args: &[&str], port: u16, env: &[(&str, String)]) -> Self {
        let mut command = vec!["--config".to_owned(), config.display().to_string()];
        command.extend(args.iter().map(|arg| (*arg).to_owned()));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .collect();
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("marquee-{port}.log"));
        // Appended to across restarts; emptied here, as the port may be reused.
        std::fs::write(&log, "").unwrap();
        let child = Self::spawn(&command, &env, port, &log);
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            command,
            env,
            port,
        }
    }

    fn spawn(args: &[String], env: &[(String, String)], port: u16, log: &Path) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_marquee"))
            .args(args)
            .env("MARQUEE_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("MARQUEE_SAMPLES__REVIEWS", samples_dir("reviews"))
            .env("MARQUEE_SAMPLES__LISTINGS", samples_dir("listings"))
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::get(format!("{}{path}", self.base)).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// Polls `path` until `accept` holds for its body, for up to 60 s;
    /// fails at once if the process exited.
    pub async fn wait_for(&self, path: &str, accept: impl Fn(&str) -> bool) -> String {
        let accept = &accept;
        wait::until(
            &format!(
                "{path} answers as expected; the log: {}",
                self.log.display()
            ),
            WAIT,
            || async move {
                if let Some((200, body)) = self.get(path).await
                    && accept(&body)
                {
                    return Some(body);
                }
                assert!(
                    self.is_running(),
                    "marquee {:?} exited early; its log: {}",
                    self.command,
                    self.log.display()
                );
                None
            },
        )
        .await
    }

    /// Polls an operator `path` (with the demo admin token) until `accept` holds.
    pub async fn admin_get_until(&self, path: &str, accept: impl Fn(&str) -> bool) -> String {
        let (client, accept) = (&reqwest::Client::new(), &accept);
        wait::until(
            &format!("{path} answers as expected"),
            WAIT,
            || async move {
                let response = client
                    .get(format!("{}{path}", self.base))
                    .bearer_auth(super::TOKEN)
                    .send()
                    .await
                    .ok()
                    .filter(|response| response.status() == 200)?;
                let body = response.text().await.ok()?;
                accept(&body).then_some(body)
            },
        )
        .await
    }

    fn is_running(&self) -> bool {
        // `try_wait` needs `&mut`; a signal-0 probe tells the same without it.
        Command::new("kill")
            .args(["-0", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// SIGTERM, and the process must exit cleanly.
    pub fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "marquee did not shut down cleanly: {status}"
        );
    }

    /// SIGKILL: no shutdown, nothing flushed or committed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The same command started again, on the same port.
    pub fn restart(&mut self) {
        self.child = Self::spawn(&self.command, &self.env, self.port, &self.log);
    }
}

impl Drop for Marquee {
    fn drop(&mut self) {
        self.kill();
    }
}
