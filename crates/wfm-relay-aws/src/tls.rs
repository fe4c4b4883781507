//! One root store and one TLS configuration per process, shared by every client: the WFM client,
//! the token endpoint clients (reqwest, through [`reqwest_builder`]) and the AWS SDK clients
//! (SQS, S3, Secrets Manager, SSM, through [`sdk_http_client`], which
//! [`crate::aws::load_sdk_config`] installs).
//!
//! Before this module, every reqwest client loaded the platform roots itself
//! (rustls-platform-verifier reads the CA bundle and then each of the ~440 files under
//! `/etc/ssl/certs`), and the AWS SDK did it once more (rustls-native-certs): three full loads
//! before the first poll. Now the roots are read once, from one file
//! ([`select_root_source`]):
//!
//! 1. `SSL_CERT_FILE` when set (a PEM bundle; an unreadable or empty one is a start-up error
//!    naming the variable);
//! 2. else, when `SSL_CERT_DIR` is set, the platform's native store (rustls-native-certs, which
//!    reads that directory), so a directory of extra roots still works;
//! 3. else the first existing file of [`PLATFORM_BUNDLES`] (`/etc/pki/tls/certs/ca-bundle.crt`
//!    on Lambda's `provided.al2023`, `/etc/ssl/certs/ca-certificates.crt` on Debian / Ubuntu, …);
//! 4. else the native store (rustls-native-certs' own probing) as the documented fallback.
//!
//! The reqwest clients get clones of ONE `rustls::ClientConfig` (its verifier and root store
//! are behind `Arc`s, so a clone shares them). aws-smithy-http-client 1.x takes no
//! `rustls::ClientConfig` (its API is `tls::TlsContext` with a `tls::TrustStore` of PEM
//! certificates), so the SDK's HTTP client gets the same accepted roots as PEM, with the
//! platform's native roots switched off; it builds its rustls configuration from them when it
//! makes its connector (at the first request of a client, not at start-up).
//!
//! `relayctl doctor` can call [`root_store`] to report where the roots came from.

use aws_sdk_sqs::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use base64::Engine as _;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The CA bundles probed when neither `SSL_CERT_FILE` nor `SSL_CERT_DIR` is set, in order:
/// Amazon Linux 2023 / RHEL / Fedora (Lambda `provided.al2023`), Debian / Ubuntu / Alpine,
/// openSUSE, and macOS / the BSDs.
pub const PLATFORM_BUNDLES: [&str; 4] = [
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Where the process's root certificates come from ([`select_root_source`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// The PEM bundle named by `SSL_CERT_FILE`.
    EnvFile(PathBuf),
    /// A platform bundle of [`PLATFORM_BUNDLES`].
    Bundle(PathBuf),
    /// The platform's native store as rustls-native-certs loads it (`SSL_CERT_DIR` when set,
    /// else its own probing of the usual files and directories).
    Native,
}

impl std::fmt::Display for RootSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootSource::EnvFile(p) => write!(f, "SSL_CERT_FILE={}", p.display()),
            RootSource::Bundle(p) => write!(f, "{}", p.display()),
            RootSource::Native => f.write_str("the native store (rustls-native-certs)"),
        }
    }
}

/// Chooses the root source from the environment (`var`) and the file system (`exists`); pure,
/// so tests pass their own lookups. The order is in the module documentation.
pub fn select_root_source(
    var: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> RootSource {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    if let Some(file) = set("SSL_CERT_FILE") {
        return RootSource::EnvFile(PathBuf::from(file));
    }
    if set("SSL_CERT_DIR").is_some() {
        return RootSource::Native;
    }
    PLATFORM_BUNDLES
        .iter()
        .map(Path::new)
        .find(|p| exists(p))
        .map_or(RootSource::Native, |p| RootSource::Bundle(p.to_owned()))
}

/// The root certificates could not be loaded, or the TLS configuration not built. The message
/// names the source (and `SSL_CERT_FILE` when it came from there).
#[derive(Debug, Clone, thiserror::Error)]
#[error("TLS roots from {origin}: {message}")]
pub struct TlsError {
    /// Where the roots were read from.
    pub origin: String,
    /// What went wrong.
    pub message: String,
}

/// The roots of the process: the certificates accepted as trust anchors, and how many of the
/// source's certificates were not (a bundle may hold entries webpki cannot use).
#[derive(Debug)]
pub struct RootStore {
    /// Where they came from.
    pub source: RootSource,
    /// The trust anchors.
    pub store: Arc<RootCertStore>,
    /// The accepted certificates (DER), in source order.
    pub accepted: Vec<CertificateDer<'static>>,
    /// Certificates of the source that were not accepted (unparsable as a trust anchor).
    pub skipped: usize,
}

impl RootStore {
    /// The accepted certificates as one PEM document (for the AWS SDK's [`TrustStore`]).
    pub fn to_pem(&self) -> Vec<u8> {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut out = Vec::new();
        for der in &self.accepted {
            out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            let b64 = engine.encode(der.as_ref());
            for line in b64.as_bytes().chunks(64) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
        out
    }
}

/// Reads the certificates of `source` once and keeps those usable as trust anchors.
///
/// # Errors
/// [`TlsError`] when the file cannot be read, holds no PEM certificate, or none of its
/// certificates is usable.
pub fn load_root_store(source: &RootSource) -> Result<RootStore, TlsError> {
    let err = |message: String| TlsError {
        origin: source.to_string(),
        message,
    };
    let ders: Vec<CertificateDer<'static>> = match source {
        RootSource::EnvFile(path) | RootSource::Bundle(path) => {
            let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
            certificates_from_pem(&bytes).map_err(err)?
        }
        RootSource::Native => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                return Err(err(format!("no certificate found ({})", errors.join("; "))));
            }
            found.certs
        }
    };
    let (store, accepted, skipped) = anchors(ders);
    if accepted.is_empty() {
        return Err(err(format!(
            "none of its {skipped} certificates is usable as a trust anchor"
        )));
    }
    Ok(RootStore {
        source: source.clone(),
        store: Arc::new(store),
        accepted,
        skipped,
    })
}

/// The certificates of a PEM document (other PEM sections are ignored).
fn certificates_from_pem(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let ders = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM bundle: {e}"))?;
    if ders.is_empty() {
        return Err("holds no PEM certificate".to_owned());
    }
    Ok(ders)
}

/// Adds each certificate that parses as a trust anchor; returns the store, the accepted ones and
/// the count of the others.
fn anchors(
    ders: Vec<CertificateDer<'static>>,
) -> (RootCertStore, Vec<CertificateDer<'static>>, usize) {
    let mut store = RootCertStore::empty();
    let mut accepted = Vec::with_capacity(ders.len());
    let mut skipped = 0;
    for der in ders {
        if store.add(der.clone()).is_ok() {
            accepted.push(der);
        } else {
            skipped += 1;
        }
    }
    (store, accepted, skipped)
}

/// The process's TLS: the roots, the one rustls client configuration, the AWS SDK's TLS context.
#[derive(Debug)]
pub struct SharedTls {
    /// The roots, read once.
    pub roots: RootStore,
    /// The rustls client configuration (aws-lc-rs, TLS 1.2 and 1.3, no client certificate,
    /// ALPN `http/1.1`) every reqwest client of the process gets a clone of.
    pub client_config: Arc<rustls::ClientConfig>,
    /// The AWS SDK's TLS context on the same roots, made at the first [`sdk_http_client`] (a
    /// Lambda that makes no AWS call before its first invocation never pays for it). Kept
    /// instead of an HTTP client: a client's connection pool belongs to the Tokio runtime it
    /// first ran on, and a process (a test binary) may run many runtimes one after the other.
    sdk_tls: OnceLock<Result<TlsContext, TlsError>>,
}

impl SharedTls {
    /// Builds the rustls configuration over `roots` (no I/O; the SDK's TLS context follows at
    /// its first use).
    ///
    /// # Errors
    /// [`TlsError`] when rustls refuses the protocol versions.
    pub fn new(roots: RootStore) -> Result<Self, TlsError> {
        let err = |message: String| TlsError {
            origin: roots.source.to_string(),
            message,
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err(e.to_string()))?
            .with_root_certificates(Arc::clone(&roots.store))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(SharedTls {
            roots,
            client_config: Arc::new(config),
            sdk_tls: OnceLock::new(),
        })
    }

    /// The AWS SDK's TLS context on the same roots, made at the first call.
    ///
    /// # Errors
    /// [`TlsError`] (the same at every call) when the SDK refuses the trust store.
    fn sdk_tls(&self) -> Result<TlsContext, TlsError> {
        self.sdk_tls
            .get_or_init(|| {
                let trust = TrustStore::empty()
                    .with_native_roots(false)
                    .with_pem_certificate(self.roots.to_pem());
                TlsContext::builder()
                    .with_trust_store(trust)
                    .build()
                    .map_err(|e| TlsError {
                        origin: self.roots.source.to_string(),
                        message: e.to_string(),
                    })
            })
            .clone()
    }
}

static SHARED: OnceLock<Result<SharedTls, TlsError>> = OnceLock::new();

/// The process's TLS, loaded at the first call (roots chosen by [`select_root_source`] from the
/// real environment and file system) and shared by every later call.
///
/// # Errors
/// [`TlsError`] (the same one at every call) when the roots cannot be loaded.
pub fn shared() -> Result<&'static SharedTls, TlsError> {
    SHARED
        .get_or_init(|| {
            let source = select_root_source(|k| std::env::var(k).ok(), |p: &Path| p.is_file());
            SharedTls::new(load_root_store(&source)?)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The process's roots (see [`shared`]): for `relayctl doctor`'s TLS check and for tools that
/// report where the roots came from.
///
/// # Errors
/// [`TlsError`] when the roots cannot be loaded.
pub fn root_store() -> Result<&'static RootStore, TlsError> {
    shared().map(|s| &s.roots)
}

/// A reqwest client builder on the process's one rustls configuration.
///
/// # Errors
/// [`TlsError`] when the roots cannot be loaded.
pub fn reqwest_builder() -> Result<reqwest::ClientBuilder, TlsError> {
    let config = rustls::ClientConfig::clone(&shared()?.client_config);
    Ok(reqwest::Client::builder().tls_backend_preconfigured(config))
}

/// An AWS SDK HTTP client on the process's roots. Every SDK client built from one `SdkConfig`
/// shares it (its connectors and connection pool); a Lambda loads its `SdkConfig` once, so it has
/// one. A new client per call, not one per process: a pool belongs to the Tokio runtime it first
/// ran on, and a process may run several runtimes one after the other (tests do).
///
/// # Errors
/// [`TlsError`] when the roots cannot be loaded.
pub fn sdk_http_client() -> Result<SharedHttpClient, TlsError> {
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(shared()?.sdk_tls()?)
        .build_https())
}

/// An HTTP client could not be built: the roots could not be loaded, or reqwest refused.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// The process's roots could not be loaded.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// reqwest could not build a client.
    #[error("cannot build the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn select(vars: &[(&str, &str)], files: &[&str]) -> RootSource {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        select_root_source(
            |k| vars.get(k).cloned(),
            |p| files.iter().any(|f| Path::new(f) == p),
        )
    }

    #[test]
    fn ssl_cert_file_wins_even_when_missing() {
        assert_eq!(
            select(
                &[("SSL_CERT_FILE", "/tmp/ca.pem"), ("SSL_CERT_DIR", "/x")],
                &["/etc/pki/tls/certs/ca-bundle.crt"]
            ),
            RootSource::EnvFile(PathBuf::from("/tmp/ca.pem"))
        );
    }

    #[test]
    fn al2023_bundle_comes_before_debian() {
        assert_eq!(
            select(
                &[],
                &[
                    "/etc/ssl/certs/ca-certificates.crt",
                    "/etc/pki/tls/certs/ca-bundle.crt"
                ]
            ),
            RootSource::Bundle(PathBuf::from("/etc/pki/tls/certs/ca-bundle.crt"))
        );
        assert_eq!(
            select(&[], &["/etc/ssl/certs/ca-certificates.crt"]),
            RootSource::Bundle(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))
        );
        assert_eq!(
            select(&[], &["/etc/ssl/cert.pem"]),
            RootSource::Bundle(PathBuf::from("/etc/ssl/cert.pem"))
        );
    }

    #[test]
    fn empty_variables_are_unset_and_cert_dir_means_native() {
        assert_eq!(
            select(
                &[("SSL_CERT_FILE", "")],
                &["/etc/ssl/certs/ca-certificates.crt"]
            ),
            RootSource::Bundle(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))
        );
        assert_eq!(
            select(
                &[("SSL_CERT_DIR", "/opt/certs")],
                &["/etc/ssl/certs/ca-certificates.crt"]
            ),
            RootSource::Native
        );
        assert_eq!(select(&[], &[]), RootSource::Native);
    }

    #[test]
    fn a_missing_or_empty_file_is_an_error_naming_its_source() {
        let missing = RootSource::EnvFile(PathBuf::from("/nonexistent/ca.pem"));
        let e = load_root_store(&missing).expect_err("missing file");
        assert_eq!(e.origin, "SSL_CERT_FILE=/nonexistent/ca.pem");
        assert!(e.message.starts_with("cannot read"), "{}", e.message);
        assert_eq!(
            certificates_from_pem(b"no pem here\n").expect_err("empty"),
            "holds no PEM certificate"
        );
    }

    #[test]
    fn the_pem_round_trip_keeps_the_accepted_certificates() {
        let (bundle, _) = PLATFORM_BUNDLES
            .iter()
            .filter_map(|p| std::fs::read(p).ok().map(|b| (b, *p)))
            .next()
            .expect("a platform CA bundle on this machine");
        let ders = certificates_from_pem(&bundle).expect("bundle");
        let n = ders.len();
        let (store, accepted, skipped) = anchors(ders);
        assert_eq!(accepted.len() + skipped, n);
        assert_eq!(store.len(), accepted.len());
        let roots = RootStore {
            source: RootSource::Native,
            store: Arc::new(store),
            accepted,
            skipped,
        };
        let again = certificates_from_pem(&roots.to_pem()).expect("re-encoded");
        assert_eq!(again, roots.accepted);
        let shared = SharedTls::new(roots).expect("config");
        assert_eq!(
            shared.client_config.alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
    }
}
