//! [`MissingApiKeyLayer`]: the answer when a route reads the key but no layer authenticated it.

use std::fmt;

use axum::response::IntoResponse;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

const DETAIL: &str = "No ApiKeyLayer ran for this route, so there is no authenticated API key";

const PROBLEM: &str = concat!(
    r#"{"type":"about:blank","title":"Internal Server Error","status":500,"#,
    r#""detail":"No ApiKeyLayer ran for this route, so there is no authenticated API key","#,
    r#""code":"missing_api_key_layer","#,
    r#""fix":"Add keygate's ApiKeyLayer in front of this route (Router::layer or Router::route_layer)"}"#
);

/// The rejection of the [`AuthenticatedKey`](crate::AuthenticatedKey) extractor and of
/// [`RequireScope`](super::RequireScope) when no [`ApiKeyLayer`](crate::ApiKeyLayer) ran for
/// the route: a configuration bug, answered with a 500 `application/problem+json` whose
/// `code` is `missing_api_key_layer` (or gRPC status 13 `INTERNAL` for gRPC requests), and
/// logged as an error. Never a panic, never a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MissingApiKeyLayer;

impl MissingApiKeyLayer {
    /// The answer, as gRPC status 13 when `grpc`, else as a problem.
    pub(crate) fn response(self, grpc: bool) -> Response<Bytes> {
        tracing::error!("{DETAIL}: add keygate's ApiKeyLayer in front of the route");
        let mut response = if grpc {
            let mut response = Response::new(Bytes::new());
            let headers = response.headers_mut();
            headers.insert("grpc-status", HeaderValue::from(13u16));
            headers.insert("grpc-message", HeaderValue::from_static(DETAIL));
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
            response
        } else {
            let mut response = Response::new(Bytes::from_static(PROBLEM.as_bytes()));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
            response
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

impl IntoResponse for MissingApiKeyLayer {
    fn into_response(self) -> axum::response::Response {
        self.response(false).map(axum::body::Body::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_problem_body_is_json_naming_the_layer() {
        let json: serde_json::Value = serde_json::from_str(PROBLEM).unwrap();
        assert_eq!(json["status"], 500);
        assert_eq!(json["code"], "missing_api_key_layer");
        assert_eq!(json["detail"], DETAIL);
        assert!(json["fix"].as_str().unwrap().contains("ApiKeyLayer"));
    }
}
