//! The product's own wording for the error table's *Fix* column: where its users manage keys
//! (Settings → API Keys) and read their plan's limits (the Rate Limits page). keygate's
//! defaults name no screen; a service says where its own are.

use keygate::ErrorCode;
use keygate::respond::DefaultRejection;

/// Problem+json answers with the product documentation's fixes for 403 and 429.
pub fn rejection() -> DefaultRejection {
    DefaultRejection::new()
        .fix(
            ErrorCode::InsufficientScope,
            "Open Settings → API Keys, edit the key, and add the necessary scope",
        )
        .fix(
            ErrorCode::RateLimited,
            "Back off and retry after the number of seconds indicated in the Retry-After \
             response header; review the Rate Limits page for per-plan limits",
        )
}
