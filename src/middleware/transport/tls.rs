//! HTTPS for axum: a rustls listener whose requests count as HTTPS, and the answer of the
//! plain-HTTP port (feature `tls`).
//!
//! | piece | what it does |
//! |---|---|
//! | [`server_config`] | a rustls [`ServerConfig`](rustls::ServerConfig) on the `ring` provider from a certificate chain and its key, offering HTTP/2 and HTTP/1.1 |
//! | [`TlsListener`] | an [`axum::serve::Listener`]: accepts TCP, runs the TLS handshakes concurrently, each under a timeout, and drops the ones that fail |
//! | [`SecureConnections`] | what `axum::serve` serves on a [`TlsListener`]: your router, with [`SecureTransport`](super::SecureTransport) and `ConnectInfo<SocketAddr>` in every request's extensions |
//! | [`MarkSecure`] | the same marking for one connection, for servers built on hyper directly |
//! | [`PlainHttp`] | the plain-HTTP port: 403 `https_required`, or a 308 to your canonical HTTPS URL; never a redirect for a request that carries a key (it crossed in clear: refused, and told to rotate the key) |
//!
//! The marker comes from the connection, never from the request: a request counts as HTTPS
//! because the server read it off a TLS connection it accepted. Nothing the client sends (an
//! `https://` request line, `X-Forwarded-Proto`, `Forwarded`, HTTP/2's `:scheme`) changes
//! that, and [`SecureConnections`] serves only a [`TlsListener`]: passing a plain
//! `TcpListener` to `axum::serve` with it does not compile.
//!
//! With `require_https(true)` on the layer, the same key gets 200 over HTTPS and 403
//! `https_required` over plain HTTP:
//!
//! ```
//! use std::net::SocketAddr;
//! use axum::{Router, routing::get};
//! use keygate::transport::tls::{PlainHttp, SecureConnections, TlsListener, rustls, server_config};
//! use keygate::{ApiKeyLayer, MemoryKeyStore, MemoryRateLimiter};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A self-signed certificate for the example; load yours from PEM files in production
//! // (`rustls::pki_types::pem::PemObject`).
//! let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
//! let config = server_config(
//!     vec![cert.cert.der().clone()],
//!     rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into()),
//! )?;
//!
//! let layer = ApiKeyLayer::builder(MemoryKeyStore::new(), MemoryRateLimiter::new())
//!     .require_https(true)
//!     .build();
//! let api = Router::new().route("/v1/records", get(|| async { "records" })).layer(layer);
//!
//! let tls = TlsListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)), config).await?;
//! let https_port = axum::serve::Listener::local_addr(&tls)?.port();
//! tokio::spawn(async move { axum::serve(tls, SecureConnections::new(api)).await });
//!
//! let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let redirect = PlainHttp::redirect_to("localhost", https_port)?;
//! tokio::spawn(async move {
//!     axum::serve(plain, Router::new().fallback_service(redirect)).await
//! });
//! # Ok(())
//! # }
//! ```

mod config;
mod listener;
mod plain_http;
mod secure;

pub use config::server_config;
pub use listener::TlsListener;
pub use plain_http::{InvalidHost, PlainHttp};
pub use secure::{MarkSecure, SecureConnections};
/// The rustls this module is built on (with its `ring` provider), for the certificate and
/// configuration types.
pub use tokio_rustls::rustls;
