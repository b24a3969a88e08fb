//! [`server_config`]: the rustls server configuration a [`TlsListener`](super::TlsListener)
//! needs, on the `ring` provider.

use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{Error, ServerConfig};

/// A rustls server configuration from `cert_chain` (the server's certificate first, then its
/// intermediates) and the certificate's private key: rustls' safe default protocol versions
/// (TLS 1.3 and 1.2) and cipher suites of the `ring` provider, no client certificates, and
/// ALPN offering `h2` then `http/1.1`.
///
/// Key exchange is classical (X25519, P-256, P-384): the `ring` provider has no post-quantum
/// key exchange, which is why rustls deprecates it.
///
/// It uses the `ring` provider whatever provider is installed as the process default, so it
/// works beside crates that enable another one. Certificates and keys in PEM files load with
/// [`PemObject`](tokio_rustls::rustls::pki_types::pem::PemObject):
///
/// ```no_run
/// use keygate::transport::tls::rustls::pki_types::pem::PemObject;
/// use keygate::transport::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
/// use keygate::transport::tls::server_config;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let chain = CertificateDer::pem_file_iter("fullchain.pem")?.collect::<Result<Vec<_>, _>>()?;
/// let key = PrivateKeyDer::from_pem_file("privkey.pem")?;
/// let config = server_config(chain, key)?;
/// # let _ = config;
/// # Ok(())
/// # }
/// ```
///
/// An error means the key does not match the certificate or is of a kind `ring` cannot use.
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Error> {
    // rustls 0.23.48 deprecates the ring provider for its lack of post-quantum key exchange
    // (X25519MLKEM768): the connections it makes use classical key exchange (X25519, P-256,
    // P-384). It is kept for its build: the aws-lc-rs provider needs cmake and a long C build.
    #[allow(deprecated)]
    let provider = Arc::new(ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        let key = PrivateKeyDer::Pkcs8(other.serialize_der().into());
        assert!(server_config(vec![cert.cert.der().clone()], key).is_err());
    }

    #[test]
    fn the_configuration_offers_h2_then_http1() {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config = server_config(vec![cert.cert.der().clone()], key).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
