//! [`AdminCaller`]: the check every admin handler starts with.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::AdminError;
use crate::audit::Actor;
use crate::authenticated::AuthenticatedKey;
use crate::realm::Realm;
use crate::scope::Scope;

/// The caller of an admin route: a key granting `admin`, as `ApiKeyLayer` authenticated it.
///
/// Every admin handler takes this as its first argument, so no route can forget the check
/// whatever scope policy the layer runs: without the layer in front (no [`AuthenticatedKey`]
/// in the request) the answer is a 500 [`AdminError::MissingLayer`]; with a key lacking
/// `admin`, the layer's own 403 `insufficient_scope` with `scope="admin"`.
///
/// The 403's `WWW-Authenticate` challenge names the realm given to
/// [`router_with_realm`](super::router_with_realm) (`api` for [`router`](super::router)).
#[derive(Debug, Clone)]
pub struct AdminCaller(pub AuthenticatedKey);

impl AdminCaller {
    /// The caller as the [audit log](crate::audit) records it: its key's id and name.
    pub fn actor(&self) -> Actor {
        Actor::key(self.0.id(), self.0.name().clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let key = parts
            .extensions
            .get::<AuthenticatedKey>()
            .ok_or(AdminError::MissingLayer)?;
        if key.grants(&Scope::Admin) {
            Ok(Self(key.clone()))
        } else {
            Err(AdminError::NotAdmin {
                id: key.id(),
                name: key.name().clone(),
                realm: parts.extensions.get::<Realm>().cloned().unwrap_or_default(),
            })
        }
    }
}
