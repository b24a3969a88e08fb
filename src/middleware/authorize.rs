//! Stage 3, authorization: the key's scopes against the scope the request needs (from the
//! layer's [`ScopePolicy`](crate::ScopePolicy)). It runs before the limiter, so a 403 never
//! spends quota.

use crate::code::ErrorCode;
use crate::record::KeyRecord;
use crate::rejection::Rejection;
use crate::scope::Scope;

use super::pipeline::Pipeline;

impl<K, L, P, R> Pipeline<K, L, P, R> {
    /// `Ok` when `record`'s scopes grant `required` (or nothing is required).
    pub(crate) fn authorize(
        &self,
        record: &KeyRecord,
        required: Option<&Scope>,
        grpc: bool,
    ) -> Result<(), Rejection> {
        match required {
            Some(required) if !record.scopes.grants(required) => Err(self
                .reject(ErrorCode::InsufficientScope, grpc)
                .with_required_scope(required.clone())
                .with_key(record.id, record.name.clone())),
            _ => Ok(()),
        }
    }
}
