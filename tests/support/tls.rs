//! TLS on loopback for the tests that check which CA roots a client trusts.
//!
//! - [`TestPki`]: a CA root and a server certificate for `127.0.0.1` (and `localhost`) that it signs, both
//!   generated at run time (rcgen): nothing secret is kept in the repository, and no other test shares them.
//! - [`TlsProxy`]: a TLS-terminating proxy on `127.0.0.1` serving that certificate and forwarding each
//!   connection to a plain TCP server (the Route53 emulator), counting the handshakes that succeed and fail.
//!
//! rustls with aws-lc-rs, the daemon's own TLS stack.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// A CA root and a server certificate it signed for `127.0.0.1` and `localhost`.
pub struct TestPki {
    root_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
}

impl TestPki {
    /// Generates a fresh root and server certificate (ECDSA P-256).
    pub fn generate() -> TestPki {
        let mut root = CertificateParams::new(Vec::<String>::new()).expect("root parameters");
        root.distinguished_name
            .push(DnType::CommonName, "route53-registrator test root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root = CertifiedIssuer::self_signed(root, KeyPair::generate().expect("root key"))
            .expect("self-signed root");

        let mut server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
            .expect("server parameters");
        server
            .distinguished_name
            .push(DnType::CommonName, "route53-registrator test server");
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().expect("server key");
        let server_cert = server
            .signed_by(&server_key, &root)
            .expect("server certificate");

        TestPki {
            root_pem: root.pem(),
            server_chain: vec![server_cert.der().clone()],
            server_key: server_key.serialize_der(),
        }
    }

    /// The root's certificate in PEM, to add to a CA bundle.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// A rustls server configuration presenting the server certificate.
    fn server_config(&self) -> ServerConfig {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .expect("server certificate and key")
    }
}

/// A TLS proxy on `127.0.0.1:PORT` in front of a plain TCP server; stopped on drop.
pub struct TlsProxy {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    refused: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TlsProxy {
    /// Starts the proxy: TLS with `pki`'s server certificate, each connection forwarded to `upstream`.
    pub fn start(pki: &TestPki, upstream: SocketAddr) -> TlsProxy {
        let acceptor = TlsAcceptor::from(Arc::new(pki.server_config()));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the TLS proxy");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("the proxy's address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (counted, errors) = (accepted.clone(), refused.clone());
        let thread = std::thread::Builder::new()
            .name("tls-proxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the proxy's runtime");
                runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("the proxy's listener");
                    loop {
                        let client = tokio::select! {
                            _ = &mut stopped => return,
                            accepted = listener.accept() => match accepted {
                                Ok((client, _)) => client,
                                Err(_) => continue,
                            },
                        };
                        let (acceptor, counted, errors) =
                            (acceptor.clone(), counted.clone(), errors.clone());
                        tokio::spawn(async move {
                            let mut tls = match acceptor.accept(client).await {
                                Ok(tls) => tls,
                                Err(e) => {
                                    errors.lock().unwrap().push(e.to_string());
                                    return;
                                }
                            };
                            counted.fetch_add(1, Ordering::SeqCst);
                            if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                            }
                        });
                    }
                });
            })
            .expect("spawn the TLS proxy");
        TlsProxy {
            address,
            accepted,
            refused,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `https://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.address)
    }

    /// How many TLS handshakes succeeded (each connection forwarded).
    pub fn handshakes(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Why the handshakes that failed failed, as rustls said (the client's alert, for one).
    pub fn failed_handshakes(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
