//! One root store per process (issue 14 item 5, `wfm_relay_aws::tls`): the forwarder binary
//! delivers over HTTPS to a WFM endpoint whose certificate chains only to the test CA named by
//! `SSL_CERT_FILE` (tests/fixtures/tls), through the process's one rustls configuration; an
//! `SSL_CERT_FILE` that cannot be read fails start-up, naming the variable.
//!
//! The HTTPS endpoint is a TLS front (tokio-rustls, the fixture's server certificate for
//! 127.0.0.1) that passes the decrypted bytes on to the scripted WFM server.

use crate::lambda_process::forwarder_binary;
use crate::support::*;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use wfm_relay_local::runtime_api::RuntimeApi;

/// A TLS listener on 127.0.0.1:0 in front of `backend` (plain HTTP); returns its address.
async fn tls_front(backend: SocketAddr) -> SocketAddr {
    let acceptor = crate::support::https::acceptor();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_forwarder_delivers_over_https_with_the_roots_of_ssl_cert_file() {
    let stack = Stack::create(StackOptions::default()).await;
    let wfm = wfm(&[200]).await;
    let front = tls_front(wfm.addr()).await;
    let url = format!("https://127.0.0.1:{}/api/status/update", front.port());
    let ca = crate::support::https::tls_fixture("ca.pem")
        .display()
        .to_string();
    let env: Vec<(String, String)> = stack
        .env(&url, &[("SSL_CERT_FILE", ca.as_str())])
        .into_iter()
        .collect();
    let api = RuntimeApi::start().await.expect("runtime API");
    let log = std::env::temp_dir().join(format!("{}.log", unique("forwarder-tls")));
    let _proc = api
        .spawn_function(&forwarder_binary(), "wfm-relay-forwarder", &env, Some(&log))
        .expect("spawn");
    let presence = fixture("presence-break.json").trim_ascii_end().to_vec();
    assert_eq!(
        invoke_json(&api, presence.clone()).await,
        json!({"outcome": "delivered"})
    );
    let requests = wfm.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body, presence);
}

#[tokio::test]
async fn an_unreadable_ssl_cert_file_fails_start_up_naming_it() {
    let stack = Stack::create(StackOptions::default()).await;
    let env: Vec<(String, String)> = stack
        .env(
            "https://127.0.0.1:9/api/status/update",
            &[("SSL_CERT_FILE", "/nonexistent/wfm-relay-ca.pem")],
        )
        .into_iter()
        .collect();
    let api = RuntimeApi::start().await.expect("runtime API");
    let log = std::env::temp_dir().join(format!("{}.log", unique("forwarder-tls-bad")));
    let mut proc = api
        .spawn_function(&forwarder_binary(), "wfm-relay-forwarder", &env, Some(&log))
        .expect("spawn");
    let mut status = None;
    for _ in 0..300 {
        status = proc.try_wait().expect("try_wait");
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.expect("the forwarder exits when its roots cannot be read");
    assert!(!status.success(), "{status}");
    let text = std::fs::read_to_string(&log).expect("log");
    let line = text
        .lines()
        .find(|l| l.contains("start-up failed"))
        .unwrap_or_else(|| panic!("no start-up error in {text}"));
    assert!(
        line.contains("TLS roots from SSL_CERT_FILE=/nonexistent/wfm-relay-ca.pem: cannot read"),
        "{line}"
    );
}
