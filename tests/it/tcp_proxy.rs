//! A loopback TCP proxy in front of the S3 test server that a test can cut, restore, or turn
//! into an S3 endpoint that rejects every credential, while the server behind it keeps its data.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const FORWARD: u8 = 0;
const CUT: u8 = 1;
const FORBIDDEN: u8 = 2;

/// The proxy; dropped with the test's runtime.
pub struct TcpProxy {
    port: u16,
    mode: Arc<AtomicU8>,
}

impl TcpProxy {
    /// Starts forwarding 127.0.0.1:<free port> to `target` (`host:port`).
    pub async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(FORWARD));
        let m = mode.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                match m.load(Ordering::SeqCst) {
                    CUT => drop(inbound),
                    FORBIDDEN => {
                        tokio::spawn(async move {
                            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidAccessKeyId</Code>\
                                <Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>";
                            let head = format!(
                                "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let mut buf = [0u8; 4096];
                            let _ = tokio::time::timeout(
                                std::time::Duration::from_millis(200),
                                tokio::io::AsyncReadExt::read(&mut inbound, &mut buf),
                            )
                            .await;
                            let _ = inbound.write_all(head.as_bytes()).await;
                            let _ = inbound.write_all(body.as_bytes()).await;
                        });
                    }
                    _ => {
                        tokio::spawn(async move {
                            if let Ok(mut outbound) = TcpStream::connect(target).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound)
                                    .await;
                            }
                        });
                    }
                }
            }
        });
        Self { port, mode }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// New connections are closed at once (open ones live on until they end).
    pub fn cut(&self) {
        self.mode.store(CUT, Ordering::SeqCst);
    }

    /// Forward again.
    pub fn restore(&self) {
        self.mode.store(FORWARD, Ordering::SeqCst);
    }

    /// Answer every request with S3's 403 `InvalidAccessKeyId`.
    pub fn forbid(&self) {
        self.mode.store(FORBIDDEN, Ordering::SeqCst);
    }
}
