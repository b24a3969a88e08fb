//! One conformance suite, written once, run against every `KeyStore` and every `RateLimiter`.
//!
//! A backend's test file calls `store_conformance!(make)` or `limiter_conformance!(make)`, where
//! `make` is an async expression giving `Option<backend>` (`None` when its server is not
//! configured: the test then returns after printing why, or fails if
//! `KEYGATE_REQUIRE_BACKENDS=1`). Each check becomes its own test, named as a sentence.

#![allow(dead_code)]

pub mod allowlist;
pub mod audit;
pub mod lifecycle;
pub mod limiter;
pub mod plans;
pub mod store;

/// The URL of a test server from `var`, or `None` with the reason printed. Panics instead when
/// `KEYGATE_REQUIRE_BACKENDS=1`: CI never passes by skipping.
pub fn backend_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("KEYGATE_REQUIRE_BACKENDS").as_deref() == Ok("1") {
                panic!(
                    "{var} is not set but KEYGATE_REQUIRE_BACKENDS=1: the server this test needs is missing"
                );
            }
            eprintln!("skipped: {var} is not set (scripts/services.sh start prints it)");
            None
        }
    }
}

/// How many races a concurrency test runs: one alone may end before the pool has opened a
/// second connection.
pub const RACE_ROUNDS: usize = 10;

/// Runs `calls` calls of `make(store, i)` at once, alternating between `a` and `b` (two stores
/// on one database, as two processes or instances share it, or one store twice), and returns
/// how many succeeded. Every other answer must be `NameTaken`: the calls race for one name.
pub async fn race_for_a_name<S, F, T>(a: &S, b: &S, calls: usize, make: F) -> usize
where
    S: Clone,
    F: Fn(S, usize) -> T,
    T: std::future::Future<Output = Result<(), keygate::StoreError>> + Send + 'static,
{
    let mut running = tokio::task::JoinSet::new();
    for i in 0..calls {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        running.spawn(make(store, i));
    }
    let mut succeeded = 0;
    while let Some(answer) = running.join_next().await {
        match answer.unwrap() {
            Ok(()) => succeeded += 1,
            Err(keygate::StoreError::NameTaken { .. }) => {}
            Err(other) => panic!("expected NameTaken, got {other:?}"),
        }
    }
    succeeded
}

/// Implements `KeyManager` for `$wrapper` by handing every call to its field `$field`: for the
/// test wrappers that add something to a store (a temporary directory, a lookup counter).
#[macro_export]
macro_rules! key_manager_via {
    ($wrapper:ty, $field:ident) => {
        #[::async_trait::async_trait]
        impl ::keygate::KeyManager for $wrapper {
            async fn create_by(
                &self,
                actor: &::keygate::audit::Actor,
                new: ::keygate::NewKey,
            ) -> Result<::keygate::CreatedKey, ::keygate::StoreError> {
                ::keygate::KeyManager::create_by(&self.$field, actor, new).await
            }
            async fn info(
                &self,
                workspace: &::keygate::Workspace,
                id: &::keygate::key::KeyId,
            ) -> Result<::keygate::KeyInfo, ::keygate::StoreError> {
                ::keygate::KeyManager::info(&self.$field, workspace, id).await
            }
            async fn list(
                &self,
                workspace: &::keygate::Workspace,
            ) -> Result<Vec<::keygate::KeyInfo>, ::keygate::StoreError> {
                ::keygate::KeyManager::list(&self.$field, workspace).await
            }
            async fn update_by(
                &self,
                actor: &::keygate::audit::Actor,
                workspace: &::keygate::Workspace,
                id: &::keygate::key::KeyId,
                update: ::keygate::KeyUpdate,
            ) -> Result<::keygate::KeyInfo, ::keygate::StoreError> {
                ::keygate::KeyManager::update_by(&self.$field, actor, workspace, id, update).await
            }
            async fn revoke_by(
                &self,
                actor: &::keygate::audit::Actor,
                workspace: &::keygate::Workspace,
                id: &::keygate::key::KeyId,
            ) -> Result<::keygate::KeyInfo, ::keygate::StoreError> {
                ::keygate::KeyManager::revoke_by(&self.$field, actor, workspace, id).await
            }
            async fn rotate_by(
                &self,
                actor: &::keygate::audit::Actor,
                workspace: &::keygate::Workspace,
                id: &::keygate::key::KeyId,
                grace: ::std::time::Duration,
            ) -> Result<::keygate::CreatedKey, ::keygate::StoreError> {
                ::keygate::KeyManager::rotate_by(&self.$field, actor, workspace, id, grace).await
            }
            async fn audit(
                &self,
                workspace: &::keygate::Workspace,
                query: &::keygate::audit::AuditQuery,
            ) -> Result<::keygate::audit::AuditPage, ::keygate::StoreError> {
                ::keygate::KeyManager::audit(&self.$field, workspace, query).await
            }
            async fn list_page(
                &self,
                workspace: &::keygate::Workspace,
                query: &::keygate::store::KeyListQuery,
            ) -> Result<::keygate::store::KeyPage, ::keygate::StoreError> {
                ::keygate::KeyManager::list_page(&self.$field, workspace, query).await
            }
            async fn disable_by(
                &self,
                actor: &::keygate::audit::Actor,
                workspace: &::keygate::Workspace,
                id: &::keygate::key::KeyId,
            ) -> Result<::keygate::KeyInfo, ::keygate::StoreError> {
                ::keygate::KeyManager::disable_by(&self.$field, actor, workspace, id).await
            }
            async fn enable_by(
                &self,
                actor: &::keygate::audit::Actor,
                workspace: &::keygate::Workspace,
                id: &::keygate::key::KeyId,
            ) -> Result<::keygate::KeyInfo, ::keygate::StoreError> {
                ::keygate::KeyManager::enable_by(&self.$field, actor, workspace, id).await
            }
            async fn delete_by(
                &self,
                actor: &::keygate::audit::Actor,
                workspace: &::keygate::Workspace,
                id: &::keygate::key::KeyId,
            ) -> Result<::keygate::KeyInfo, ::keygate::StoreError> {
                ::keygate::KeyManager::delete_by(&self.$field, actor, workspace, id).await
            }
            async fn import_by(
                &self,
                actor: &::keygate::audit::Actor,
                import: ::keygate::store::ImportKey,
            ) -> Result<::keygate::KeyInfo, ::keygate::StoreError> {
                ::keygate::KeyManager::import_by(&self.$field, actor, import).await
            }
        }
    };
}

/// Generates one `#[tokio::test]` per store check for the store made by `$make`.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(@tests $make;
            created_key_is_found_by_id_with_only_its_digest,
            unknown_id_is_not_found,
            key_without_scopes_is_refused_and_nothing_is_stored,
            expiry_in_the_past_is_refused,
            listing_shows_created_keys_without_secrets,
            update_changes_name_and_scopes_only,
            revoked_key_cannot_be_updated_or_rotated,
            revocation_is_recorded_once,
            rotation_keeps_the_id_and_the_old_digest_for_the_grace_period,
            rotation_without_grace_keeps_no_previous_secret,
            per_key_quota_and_expiry_round_trip,
            touch_records_the_last_use,
            concurrent_scope_edits_are_all_applied,
            quota_with_a_sub_microsecond_interval_is_refused_not_rounded,
            another_workspaces_key_is_not_found_exactly_like_an_unknown_id,
            another_workspace_changes_nothing_of_a_key,
            listing_shows_only_the_workspaces_own_keys,
            same_name_is_allowed_in_two_workspaces,
            creating_a_taken_name_in_one_workspace_is_refused_and_stores_nothing,
            renaming_to_a_taken_name_is_refused_and_changes_nothing,
            a_revoked_keys_name_can_be_taken_again,
            renaming_a_key_to_its_own_name_is_fine,
            renaming_another_workspaces_key_to_a_taken_name_is_not_found,
            metadata_round_trips_through_create_update_and_lookup,
            a_key_made_without_metadata_has_the_empty_object,
            rotation_and_revocation_keep_workspace_and_metadata,
            concurrent_creates_of_one_name_make_exactly_one_key,
        );
        $crate::store_conformance!(@audit $make;
            every_change_records_one_event_with_its_actor_and_fields,
            a_failed_change_records_nothing,
            a_change_that_changes_nothing_records_nothing,
            a_workspace_never_reads_another_workspaces_events,
            the_log_pages_newest_first_without_gaps_or_repeats,
            no_event_carries_a_secret_or_digest,
        );
        $crate::store_conformance!(@lifecycle $make;
            disabling_a_key_makes_it_disabled_and_records_one_event,
            disabling_a_disabled_key_changes_nothing_and_records_nothing,
            enabling_a_disabled_key_makes_it_active_and_records_one_event,
            enabling_an_enabled_key_changes_nothing_and_records_nothing,
            a_revoked_key_can_be_neither_disabled_nor_enabled,
            the_lookup_of_a_disabled_key_returns_its_record_with_disabled_at,
            the_lookup_of_a_deleted_key_returns_none,
            deleting_a_key_returns_it_as_it_was,
            a_deleted_keys_id_is_not_found_by_any_change,
            a_deleted_key_is_gone_from_list_and_list_page,
            a_deleted_keys_name_can_be_taken_again,
            a_deleted_keys_events_stay_and_a_delete_event_is_added,
            another_workspace_cannot_delete_a_key,
            a_deleted_keys_id_is_never_reused_by_an_import,
            a_deleted_imported_keys_digest_is_no_longer_found,
            ten_thousand_keys_are_paged_once_each_in_creation_order,
            keys_created_while_paging_never_repeat_a_key_or_lose_one,
            a_page_holds_at_most_the_largest_page_size,
            listing_by_status_shows_only_keys_with_that_status,
            listing_by_name_prefix_shows_only_names_starting_with_it,
            a_name_prefix_with_like_wildcards_matches_them_literally,
            a_name_prefix_longer_than_the_bound_is_invalid,
            listing_pages_never_show_another_workspaces_keys,
            a_cursor_from_another_workspace_starts_after_its_position,
            an_imported_key_in_this_services_format_authenticates_like_an_issued_one,
            an_imported_foreign_plaintext_is_found_by_the_digest_of_its_whole_token,
            an_imported_digest_is_found_by_that_digest,
            importing_the_same_foreign_secret_twice_is_a_conflict,
            importing_under_a_taken_name_is_name_taken_and_stores_nothing,
            importing_without_scopes_is_invalid_and_stores_nothing,
            an_import_records_one_event_by_its_actor_without_the_secret_or_digest,
            a_plaintext_in_this_services_prefix_with_a_broken_checksum_is_invalid,
        );
        $crate::store_conformance!(@allowlist $make;
            an_allowlist_set_on_create_is_read_back_by_get_info_and_list_page,
            a_key_created_without_an_allowlist_is_allowed_from_anywhere,
            an_update_with_an_allowlist_replaces_it_whole,
            an_update_to_anywhere_clears_the_allowlist,
            an_update_without_an_allowlist_keeps_it,
            allowlist_changes_are_audited_as_allowed_ips_before_and_after,
            ipv4_ipv6_and_mapped_entries_round_trip,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $crate::store_conformance!(@checks store, $make; $($check),*);
    };
    (@audit $make:expr; $($check:ident),* $(,)?) => {
        $crate::store_conformance!(@checks audit, $make; $($check),*);
    };
    (@lifecycle $make:expr; $($check:ident),* $(,)?) => {
        $crate::store_conformance!(@checks lifecycle, $make; $($check),*);
    };
    (@allowlist $make:expr; $($check:ident),* $(,)?) => {
        $crate::store_conformance!(@checks allowlist, $make; $($check),*);
    };
    (@checks $module:ident, $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some(store) = $make.await {
                    $crate::conformance::$module::$check(store).await;
                }
            }
        )*
    };
}

/// Implements `PlanManager` for `$wrapper` by handing every call to its field `$field`.
#[macro_export]
macro_rules! plan_manager_via {
    ($wrapper:ty, $field:ident) => {
        #[::async_trait::async_trait]
        impl ::keygate::PlanManager for $wrapper {
            async fn put_plan(
                &self,
                plan: ::keygate::plan::Plan,
            ) -> Result<(), ::keygate::StoreError> {
                ::keygate::PlanManager::put_plan(&self.$field, plan).await
            }
            async fn plans(&self) -> Result<Vec<::keygate::plan::Plan>, ::keygate::StoreError> {
                ::keygate::PlanManager::plans(&self.$field).await
            }
            async fn plan(
                &self,
                name: &::keygate::plan::PlanName,
            ) -> Result<Option<::keygate::plan::Plan>, ::keygate::StoreError> {
                ::keygate::PlanManager::plan(&self.$field, name).await
            }
            async fn set_workspace_plan(
                &self,
                workspace: &::keygate::Workspace,
                plan: Option<::keygate::plan::PlanName>,
            ) -> Result<(), ::keygate::StoreError> {
                ::keygate::PlanManager::set_workspace_plan(&self.$field, workspace, plan).await
            }
            async fn workspace_plan(
                &self,
                workspace: &::keygate::Workspace,
            ) -> Result<Option<::keygate::plan::PlanName>, ::keygate::StoreError> {
                ::keygate::PlanManager::workspace_plan(&self.$field, workspace).await
            }
        }
    };
}

/// Generates one `#[tokio::test]` per plan check for the store made by `$make`.
#[macro_export]
macro_rules! plan_conformance {
    ($make:expr) => {
        $crate::plan_conformance!(@tests $make;
            plans_are_put_listed_and_found_by_name,
            a_key_on_its_own_plan_is_looked_up_and_listed_with_it,
            a_key_without_a_plan_of_its_own_is_on_its_workspaces_plan,
            a_workspace_taken_off_its_plan_leaves_its_keys_on_none,
            a_keys_own_plan_beats_its_workspaces,
            redefining_a_plan_changes_it_for_every_key_on_it,
            a_key_moves_to_another_plan_and_back_to_its_workspaces,
            an_unknown_plan_is_refused_and_nothing_is_stored,
            a_key_on_a_trial_plan_gets_five_200s_then_429_quota_exceeded_naming_it,
            an_override_set_at_creation_is_applied_at_lookup_and_listed,
            an_override_set_by_an_update_applies_and_an_empty_one_clears_it,
            an_override_is_kept_when_its_plan_is_redefined,
            an_override_the_redefined_plan_no_longer_fits_is_skipped_not_an_error,
            overrides_that_do_not_fit_the_plan_are_refused_and_nothing_changes,
            overrides_are_checked_against_the_plan_the_update_moves_the_key_to,
            another_workspaces_key_is_untouched_by_overrides,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some(store) = $make.await {
                    $crate::conformance::plans::$check(store).await;
                }
            }
        )*
    };
}

/// Generates one `#[tokio::test]` per limiter check for the limiter made by `$make`.
#[macro_export]
macro_rules! limiter_conformance {
    ($make:expr) => {
        $crate::limiter_conformance!(@tests $make;
            fresh_key_gets_its_burst_then_is_refused_with_the_exact_delay,
            keys_are_limited_independently,
            keys_on_different_quotas_share_one_limiter,
            refused_requests_spend_nothing,
            decisions_match_the_gcra_reference,
            reset_reports_the_time_until_the_bucket_is_full,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                if let Some(limiter) = $make.await {
                    $crate::conformance::limiter::$check(limiter).await;
                }
            }
        )*
    };
}
