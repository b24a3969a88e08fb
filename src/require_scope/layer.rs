//! [`RequireScopeLayer`]: the layer and its settings.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::RequireScope;
use crate::realm::{InvalidRealm, Realm};
use crate::respond::{DefaultRejection, RejectionResponder};
use crate::scope::Scope;

/// What every [`RequireScope`] of one layer shares.
pub(super) struct Requirement<R> {
    pub(super) scope: Scope,
    pub(super) realm: Realm,
    pub(super) responder: R,
}

/// A route layer: requests to the route need `scope`, besides whatever the
/// [`ApiKeyLayer`](crate::ApiKeyLayer) in front of it asked for.
///
/// A key without the scope gets the layer's own answer: 403 `insufficient_scope`
/// (`application/problem+json`, `WWW-Authenticate: Bearer realm="api",
/// error="insufficient_scope", scope="admin"`), or gRPC status 7 `PERMISSION_DENIED` for gRPC
/// requests. Give it the same [`realm`](Self::realm) and
/// [`rejection_response`](Self::rejection_response) as the layer if you changed those.
///
/// It must sit inside the `ApiKeyLayer` (in axum: `.route_layer(..)` on the route, with the
/// `ApiKeyLayer` added by `Router::layer` or `Router::route_layer`); without one it answers
/// 500 [`MissingApiKeyLayer`](crate::MissingApiKeyLayer). The refusal carries its
/// [`Rejection`](crate::Rejection), from which the `ApiKeyLayer` learns to give back the unit
/// its limiter counted: a 403 spends no quota.
///
/// ```
/// use axum::{routing::delete, Router};
/// use keygate::{RequireScopeLayer, Scope};
///
/// let app: Router = Router::new().route(
///     "/v1/records/{id}",
///     delete(|| async { "deleted" }).route_layer(RequireScopeLayer::new(Scope::Admin)),
/// );
/// # let _ = app;
/// ```
pub struct RequireScopeLayer<R = DefaultRejection> {
    requirement: Arc<Requirement<R>>,
}

impl RequireScopeLayer {
    /// Requests need `scope`; refusals use the default realm (`api`) and response.
    pub fn new(scope: Scope) -> Self {
        Self {
            requirement: Arc::new(Requirement {
                scope,
                realm: Realm::default(),
                responder: DefaultRejection::new(),
            }),
        }
    }
}

impl<R: RejectionResponder> RequireScopeLayer<R> {
    fn rebuild<R2>(self, realm: Realm, responder: R2) -> RequireScopeLayer<R2> {
        RequireScopeLayer {
            requirement: Arc::new(Requirement {
                scope: self.requirement.scope.clone(),
                realm,
                responder,
            }),
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenge (the layer's, if you set one there).
    pub fn realm(self, realm: &str) -> Result<Self, InvalidRealm>
    where
        R: Clone,
    {
        Ok(self.with_realm(Realm::new(realm)?))
    }

    /// The same, with a realm validated already.
    pub fn with_realm(self, realm: Realm) -> Self
    where
        R: Clone,
    {
        let responder = self.requirement.responder.clone();
        self.rebuild(realm, responder)
    }

    /// Replaces the response (any `Fn(&Rejection) -> Response<Bytes>`), as
    /// [`ApiKeyLayerBuilder::rejection_response`](crate::ApiKeyLayerBuilder::rejection_response)
    /// does for the layer.
    pub fn rejection_response<R2: RejectionResponder>(
        self,
        responder: R2,
    ) -> RequireScopeLayer<R2> {
        let realm = self.requirement.realm.clone();
        self.rebuild(realm, responder)
    }

    /// The scope the route needs.
    pub fn scope(&self) -> &Scope {
        &self.requirement.scope
    }
}

impl<R> Clone for RequireScopeLayer<R> {
    fn clone(&self) -> Self {
        Self {
            requirement: Arc::clone(&self.requirement),
        }
    }
}

impl<R> fmt::Debug for RequireScopeLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireScopeLayer")
            .field("scope", &self.requirement.scope)
            .field("realm", &self.requirement.realm)
            .finish_non_exhaustive()
    }
}

impl<S, R> Layer<S> for RequireScopeLayer<R> {
    type Service = RequireScope<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireScope::new(inner, Arc::clone(&self.requirement))
    }
}
