//! Stage 2, lookup and verification: the store's record for the key id (or, for a key
//! imported in another format, for the digest of the whole token), and the presented secret
//! checked against it in constant time, then the key's IP allowlist against the client's
//! address. Only a caller holding a right secret learns that a key is restricted to other
//! addresses, revoked, expired or disabled; every other failure is `invalid_api_key`, and
//! counts against the client's failure budget (as do revoked, expired and disabled keys; a
//! refused address does not: its caller proved the secret).

use std::net::IpAddr;
use std::sync::Arc;

use http::request::Parts;

use crate::allowlist::IpAllowlist;
use crate::clock::Clock;
use crate::code::ErrorCode;
use crate::key::KeyDigest;
use crate::record::KeyRecord;
use crate::store::StoreError;

use super::classify::Credential;
use super::client_addr::ClientAddr;
use super::pipeline::Pipeline;
use super::state::Refused;

impl<K, L, P, R> Pipeline<K, L, P, R> {
    /// The record of an authentic, live key usable from the request's address, from what
    /// the store answered for `credential`. Once the secret is proven the key's IP allowlist
    /// is checked first, then whether it is revoked, expired or disabled: a caller holding the
    /// secret somewhere the key may not be used learns only `ip_not_allowed`, never whether
    /// the key is still live. Those refusals keep the record (its holder proved the secret).
    #[allow(
        clippy::result_large_err,
        reason = "a refusal is moved once or twice; boxing it would allocate on every refusal"
    )]
    pub(crate) fn verified(
        &self,
        found: Result<Option<Arc<KeyRecord>>, StoreError>,
        credential: &Credential,
        parts: &Parts,
    ) -> Result<Arc<KeyRecord>, Refused> {
        let record = found.map_err(|error| {
            match credential.key_id() {
                Some(key_id) => {
                    tracing::warn!(%key_id, %error, "key store failed; answering 503");
                }
                None => {
                    tracing::warn!(%error, "key store failed on an imported key; answering 503")
                }
            }
            self.unavailable(credential.grpc)
        })?;
        let outcome = verify(record.as_deref(), &credential.digest, &*self.settings.clock);
        let proven = proves(outcome);
        let record = match record {
            Some(record) if proven => record,
            _ => {
                self.failed(credential.client);
                return Err(self
                    .reject(ErrorCode::InvalidApiKey, credential.grpc)
                    .into());
            }
        };
        let refused = |code| {
            let rejection = self
                .reject(code, credential.grpc)
                .with_key(record.id, record.name.clone());
            Err(Refused::of_key(rejection, Arc::clone(&record)))
        };
        if !record.allowed_ips.is_any() {
            let client = ClientAddr::resolve(
                &parts.extensions,
                &parts.headers,
                self.settings.trusted_proxies.as_ref(),
            );
            if !allowed_from(&record.allowed_ips, client) {
                tracing::debug!(key_id = %record.id, ?client, "address not in the key's allowlist");
                return refused(ErrorCode::IpNotAllowed);
            }
        }
        match outcome {
            Ok(()) => Ok(record),
            Err(code) => {
                self.failed(credential.client);
                refused(code)
            }
        }
    }
}

/// Whether a key restricted to `allowlist` may be used from `client`; no address known:
/// never (an allowlist fails closed).
fn allowed_from(allowlist: &IpAllowlist, client: Option<IpAddr>) -> bool {
    client.is_some_and(|addr| allowlist.allows(addr))
}

/// Whether `outcome`, what [`verify`] answered, proves that the caller holds a right secret of
/// the key: accepted, or refused only for the key's state (revoked, expired, disabled).
fn proves(outcome: Result<(), ErrorCode>) -> bool {
    matches!(
        outcome,
        Ok(())
            | Err(ErrorCode::RevokedApiKey | ErrorCode::ExpiredApiKey | ErrorCode::DisabledApiKey)
    )
}

/// Whether `presented` (the digest of a presented secret) is a right secret of `record`, its
/// current one or its previous one during the rotation's grace period, whatever the key's
/// state: [`verify`]'s constant-time comparisons, for callers that act on the key themselves
/// (a leak report revokes a revoked key no further, but still labels it genuine).
pub(crate) fn proves_secret(
    record: Option<&KeyRecord>,
    presented: &KeyDigest,
    clock: &dyn Clock,
) -> bool {
    proves(verify(record, presented, clock))
}

/// Compared against when the id is unknown or the key has no previous secret, so that every
/// request does the same work: an unknown id and a wrong secret cost the same time.
const DUMMY: KeyDigest = KeyDigest::from_bytes([0xA5; 32]);

/// Verifies `presented` (the digest of the presented secret) against `record`.
///
/// Both the current and the previous secret are always compared, with the unknown-id case
/// comparing against a dummy digest. Only a caller holding a right secret learns that a key
/// is revoked or expired; everyone else gets `invalid_api_key`.
pub(crate) fn verify(
    record: Option<&KeyRecord>,
    presented: &KeyDigest,
    clock: &dyn Clock,
) -> Result<(), ErrorCode> {
    let (current, previous) = match record {
        Some(r) => (&r.digest, r.previous.as_ref().map_or(&DUMMY, |p| &p.digest)),
        None => (&DUMMY, &DUMMY),
    };
    let current_ok = presented.ct_eq(current);
    let previous_ok = presented.ct_eq(previous);
    let Some(record) = record else {
        return Err(ErrorCode::InvalidApiKey);
    };
    if !(current_ok | previous_ok) {
        return Err(ErrorCode::InvalidApiKey);
    }
    let needs_time = !current_ok || record.expires_at.is_some();
    let now = needs_time.then(|| clock.coarse_now());
    if !current_ok {
        // Only the previous secret matched: it works until its grace period ends.
        let in_grace = match (record.previous, now) {
            (Some(p), Some(now)) => now < p.valid_until,
            _ => false,
        };
        if !in_grace {
            return Err(ErrorCode::InvalidApiKey);
        }
    }
    if record.revoked_at.is_some() {
        return Err(ErrorCode::RevokedApiKey);
    }
    if let (Some(expires_at), Some(now)) = (record.expires_at, now)
        && now >= expires_at
    {
        return Err(ErrorCode::ExpiredApiKey);
    }
    if record.disabled_at.is_some() {
        return Err(ErrorCode::DisabledApiKey);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::key::KeyId;
    use crate::record::PreviousSecret;
    use crate::scope::Scopes;
    use std::time::Duration;

    fn record(digest: KeyDigest, clock: &ManualClock) -> KeyRecord {
        KeyRecord::new(
            KeyId::new("AAAAAAAAAAAA").unwrap(),
            "k".parse().unwrap(),
            digest,
            Scopes::empty(),
            clock.now(),
        )
    }

    const RIGHT: KeyDigest = KeyDigest::from_bytes([1; 32]);
    const WRONG: KeyDigest = KeyDigest::from_bytes([2; 32]);

    #[test]
    fn right_secret_of_an_active_key_passes() {
        let clock = ManualClock::new();
        assert_eq!(verify(Some(&record(RIGHT, &clock)), &RIGHT, &clock), Ok(()));
    }

    #[test]
    fn unknown_id_and_wrong_secret_get_the_same_answer() {
        let clock = ManualClock::new();
        let r = record(RIGHT, &clock);
        assert_eq!(verify(None, &RIGHT, &clock), Err(ErrorCode::InvalidApiKey));
        assert_eq!(
            verify(Some(&r), &WRONG, &clock),
            Err(ErrorCode::InvalidApiKey)
        );
    }

    #[test]
    fn revocation_is_only_told_to_the_holder_of_the_secret() {
        let clock = ManualClock::new();
        let r = record(RIGHT, &clock).with_revoked_at(Some(clock.now()));
        assert_eq!(
            verify(Some(&r), &RIGHT, &clock),
            Err(ErrorCode::RevokedApiKey)
        );
        assert_eq!(
            verify(Some(&r), &WRONG, &clock),
            Err(ErrorCode::InvalidApiKey)
        );
    }

    #[test]
    fn expiry_is_only_told_to_the_holder_of_the_secret() {
        let clock = ManualClock::new();
        let r = record(RIGHT, &clock).with_expiry(Some(clock.now() + Duration::from_secs(1)));
        assert_eq!(verify(Some(&r), &RIGHT, &clock), Ok(()));
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            verify(Some(&r), &RIGHT, &clock),
            Err(ErrorCode::ExpiredApiKey)
        );
        assert_eq!(
            verify(Some(&r), &WRONG, &clock),
            Err(ErrorCode::InvalidApiKey)
        );
    }

    #[test]
    fn a_restricted_key_is_usable_only_from_its_networks() {
        let list: IpAllowlist = "192.0.2.0/24, 2001:db8::/32".parse().unwrap();
        assert!(allowed_from(&list, Some("192.0.2.7".parse().unwrap())));
        assert!(allowed_from(
            &list,
            Some("::ffff:192.0.2.7".parse().unwrap())
        ));
        assert!(allowed_from(&list, Some("2001:db8::7".parse().unwrap())));
        assert!(!allowed_from(&list, Some("198.51.100.7".parse().unwrap())));
    }

    #[test]
    fn a_restricted_key_is_refused_when_no_address_is_known() {
        let list: IpAllowlist = "192.0.2.0/24".parse().unwrap();
        assert!(!allowed_from(&list, None));
    }

    #[test]
    fn previous_secret_works_only_during_its_grace_period() {
        let clock = ManualClock::new();
        let r = record(RIGHT, &clock).with_previous(Some(PreviousSecret {
            digest: WRONG,
            valid_until: clock.now() + Duration::from_secs(60),
        }));
        assert_eq!(verify(Some(&r), &WRONG, &clock), Ok(()));
        clock.advance(Duration::from_secs(60));
        assert_eq!(
            verify(Some(&r), &WRONG, &clock),
            Err(ErrorCode::InvalidApiKey)
        );
        assert_eq!(verify(Some(&r), &RIGHT, &clock), Ok(()));
    }

    #[test]
    fn a_right_secret_proves_the_key_whatever_its_state() {
        let clock = ManualClock::new();
        let r = record(RIGHT, &clock).with_revoked_at(Some(clock.now()));
        assert!(proves_secret(Some(&r), &RIGHT, &clock));
        assert!(!proves_secret(Some(&r), &WRONG, &clock));
        assert!(!proves_secret(None, &RIGHT, &clock));
    }

    #[test]
    fn a_previous_secret_proves_the_key_only_while_it_works() {
        let clock = ManualClock::new();
        let rotated = record(RIGHT, &clock).with_previous(Some(PreviousSecret {
            digest: WRONG,
            valid_until: clock.now() + Duration::from_secs(60),
        }));
        assert!(proves_secret(Some(&rotated), &WRONG, &clock));
        clock.advance(Duration::from_secs(60));
        assert!(!proves_secret(Some(&rotated), &WRONG, &clock));
    }
}
