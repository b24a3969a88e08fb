//! [`AuthenticatedKey`] as an axum extractor, plain and optional.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::authenticated::AuthenticatedKey;
use crate::require_scope::MissingApiKeyLayer;

/// The key the [`ApiKeyLayer`](crate::ApiKeyLayer) authenticated. Without the layer in front
/// of the route this is a server bug, answered with a 500 [`MissingApiKeyLayer`] problem.
impl<S: Send + Sync> FromRequestParts<S> for AuthenticatedKey {
    type Rejection = MissingApiKeyLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AuthenticatedKey>()
            .cloned()
            .ok_or(MissingApiKeyLayer)
    }
}

/// `Option<AuthenticatedKey>`: the key, or `None` when no layer authenticated one (a handler
/// shared by protected and public routes).
impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthenticatedKey {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<AuthenticatedKey>().cloned())
    }
}
