//! [`MissingApiKeyLayer`]: the answer when a route reads the key but no layer authenticated it.

use std::fmt;

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::respond::{ProblemBody, uncached_problem, uncached_trailers_only};

const DETAIL: &str = "No ApiKeyLayer ran for this route, so there is no authenticated API key";
const FIX: &str =
    "Add keygate's ApiKeyLayer in front of this route (Router::layer or Router::route_layer)";

/// The answer of [`RequireScope`](crate::RequireScope) (and of the axum extractor of
/// [`AuthenticatedKey`](crate::AuthenticatedKey)) when no [`ApiKeyLayer`](crate::ApiKeyLayer)
/// ran for the route: a configuration bug, answered with a 500 `application/problem+json`
/// whose `code` is `missing_api_key_layer` (or gRPC status 13 `INTERNAL` for gRPC requests),
/// with `Cache-Control: no-store`, and logged as an error. Never a panic, never a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MissingApiKeyLayer;

impl MissingApiKeyLayer {
    /// The answer, as gRPC status 13 when `grpc`, else as a problem.
    pub(crate) fn response(self, grpc: bool) -> Response<Bytes> {
        tracing::error!("{DETAIL}: add keygate's ApiKeyLayer in front of the route");
        let mut response = if grpc {
            uncached_trailers_only(13, DETAIL)
        } else {
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            let body = ProblemBody::new(status, None, DETAIL, "missing_api_key_layer")
                .string("fix", FIX)
                .finish();
            uncached_problem(status, body)
        };
        response.extensions_mut().insert(self);
        response
    }
}

impl fmt::Display for MissingApiKeyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(DETAIL)
    }
}

impl std::error::Error for MissingApiKeyLayer {}

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl axum::response::IntoResponse for MissingApiKeyLayer {
    fn into_response(self) -> axum::response::Response {
        self.response(false).map(axum::body::Body::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_problem_body_is_the_one_clients_always_got() {
        let response = MissingApiKeyLayer.response(false);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.body(),
            concat!(
                r#"{"type":"about:blank","title":"Internal Server Error","status":500,"#,
                r#""detail":"No ApiKeyLayer ran for this route, so there is no authenticated API key","#,
                r#""code":"missing_api_key_layer","#,
                r#""fix":"Add keygate's ApiKeyLayer in front of this route (Router::layer or Router::route_layer)"}"#
            )
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    #[test]
    fn the_grpc_answer_is_status_13_naming_the_layer() {
        let response = MissingApiKeyLayer.response(true);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["grpc-status"], "13");
        assert_eq!(response.headers()["grpc-message"], DETAIL);
        assert_eq!(response.headers()["content-type"], "application/grpc");
    }
}
