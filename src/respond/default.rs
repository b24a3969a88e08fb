//! [`DefaultRejection`]: problem+json or a gRPC status, each rendered once and then cloned.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::RejectionResponder;
use super::grpc;
use super::problem::{self, problem_response};
use crate::code::ErrorCode;
use crate::plan::{LimitName, PlanName};
use crate::realm::Realm;
use crate::rejection::Rejection;
use crate::scope::Scope;

/// The default answer: `application/problem+json` (RFC 9457) for HTTP requests, a
/// trailers-only gRPC status for gRPC requests.
///
/// A problem body looks like this:
///
/// ```json
/// {"type":"about:blank","title":"Forbidden","status":403,
///  "detail":"The key is valid but lacks the scope required for this endpoint",
///  "code":"insufficient_scope","reason":"The API key lacks the scope this endpoint needs",
///  "fix":"Open Settings → API Keys, edit the key, and add the necessary scope (write:all)",
///  "required_scope":"write:all"}
/// ```
///
/// `type` is `about:blank` (so `title` is the HTTP status phrase), unless
/// [`DefaultRejection::with_type_base`] sets a documentation URL, to which the `code` is
/// appended. `fix` is [`ErrorCode::fix`] unless [`DefaultRejection::fix`] gives the row a text
/// of your product's own:
///
/// ```
/// use keygate::ErrorCode;
/// use keygate::respond::DefaultRejection;
///
/// let responder = DefaultRejection::new()
///     .fix(
///         ErrorCode::InsufficientScope,
///         "Open Settings → API Keys, edit the key, and add the necessary scope",
///     )
///     .fix(
///         ErrorCode::RateLimited,
///         "Back off and retry after the number of seconds indicated in the Retry-After \
///          response header; review the Rate Limits page for per-plan limits",
///     );
/// # let _ = responder;
/// ```
///
/// Its answers carry every header the error table promises (`WWW-Authenticate`,
/// `Retry-After`, `Cache-Control: no-store`) except the rate-limit headers, which the layer
/// writes in the style it was given. Each answer (row, reason, protocol, realm, required
/// scope) is rendered the first time it is given and kept: later ones clone it (reference
/// counts) and write only the retry delay. Clones of a responder share what it rendered.
#[derive(Clone, Default)]
pub struct DefaultRejection {
    type_base: Option<String>,
    fixes: Vec<(ErrorCode, Cow<'static, str>)>,
    rendered: Arc<Rendered>,
}

impl fmt::Debug for DefaultRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultRejection")
            .field("type_base", &self.type_base)
            .field("fixes", &self.fixes)
            .finish_non_exhaustive()
    }
}

impl DefaultRejection {
    /// The default responder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Problem `type` URIs become `base` followed by the code, e.g.
    /// `https://docs.example.com/errors/` → `https://docs.example.com/errors/rate_limited`.
    pub fn with_type_base(mut self, base: impl Into<String>) -> Self {
        self.type_base = Some(base.into());
        self.rendered = Arc::default();
        self
    }

    /// The `fix` text of `code`'s row, instead of the neutral default ([`ErrorCode::fix`]).
    /// For `insufficient_scope` the answer adds the missing scope after it, e.g.
    /// `… (write:all)`. Setting a row again replaces its text.
    pub fn fix(mut self, code: ErrorCode, text: impl Into<Cow<'static, str>>) -> Self {
        let text = text.into();
        match self.fixes.iter_mut().find(|(c, _)| *c == code) {
            Some(slot) => slot.1 = text,
            None => self.fixes.push((code, text)),
        }
        self.rendered = Arc::default();
        self
    }

    /// The `fix` text this responder gives `code`'s row.
    fn fix_text(&self, code: ErrorCode) -> &str {
        self.fixes
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code.fix(), |(_, text)| text)
    }

    /// Renders the parts of `rejection`'s answer that do not change from one request to the
    /// next.
    fn render(&self, rejection: &Rejection) -> Answer {
        let (parts, body) = if rejection.is_grpc() {
            let (status, message) =
                grpc::status_and_message(rejection.code().grpc_status(), &grpc::message(rejection));
            let (parts, body) = grpc::trailers_only(status, message).into_parts();
            (parts, Body::Whole(body))
        } else {
            let fix = rejection.fix_with(self.fix_text(rejection.code()));
            let body = problem::rejection_body(rejection, self.type_base.as_deref(), &fix);
            let body = if rejection.retry_after_secs().is_some() {
                Body::RetryHead(Bytes::from(body.open()))
            } else {
                Body::Whole(body.finish())
            };
            let (mut parts, ()) = problem_response(rejection.status(), ()).into_parts();
            if let Some(challenge) = rejection
                .www_authenticate()
                .and_then(|c| HeaderValue::try_from(c).ok())
            {
                parts.headers.insert(WWW_AUTHENTICATE, challenge);
            }
            (parts, body)
        };
        let mut headers = parts.headers;
        headers.insert(CACHE_CONTROL, problem::NO_STORE);
        Answer {
            status: parts.status,
            headers,
            body,
        }
    }
}

impl RejectionResponder for DefaultRejection {
    fn respond(&self, rejection: &Rejection) -> Response<Bytes> {
        if let Some(answer) = self.rendered.find(rejection) {
            return answer.response(rejection);
        }
        match self.rendered.keep(rejection, self.render(rejection)) {
            Some(answer) => answer.response(rejection),
            // Every slot this answer may use holds another one: render it for this request.
            None => self.render(rejection).response(rejection),
        }
    }
}

/// The parts of one answer that never vary: status, headers (in the order they are sent)
/// and body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Body,
}

/// A rendered body.
enum Body {
    /// The whole body.
    Whole(Bytes),
    /// A problem body up to its `retry_after` member (rows with a retry delay).
    RetryHead(Bytes),
}

impl Answer {
    /// The answer to one request: clones of what never varies, and the retry delay written.
    fn response(&self, rejection: &Rejection) -> Response<Bytes> {
        let retry = rejection.retry_after_secs();
        let body = match &self.body {
            Body::Whole(body) => body.clone(),
            Body::RetryHead(head) => with_retry_after(head, retry.unwrap_or(1)),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = match retry {
            None => self.headers.clone(),
            // A clone has no room to spare: make room at once for the delay, its gRPC form and
            // the rate-limit headers that follow.
            Some(_) => {
                let mut headers = HeaderMap::with_capacity(self.headers.len() + 4);
                headers.extend(self.headers.iter().map(|(n, v)| (n.clone(), v.clone())));
                headers
            }
        };
        if let Some(secs) = retry {
            if rejection.is_grpc() {
                grpc::push_back(rejection, &mut response);
            }
            response
                .headers_mut()
                .insert(RETRY_AFTER, super::seconds_value(secs));
        }
        response
    }
}

/// `head` followed by `,"retry_after":<secs>}`, in one allocation of the exact size.
fn with_retry_after(head: &[u8], secs: u64) -> Bytes {
    const MEMBER: &[u8] = b",\"retry_after\":";
    let digits = secs.checked_ilog10().map_or(1, |d| d as usize + 1);
    let mut body = Vec::with_capacity(head.len() + MEMBER.len() + digits + 1);
    body.extend_from_slice(head);
    body.extend_from_slice(MEMBER);
    // Writing to a Vec cannot fail.
    let _ = write!(body, "{secs}");
    body.push(b'}');
    Bytes::from(body)
}

/// Slots for rendered answers; an answer whose probe finds none free is rendered each time.
const SLOTS: usize = 128;
/// How many slots an answer may probe from its hash.
const PROBE: usize = 8;

/// What one [`DefaultRejection`] (and its clones) rendered: a fixed table of write-once slots,
/// read without a lock.
struct Rendered {
    slots: Box<[OnceLock<Entry>]>,
}

impl Default for Rendered {
    fn default() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// One rendered answer and what it was rendered for.
struct Entry {
    code: ErrorCode,
    grpc: bool,
    retry: bool,
    reason: &'static str,
    realm: Realm,
    scope: Option<Scope>,
    /// For a refusal under a plan: the refusing limit and the plan, which the body names.
    limit: Option<(LimitName, PlanName)>,
    answer: Answer,
}

/// The refusing limit and plan of a refusal under a plan.
fn limit_of(rejection: &Rejection) -> Option<(&LimitName, &PlanName)> {
    Some((rejection.refused_limit()?.name(), rejection.plan()?.name()))
}

impl Entry {
    fn is_for(&self, rejection: &Rejection) -> bool {
        self.code == rejection.code()
            && self.grpc == rejection.is_grpc()
            && self.retry == rejection.retry_after_secs().is_some()
            && std::ptr::eq(self.reason, rejection.reason())
            && self.realm.same(rejection.realm_value())
            && self.scope.as_ref() == rejection.required_scope()
            && self.limit.as_ref().map(|(l, p)| (l, p)) == limit_of(rejection)
    }
}

impl Rendered {
    /// The first slot to probe for `rejection`.
    fn start(rejection: &Rejection) -> usize {
        let mut hasher = Fnv::default();
        rejection.code().hash(&mut hasher);
        rejection.is_grpc().hash(&mut hasher);
        rejection.reason().as_ptr().hash(&mut hasher);
        rejection.realm().hash(&mut hasher);
        rejection.required_scope().hash(&mut hasher);
        limit_of(rejection).hash(&mut hasher);
        (hasher.0 as usize) % SLOTS
    }

    fn find(&self, rejection: &Rejection) -> Option<&Answer> {
        let start = Self::start(rejection);
        for i in 0..PROBE {
            let entry = self.slots[(start + i) % SLOTS].get()?;
            if entry.is_for(rejection) {
                return Some(&entry.answer);
            }
        }
        None
    }

    /// Keeps `answer` in the first free slot of `rejection`'s probe and returns it there;
    /// `None` when every slot of the probe holds another answer.
    fn keep(&self, rejection: &Rejection, answer: Answer) -> Option<&Answer> {
        let start = Self::start(rejection);
        let mut entry = Some(Entry {
            code: rejection.code(),
            grpc: rejection.is_grpc(),
            retry: rejection.retry_after_secs().is_some(),
            reason: rejection.reason(),
            realm: rejection.realm_value().clone(),
            scope: rejection.required_scope().cloned(),
            limit: limit_of(rejection).map(|(l, p)| (l.clone(), p.clone())),
            answer,
        });
        for i in 0..PROBE {
            let slot = &self.slots[(start + i) % SLOTS];
            if slot.get().is_none()
                && let Some(mine) = entry.take()
                && let Err(refused) = slot.set(mine)
            {
                entry = Some(refused);
            }
            if let Some(kept) = slot.get()
                && kept.is_for(rejection)
            {
                return Some(&kept.answer);
            }
        }
        None
    }
}

/// FNV-1a: a few nanoseconds over the handful of bytes that pick a slot.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::key::KeyId;

    fn rejection(code: ErrorCode, realm: &Realm) -> Rejection {
        Rejection::new(code, realm, false)
    }

    fn scope_refusal(scope: Scope, realm: &Realm) -> Rejection {
        let id = KeyId::new("AbCdEfGh1234").unwrap();
        Rejection::insufficient_scope(scope, id, "ci".parse().unwrap(), realm, false)
    }

    fn challenge(response: &Response<Bytes>) -> &str {
        response.headers()[WWW_AUTHENTICATE].to_str().unwrap()
    }

    #[test]
    fn an_answer_is_rendered_once_and_then_shared() {
        let responder = DefaultRejection::new();
        let realm = Realm::default();
        let first = responder.respond(&rejection(ErrorCode::InvalidApiKey, &realm));
        let second = responder
            .clone()
            .respond(&rejection(ErrorCode::InvalidApiKey, &realm));
        assert_eq!(first.body(), second.body());
        assert_eq!(
            first.body().as_ptr(),
            second.body().as_ptr(),
            "rendered twice"
        );
    }

    #[test]
    fn the_cached_answer_is_what_the_renderer_writes() {
        let realm = Realm::default();
        let responder = DefaultRejection::new();
        for code in [
            ErrorCode::MissingApiKey,
            ErrorCode::InvalidApiKey,
            ErrorCode::HttpsRequired,
        ] {
            let rejection = rejection(code, &realm);
            let expected = problem::problem_json(&rejection, None);
            for _ in 0..2 {
                let response = responder.respond(&rejection);
                assert_eq!(response.status(), code.status());
                assert_eq!(response.body(), expected.as_bytes());
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
            }
        }
    }

    #[test]
    fn each_realm_gets_its_own_challenge() {
        let responder = DefaultRejection::new();
        let api = Realm::default();
        let acme = Realm::new("acme").unwrap();
        let first = responder.respond(&rejection(ErrorCode::MissingApiKey, &api));
        let second = responder.respond(&rejection(ErrorCode::MissingApiKey, &acme));
        assert_eq!(challenge(&first), "Bearer realm=\"api\"");
        assert_eq!(challenge(&second), "Bearer realm=\"acme\"");
    }

    #[test]
    fn each_required_scope_is_named_in_its_own_refusal() {
        let responder = DefaultRejection::new();
        let realm = Realm::default();
        let admin = responder.respond(&scope_refusal(Scope::Admin, &realm));
        let write = responder.respond(&scope_refusal("write:all".parse().unwrap(), &realm));
        assert!(challenge(&admin).ends_with("scope=\"admin\""));
        assert!(challenge(&write).ends_with("scope=\"write:all\""));
        assert!(
            std::str::from_utf8(write.body())
                .unwrap()
                .contains("\"required_scope\":\"write:all\"")
        );
    }

    #[test]
    fn each_request_gets_its_own_retry_delay() {
        let responder = DefaultRejection::new();
        let realm = Realm::default();
        let body = |secs: u64| {
            let rejection = rejection(ErrorCode::AuthUnavailable, &realm)
                .with_retry_after(Duration::from_secs(secs));
            let response = responder.respond(&rejection);
            assert_eq!(
                response.body(),
                problem::problem_json(&rejection, None).as_bytes()
            );
            String::from_utf8(response.body().to_vec()).unwrap()
        };
        assert!(body(5).ends_with(",\"retry_after\":5}"));
        assert!(body(1234).ends_with(",\"retry_after\":1234}"));
        for secs in [9, 10, u64::MAX] {
            assert!(body(secs).ends_with(&format!(",\"retry_after\":{secs}}}")));
        }
    }

    #[test]
    fn the_default_answer_carries_every_promised_header_itself() {
        let responder = DefaultRejection::new();
        let realm = Realm::default();
        for grpc in [false, true, false, true] {
            let rejection = Rejection::new(ErrorCode::AuthUnavailable, &realm, grpc)
                .with_retry_after(Duration::from_millis(2500));
            let response = responder.respond(&rejection);
            let headers = response.headers();
            assert_eq!(headers["retry-after"], "3");
            assert_eq!(headers["cache-control"], "no-store");
            assert_eq!(headers.contains_key("grpc-retry-pushback-ms"), grpc);
        }
        let missing = responder.respond(&rejection(ErrorCode::MissingApiKey, &realm));
        assert_eq!(missing.headers()["cache-control"], "no-store");
        assert_eq!(challenge(&missing), "Bearer realm=\"api\"");
    }

    #[test]
    fn a_fix_set_after_answers_were_given_is_used() {
        let realm = Realm::default();
        let responder = DefaultRejection::new();
        let before = responder.respond(&scope_refusal(Scope::Admin, &realm));
        let changed = responder
            .with_type_base("https://docs.example.com/errors/")
            .fix(ErrorCode::InsufficientScope, "Ask an admin");
        let after = changed.respond(&scope_refusal(Scope::Admin, &realm));
        let text = |r: &Response<Bytes>| String::from_utf8(r.body().to_vec()).unwrap();
        assert!(!text(&before).contains("Ask an admin"));
        assert!(text(&after).contains("\"fix\":\"Ask an admin (admin)\""));
        assert!(text(&after).contains("https://docs.example.com/errors/insufficient_scope"));
    }

    #[test]
    fn grpc_and_http_answers_of_one_row_are_kept_apart() {
        let responder = DefaultRejection::new();
        let realm = Realm::default();
        let http = responder.respond(&rejection(ErrorCode::RevokedApiKey, &realm));
        let grpc = responder.respond(&Rejection::new(ErrorCode::RevokedApiKey, &realm, true));
        assert_eq!(http.headers()["content-type"], "application/problem+json");
        assert_eq!(grpc.headers()["content-type"], "application/grpc");
        assert_eq!(grpc.headers()["grpc-status"], "16");
        assert!(grpc.body().is_empty());
    }

    #[test]
    fn more_answers_than_slots_are_all_right() {
        let responder = DefaultRejection::new();
        let realms: Vec<Realm> = (0..SLOTS * 2)
            .map(|n| Realm::new(&format!("realm-{n}")).unwrap())
            .collect();
        for _ in 0..2 {
            for realm in &realms {
                let response = responder.respond(&rejection(ErrorCode::MissingApiKey, realm));
                assert_eq!(challenge(&response), format!("Bearer realm=\"{realm}\""));
            }
        }
    }
}
