//! HTTPS for real: the API over rustls on one port, and a plain-HTTP port that refuses every
//! request with 403 `https_required` (or, with `--redirect`, redirects requests without a key
//! with 308 to the HTTPS URL).
//!
//! ```text
//! cargo run --example https --features tls
//! cargo run --example https --features tls -- --https 127.0.0.1:8443 --http 127.0.0.1:8080 --host localhost --redirect
//! ```
//!
//! At start it makes a self-signed certificate for `--host` (rcgen), writes it as PEM next to
//! the system's temporary files for `curl --cacert`, prints the demo keys as
//! `key <name> <scopes> <plaintext>` lines (as the quickstart does), then curl commands. The
//! routes are the quickstart's records (`GET /v1/records` needs `read:all`); the layer
//! requires HTTPS, so the same key gets 200 over HTTPS and 403 `https_required` over plain
//! HTTP. A request that sends a key over plain HTTP is never redirected, even with
//! `--redirect`: it is refused and told to rotate the key, since the key crossed in clear.

#[path = "shared/demo_keys.rs"]
mod demo_keys;
#[path = "shared/product.rs"]
mod product;
#[path = "shared/records.rs"]
mod records;

use std::net::SocketAddr;

use axum::Router;
use keygate::transport::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use keygate::transport::tls::{PlainHttp, SecureConnections, TlsListener, server_config};
use keygate::{ApiKeyLayer, MemoryRateLimiter};

pub use demo_keys::DemoKey;

/// Where and how the example listens.
#[derive(Debug, Clone)]
pub struct Options {
    /// The HTTPS port's address.
    pub https: SocketAddr,
    /// The plain-HTTP port's address.
    pub http: SocketAddr,
    /// The canonical host: the certificate's name and the redirect's host.
    pub host: String,
    /// Redirect requests without a key to HTTPS (308) instead of refusing them (403).
    pub redirect: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            https: SocketAddr::from(([127, 0, 0, 1], 8443)),
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            host: "localhost".to_owned(),
            redirect: false,
        }
    }
}

/// The running example: both ports' addresses, the certificate to trust, and the demo keys.
pub struct Running {
    /// The HTTPS port.
    pub https: SocketAddr,
    /// The plain-HTTP port.
    pub http: SocketAddr,
    /// The self-signed certificate, PEM.
    pub certificate_pem: String,
    /// The demo keys.
    pub keys: Vec<DemoKey>,
    /// The API's routes behind the layer (what the HTTPS port serves).
    pub api: Router,
}

/// A self-signed certificate for `host`, its PEM, and the rustls configuration serving it.
fn self_signed(
    host: &str,
) -> Result<
    (
        String,
        std::sync::Arc<keygate::transport::tls::rustls::ServerConfig>,
    ),
    String,
> {
    let certified = rcgen::generate_simple_self_signed(vec![host.to_owned()])
        .map_err(|e| format!("cannot make a certificate for {host:?}: {e}"))?;
    let chain: Vec<CertificateDer<'static>> = vec![certified.cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = server_config(chain, key).map_err(|e| format!("TLS configuration: {e}"))?;
    Ok((certified.cert.pem(), config))
}

/// Binds both ports and serves them on the current runtime.
pub async fn start(options: Options) -> Result<Running, String> {
    let (certificate_pem, config) = self_signed(&options.host)?;
    let demo_keys::DemoKeys { store, keys } = demo_keys::create().await;
    let layer = ApiKeyLayer::builder(store, MemoryRateLimiter::new())
        .require_https(true)
        .default_quota(demo_keys::default_quota())
        .rejection_response(product::rejection())
        .build();
    let api = records::routes().layer(layer);

    let tls = TlsListener::bind(options.https, config)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.https))?;
    let https = axum::serve::Listener::local_addr(&tls)
        .map_err(|e| format!("the HTTPS port's address: {e}"))?;
    let plain_http = if options.redirect {
        PlainHttp::redirect_to(&options.host, https.port()).map_err(|e| e.to_string())?
    } else {
        PlainHttp::refuse()
    }
    .rejection_response(product::rejection());
    let plain = tokio::net::TcpListener::bind(options.http)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.http))?;
    let http = plain
        .local_addr()
        .map_err(|e| format!("the plain port's address: {e}"))?;

    let secure = SecureConnections::new(api.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(tls, secure).await {
            eprintln!("error: the HTTPS server failed: {e}");
        }
    });
    let refusing = Router::new().fallback_service(plain_http);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(plain, refusing).await {
            eprintln!("error: the plain-HTTP server failed: {e}");
        }
    });
    Ok(Running {
        https,
        http,
        certificate_pem,
        keys,
        api,
    })
}

/// Reads `--https ADDR`, `--http ADDR`, `--host NAME` and `--redirect`.
fn parse_options() -> Result<Options, String> {
    let defaults = Options::default();
    let usage = format!(
        "usage: https [--https HOST:PORT] [--http HOST:PORT] [--host NAME] [--redirect]   (defaults {}, {}, {})",
        defaults.https, defaults.http, defaults.host
    );
    let mut options = defaults;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--https" | "--http" => {
                let text = value(&arg)?;
                let addr = text
                    .parse()
                    .map_err(|e| format!("{arg} {text:?} is not HOST:PORT ({e})"))?;
                if arg == "--https" {
                    options.https = addr;
                } else {
                    options.http = addr;
                }
            }
            "--host" => options.host = value("--host")?,
            "--redirect" => options.redirect = true,
            "-h" | "--help" => {
                println!("{usage}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}; {usage}")),
        }
    }
    Ok(options)
}

#[allow(dead_code)]
#[tokio::main]
async fn main() {
    let started = match parse_options() {
        Ok(options) => start(options.clone())
            .await
            .map(|running| (options, running)),
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let (options, running) = started.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        std::process::exit(1);
    });
    let ca = std::env::temp_dir().join(format!("keygate-https-{}.pem", running.https.port()));
    if let Err(e) = std::fs::write(&ca, &running.certificate_pem) {
        eprintln!(
            "error: cannot write the certificate to {}: {e}",
            ca.display()
        );
        std::process::exit(1);
    }
    demo_keys::print(&running.keys);
    let dev = demo_keys::plaintext(&running.keys, "local-dev");
    let https = format!("https://{}:{}", options.host, running.https.port());
    let http = format!("http://{}", running.http);
    let plain_answer = if options.redirect {
        "308 to HTTPS"
    } else {
        "403 https_required"
    };
    println!();
    println!(
        "HTTPS on {https} (self-signed; certificate in {}).",
        ca.display()
    );
    println!("Plain HTTP on {http}: {plain_answer}. Try:");
    println!(
        "  curl -i --cacert {} {https}/v1/records -H 'Authorization: Bearer {dev}'   # 200",
        ca.display()
    );
    println!("  curl -i {http}/v1/records   # {plain_answer}");
    println!(
        "  curl -i {http}/v1/records -H 'Authorization: Bearer {dev}'   # 403 https_required: the key crossed in clear, rotate it"
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: waiting for Ctrl-C: {e}");
        std::process::exit(1);
    }
}
