//! HTTPS and bearer-token authentication for the fake API server, the way a pod reaches the
//! real one through its service account: a certificate authority generated per fake (its
//! certificate is what the service account's `ca.crt` holds), a serving certificate for
//! `127.0.0.1`, `localhost` and `kubernetes.default.svc` signed by it, and one accepted token.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA generated for one test server and a serving certificate it signed.
#[derive(Clone)]
pub struct TestCertificates {
    /// PEM of the CA certificate: what a client is told to trust.
    pub ca_pem: String,
    /// PEM of the serving certificate.
    pub cert_pem: String,
    /// PEM (PKCS#8) of the serving certificate's private key.
    pub key_pem: String,
    cert_der: rustls_pki_types::CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for TestCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCertificates").finish_non_exhaustive()
    }
}

/// A fresh CA named `ca_name` and a serving certificate for `names` (host names or IP
/// addresses) signed by it. Panics on failure: only tests and demos use it.
pub fn test_certificates(ca_name: &str, names: &[&str]) -> TestCertificates {
    let ca_key = KeyPair::generate().unwrap_or_else(|err| panic!("CA key: {err}"));
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|err| panic!("CA: {err}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)
        .unwrap_or_else(|err| panic!("self-signing the CA: {err}"));
    let server_key = KeyPair::generate().unwrap_or_else(|err| panic!("server key: {err}"));
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .unwrap_or_else(|err| panic!("server certificate: {err}"));
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("server"),
    );
    let certificate = params
        .signed_by(&server_key, &ca)
        .unwrap_or_else(|err| panic!("signing the server certificate: {err}"));
    TestCertificates {
        ca_pem: ca.pem(),
        cert_pem: certificate.pem(),
        key_pem: server_key.serialize_pem(),
        cert_der: certificate.der().clone(),
        key_der: server_key.serialize_der(),
    }
}

/// The generated authority and the server configuration that presents its certificate.
pub(crate) struct Authority {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

/// A fresh CA and the API server's certificate. Panics on failure: only tests and demos
/// start fakes.
pub(crate) fn authority() -> Authority {
    let certificates = test_certificates(
        "storeflow-fake-cluster-ca",
        &["127.0.0.1", "localhost", "kubernetes.default.svc"],
    );
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certificates.key_der.clone()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|err| panic!("TLS versions: {err}"))
        .with_no_client_auth()
        .with_single_cert(vec![certificates.cert_der.clone()], key)
        .unwrap_or_else(|err| panic!("TLS server configuration: {err}"));
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Authority {
        ca_pem: certificates.ca_pem,
        server_config: Arc::new(server_config),
    }
}

/// Serves `app` over TLS on `listener`, HTTP/1.1 with upgrades (exec uses WebSocket).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    config: Arc<rustls::ServerConfig>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            // Out of descriptors, say: do not spin.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A client that does not trust the CA aborts the handshake; nothing to serve.
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Refuses every API request without `Authorization: Bearer <token>` with the API server's
/// 401 `Status`. The `/fake/` control interface is not part of the API and stays open.
pub(crate) fn require_token(app: Router, token: String) -> Router {
    let expected = format!("Bearer {token}");
    app.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let authorized = request.uri().path().starts_with("/fake/")
                || request
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    == Some(expected.as_str());
            async move {
                if authorized {
                    next.run(request).await
                } else {
                    unauthorized()
                }
            }
        },
    ))
}

fn unauthorized() -> Response {
    crate::status_error(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        "Unauthorized".into(),
    )
}
