//! A real S3-compatible server on loopback for the tests: moto, from the test virtualenv.
//!
//! moto accepts any access key and secret and keeps everything in memory, so each
//! [`MotoServer`] is a fresh, isolated S3 with one bucket. Two consequences for tests:
//!
//! - signatures are not checked: a wrong-secret test needs `s3s-fs` (see `docs/toolchain.md`);
//! - [`MotoServer::restart`] loses every object and upload; it creates the bucket again, so a
//!   client that was mid-upload finds the bucket but not its upload (`NoSuchUpload`).
//!
//! The bucket is created with a plain `PUT /<bucket>` over a `TcpStream`: no HTTP client, no
//! async runtime, so the server can be started from sync and async tests alike.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pyenv::python_env;

/// How long moto may take to answer after spawning (it is ready in about 1.3 s).
const STARTUP: Duration = Duration::from_secs(30);

/// A running `moto_server` on `127.0.0.1:<port>` with one bucket; killed on drop.
pub struct MotoServer {
    child: Option<Child>,
    port: u16,
    bucket: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    /// Starts moto on a free port and creates the bucket `test-bucket`.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self {
            child: None,
            port: free_port(),
            bucket: "test-bucket".to_string(),
            log: dir.path().join("moto.log"),
            _dir: dir,
        };
        server.spawn();
        server
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The bucket created at start.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The variables an S3 client needs to reach this server (path-style, plain HTTP).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Kills the server; requests fail with "connection refused" until [`MotoServer::restart`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if running and starts a new one on the same port, with the bucket
    /// created again but empty: moto keeps nothing across a restart.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// What moto printed, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(python_env().bin.join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cannot start moto_server from the test virtualenv");
        self.child = Some(child);
        self.wait_ready();
        let status = self.request("PUT", &format!("/{}", self.bucket));
        assert_eq!(
            status,
            Some(200),
            "creating the bucket failed:\n{}",
            self.log()
        );
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if self.request("GET", "/").is_some() {
                return;
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "moto_server on port {} did not start ({exited:?}):\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends a body-less HTTP/1.1 request; the status code, or `None` if nothing answered.
    fn request(&self, method: &str, path: &str) -> Option<u16> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        // "HTTP/1.1 200 OK"
        response.split(' ').nth(1)?.parse().ok()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago (bound to port 0, then released).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}
