//! A small hostile HTTP server on 127.0.0.1: it answers chosen requests the way a misbehaving
//! or malicious server would (endless bodies, absurd headers, redirects, HTML) and forwards every
//! other request to the sandbox, optionally rewriting the answer. Plain HTTP/1.1, one request per
//! connection, so each misbehaviour is exactly what the client sees.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do with one request.
pub enum Act {
    /// Forward to the sandbox unchanged.
    Forward,
    /// Forward, then change the answer: the body text and the headers to send.
    Rewrite(fn(String) -> String, fn(&mut Vec<(String, String)>)),
    /// Answer with this status, these headers and this body.
    Answer(u16, Vec<(String, String)>, Vec<u8>),
    /// `200 application/json`, chunked, never ending (until the client hangs up).
    Endless,
    /// Declare this `Content-Length`, send a little, then stall until the client hangs up.
    Declared(u64),
}

type Rule = dyn Fn(&str) -> Act + Send + Sync;

/// What [`Act::Rewrite`] changes: the body, and the headers.
type Rewriters = (fn(String) -> String, fn(&mut Vec<(String, String)>));

/// A running hostile server.
pub struct Hostile {
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Hostile {
    /// Starts a server forwarding to `sandbox` (a base URL) except where `rule` (given the path
    /// and query) says otherwise.
    pub async fn start(
        sandbox: String,
        rule: impl Fn(&str) -> Act + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let rule: Arc<Rule> = Arc::new(rule);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let shared = (Arc::clone(&log), sandbox);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, sandbox) = (Arc::clone(&shared.0), shared.1.clone());
                let (rule, http) = (Arc::clone(&rule), http.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &sandbox, &*rule, &http, &log).await;
                });
            }
        });
        Self { base, log }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// Requests received (path and query), in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Requests received whose path starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

async fn serve(
    mut stream: TcpStream,
    sandbox: &str,
    rule: &Rule,
    http: &reqwest::Client,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let mut lines = head.lines();
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    log.lock().unwrap().push(target.clone());
    match rule(&target) {
        Act::Forward => forward(&mut stream, sandbox, &target, &headers, http, None).await,
        Act::Rewrite(body, head) => {
            forward(
                &mut stream,
                sandbox,
                &target,
                &headers,
                http,
                Some((body, head)),
            )
            .await
        }
        Act::Answer(status, headers, body) => write(&mut stream, status, &headers, &body).await,
        Act::Endless => endless(&mut stream).await,
        Act::Declared(len) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n{{\"patients\":["
            );
            stream.write_all(head.as_bytes()).await?;
            let mut sink = [0u8; 64];
            let _ = stream.read(&mut sink).await;
            Ok(())
        }
    }
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65_536 {
        let n = stream.read(&mut byte).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

async fn forward(
    stream: &mut TcpStream,
    sandbox: &str,
    target: &str,
    headers: &[(String, String)],
    http: &reqwest::Client,
    rewrite: Option<Rewriters>,
) -> std::io::Result<()> {
    let mut request = http.get(format!("{sandbox}{target}"));
    for (k, v) in headers {
        if k == "authorization" || k == "user-agent" {
            request = request.header(k.as_str(), v.as_str());
        }
    }
    let Ok(answer) = request.send().await else {
        return write(stream, 502, &[], b"bad gateway").await;
    };
    let status = answer.status().as_u16();
    let mut kept: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            k.starts_with("x-") || k == "content-type" || k == "retry-after"
        })
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let mut body = answer.bytes().await.unwrap_or_default().to_vec();
    if let Some((change_body, change_headers)) = rewrite {
        body = change_body(String::from_utf8_lossy(&body).into_owned()).into_bytes();
        change_headers(&mut kept);
    }
    write(stream, status, &kept, &body).await
}

async fn write(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

/// An endless chunked JSON array of zeros, written as fast as the client reads.
async fn endless(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )
        .await?;
    let start = b"{\"patients\":[";
    stream
        .write_all(format!("{:x}\r\n", start.len()).as_bytes())
        .await?;
    stream.write_all(start).await?;
    stream.write_all(b"\r\n").await?;
    let chunk = b"0,".repeat(32 * 1024);
    let framed = [
        format!("{:x}\r\n", chunk.len()).into_bytes(),
        chunk,
        b"\r\n".to_vec(),
    ]
    .concat();
    loop {
        stream.write_all(&framed).await?;
    }
}

/// A header list from pairs.
pub fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
