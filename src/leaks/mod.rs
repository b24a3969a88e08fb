//! Leaked-key reports (feature `leaks`): an endpoint in the format of GitHub's secret
//! scanning partner program that revokes (or disables) the keys found in public.
//!
//! keygate's keys carry a fixed prefix and a checksum (see [`key`](crate::key)), so a secret
//! scanner can find them with a precise expression and this endpoint can tell a real key from
//! a look-alike without a lookup. Register the format ([`token_pattern`]) and the endpoint
//! with the scanner; it then POSTs a signed JSON array of matches whenever one is pushed in public, and [`router`]:
//!
//! - checks the ECDSA P-256/SHA-256 signature of the raw body with the public key the
//!   `Github-Public-Key-Identifier` header names ([`PublicKeys`], [`ReportVerifier`]), and
//!   refuses anything else with 401 before reading the report;
//! - labels each token `true_positive` (a key of this service, proven by its secret) or
//!   `false_positive` ([`TokenLabel`], GitHub's feedback format);
//! - revokes each live key reported, or disables it for review ([`LeakAction`]), records the
//!   change in the [audit log](crate::audit) with the report's URL and source, and tells the
//!   application ([`LeakNotifier`]) so it can email the key's owner.
//!
//! ```
//! use std::sync::Arc;
//! use axum::Router;
//! use axum::body::Body;
//! use base64::Engine as _;
//! use http::{Request, StatusCode};
//! use keygate::leaks::{LeakConfig, PublicKeys, ReportVerifier};
//! use keygate::{KeyManager, KeyStatus, MemoryKeyStore, NewKey, Workspace};
//! use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
//! use p256::pkcs8::{EncodePublicKey, LineEnding};
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // The reporter's key pair; a service configures GitHub's published public keys instead.
//! let reporter = SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
//! let pem = reporter.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
//! let keys = PublicKeys::new().with_pem("key-1", &pem).unwrap();
//!
//! let store = Arc::new(MemoryKeyStore::new());
//! let leaked = store
//!     .create(NewKey::new("ci-pipeline".parse().unwrap(), "read:all".parse().unwrap()))
//!     .await
//!     .unwrap();
//! let app = Router::new().nest(
//!     "/github/leaks",
//!     keygate::leaks::router(store.clone(), LeakConfig::new(ReportVerifier::new(keys))),
//! );
//!
//! let report = serde_json::json!([{
//!     "token": leaked.plaintext.expose_secret(),
//!     "type": "keygate_api_key",
//!     "url": "https://github.com/octocat/hello/blob/abc/.env",
//!     "source": "content",
//! }])
//! .to_string();
//! let signature: DerSignature = reporter.sign(report.as_bytes());
//! let answer = app
//!     .oneshot(
//!         Request::post("/github/leaks")
//!             .header("github-public-key-identifier", "key-1")
//!             .header(
//!                 "github-public-key-signature",
//!                 base64::engine::general_purpose::STANDARD.encode(signature.as_bytes()),
//!             )
//!             .body(Body::from(report))
//!             .unwrap(),
//!     )
//!     .await
//!     .unwrap();
//! assert_eq!(answer.status(), StatusCode::OK);
//!
//! let info = store.info(&Workspace::default(), &leaked.info.id).await.unwrap();
//! assert_eq!(info.status_at(std::time::SystemTime::now()), KeyStatus::Revoked);
//! # });
//! ```

mod action;
mod config;
mod error;
mod notify;
mod pattern;
mod public_keys;
mod report;
mod router;
mod signature;
mod triage;

pub use action::LeakAction;
pub use config::{
    DEFAULT_DEADLINE, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_TOKENS, DEFAULT_REPORTER, LeakConfig,
};
pub use error::LeakError;
pub use notify::{LeakNotice, LeakNotifier};
pub use pattern::token_pattern;
pub use public_keys::{InvalidPublicKey, MAX_KEY_IDENTIFIER_LEN, PublicKeys};
pub use report::{Label, ReportedToken, TokenLabel};
pub use router::{router, router_with};
pub use signature::{KEY_IDENTIFIER_HEADER, ReportVerifier, SIGNATURE_HEADER, SignatureError};
