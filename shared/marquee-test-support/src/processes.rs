//! Real servers of the test's own, as child processes it can kill and
//! restart: a durable Kafka-protocol broker (tansu on `sqlite://`) and a
//! PostgreSQL cluster. The shared broker and database of the test command
//! serve every other test, so the fault tests never stop those.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// Runs `command` to its end, failing the test with what it printed unless
/// it succeeds; `missing` says how to install a program that cannot start.
pub fn run_to_success(command: &mut Command, missing: &str) {
    let program = command.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): {missing}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn wait_until_listening(address: &str, what: &str) {
    crate::wait::blocking_until(
        &format!("{what} listens at {address}"),
        Duration::from_secs(30),
        || std::net::TcpStream::connect(address).ok(),
    );
}

/// tansu storing its log in SQLite in a temporary folder, so a restart
/// keeps every topic, offset and group position.
pub struct DurableBroker {
    /// `host:port`.
    pub address: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl DurableBroker {
    /// Starts tansu (`$TANSU_BIN`, else `tansu` on the path) on a free port.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let address = format!("127.0.0.1:{}", free_port());
        let child = Self::spawn(&address, dir.path());
        Self {
            address,
            dir,
            child,
        }
    }

    fn spawn(address: &str, dir: &Path) -> Child {
        let tansu = std::env::var("TANSU_BIN").unwrap_or_else(|_| "tansu".to_owned());
        let child = Command::new(&tansu)
            .current_dir(dir)
            .args(["broker", "--listener-url", &format!("tcp://{address}")])
            .args(["--advertised-listener-url", &format!("tcp://{address}")])
            .args(["--storage-engine", "sqlite://broker.db"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start the broker `{tansu}` ({e}); the test command installs it")
            });
        wait_until_listening(address, "the broker");
        child
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) {
        self.child = Self::spawn(&self.address, self.dir.path());
    }
}

impl Drop for DurableBroker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PostgreSQL cluster in a temporary folder on a free port, trust auth
/// for `postgres` on loopback. Made with the server's own `initdb` and
/// `pg_ctl`; as root, they run as the `postgres` user, as they must.
pub struct OwnPostgres {
    /// The port it listens on.
    pub port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl OwnPostgres {
    /// Creates and starts the cluster; fails the test when no PostgreSQL
    /// server is installed (the test command installs one).
    pub fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(Result::ok)
                    .map(|version| version.path().join("bin"))
                    .filter(|bin| bin.join("initdb").exists())
                    .max()
            })
            .expect("a PostgreSQL server under /usr/lib/postgresql (the test command installs it)");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let postgres = Self {
            port: free_port(),
            dir,
            bin,
        };
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(postgres.dir.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "could not give the cluster folder to postgres"
            );
        }
        let data = postgres.data();
        postgres.run("initdb", &["-U", "postgres", "--auth=trust", "-D", &data]);
        postgres.pg_ctl(&["start"]);
        postgres
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `program` of the server's, as `postgres` when this is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        run_to_success(
            self.command(program).args(args).stdin(Stdio::null()),
            "the test command installs PostgreSQL",
        );
    }

    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.path().display()
        );
        let (data, log) = (
            self.data(),
            self.dir.path().join("log").display().to_string(),
        );
        let mut args = vec!["-D", &data, "-l", &log, "-o", &options, "-w"];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }

    /// Creates database `name` and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        crate::create_database(&self.url("postgres"), name).await;
        self.url(name)
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server abruptly (`-m immediate`: no checkpoint, every
    /// connection cut, recovery at the next start), then starts it again.
    pub fn crash_and_restart(&self) {
        self.pg_ctl(&["-m", "immediate", "stop"]);
        self.pg_ctl(&["start"]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}
