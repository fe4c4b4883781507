//! An HTTPS stand-in of WFM on loopback for `relayctl doctor`'s TLS check: rustls with the test
//! certificate of `tests/fixtures/tls/` (signed by `ca.pem`, for `127.0.0.1`), answering every
//! request `200` with an empty body and recording each request's head (method, target, headers)
//! and whether a body came with it. It runs on its own thread and runtime, so a test may block on
//! a child process (doctor) while the server answers.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A file of `tests/fixtures/tls/`.
pub fn tls_fixture(name: &str) -> PathBuf {
    PathBuf::from(format!(
        "{}/fixtures/tls/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The request line, e.g. `HEAD /events HTTP/1.1`.
    pub line: String,
    /// The header block (lower-cased names), without the request line.
    pub headers: String,
}

/// The running server (stops when the test process ends).
pub struct HttpsWfm {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// The TLS acceptor of the fixture's server certificate (`server.der`, for 127.0.0.1 and
/// localhost, signed by `ca.pem`).
pub fn acceptor() -> TlsAcceptor {
    let read = |n: &str| {
        let p = tls_fixture(n);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let cert = CertificateDer::from(read("server.der"));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(read("server.key.der")));
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("the fixture certificate and key match");
    TlsAcceptor::from(Arc::new(config))
}

async fn serve_one(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> io::Result<()> {
    let mut tls = acceptor.accept(tcp).await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tls.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, _) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let (line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    seen.lock().expect("lock").push(Seen {
        line: line.to_owned(),
        headers: headers.to_lowercase(),
    });
    tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await?;
    tls.shutdown().await
}

impl HttpsWfm {
    /// Binds a free loopback port and serves on a thread of its own.
    pub fn start() -> HttpsWfm {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        std_listener.set_nonblocking(true).expect("non-blocking");
        let addr = std_listener.local_addr().expect("local addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = seen.clone();
        let acceptor = acceptor();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("tokio listener");
                while let Ok((tcp, _)) = listener.accept().await {
                    // A failed handshake (the client did not trust the chain) ends that
                    // connection only.
                    tokio::spawn(serve_one(acceptor.clone(), tcp, shared.clone()));
                }
            });
        });
        HttpsWfm { addr, seen }
    }

    /// `https://127.0.0.1:<port>` + `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("https://{}{path_and_query}", self.addr)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}
