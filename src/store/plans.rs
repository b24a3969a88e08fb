//! [`PlanManager`]: the plans a store keeps, and which plan each workspace's keys are on.

use std::sync::Arc;

use async_trait::async_trait;

use super::StoreError;
use crate::plan::{Plan, PlanName};
use crate::workspace::Workspace;

/// The plans a store keeps (defined by the operator) and each workspace's plan.
///
/// A key is limited by its own plan ([`NewKey::plan`](crate::NewKey::plan),
/// [`KeyUpdate::plan`](crate::KeyUpdate::plan)), else by its workspace's plan, else by its
/// own quota or the layer's default. The store resolves the plan when it looks a key up:
/// [`KeyRecord::plan`](crate::KeyRecord::plan) carries it, so the layer needs no second
/// lookup. Redefining a plan applies to every key on it from its next lookup.
///
/// A key may carry its own values for some of its plan's limits
/// ([`NewKey::overrides`](crate::NewKey::overrides),
/// [`KeyUpdate::overrides`](crate::KeyUpdate::overrides); see
/// [`Overrides`](crate::plan::Overrides)): the store checks they fit the key's plan when they
/// are set, and resolves the plan with them applied ([`Plan::with_overrides`]), so
/// [`KeyRecord::plan`](crate::KeyRecord::plan) is the plan that limits the key. Overrides are
/// kept as stored when the plan is redefined or the key moves to another plan, and apply
/// wherever they still fit; one that no longer fits is skipped, never an error on a lookup.
///
/// ```
/// use keygate::plan::{Limit, Period, Plan};
/// use keygate::{KeyManager, KeyStore, MemoryKeyStore, NewKey, PlanManager, Workspace};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryKeyStore::new();
/// let trial = Plan::new(
///     "trial".parse().unwrap(),
///     vec![Limit::quota("daily".parse().unwrap(), 5, Period::Day)],
/// )
/// .unwrap();
/// store.put_plan(trial.clone()).await.unwrap();
/// let new = NewKey::new("ci".parse().unwrap(), "read:all".parse().unwrap())
///     .plan("trial".parse().unwrap());
/// let id = store.create(new).await.unwrap().info.id;
/// let record = store.get(&id).await.unwrap().unwrap();
/// assert_eq!(record.plan.as_ref(), Some(&trial));
/// # });
/// ```
#[async_trait]
pub trait PlanManager: Send + Sync {
    /// Defines `plan`, or replaces the plan of its name: every key on it is limited by the
    /// new limits from its next lookup. Counters are kept by limit name, so what was counted
    /// under the old values still counts.
    async fn put_plan(&self, plan: Plan) -> Result<(), StoreError>;

    /// Every plan, by name.
    async fn plans(&self) -> Result<Vec<Plan>, StoreError>;

    /// The plan called `name`, if there is one.
    async fn plan(&self, name: &PlanName) -> Result<Option<Plan>, StoreError>;

    /// Puts the keys of `workspace` that have no plan of their own on `plan` (`None`: on no
    /// plan). An unknown plan is refused ([`StoreError::Invalid`]) and changes nothing.
    async fn set_workspace_plan(
        &self,
        workspace: &Workspace,
        plan: Option<PlanName>,
    ) -> Result<(), StoreError>;

    /// The plan of `workspace`'s keys that have none of their own.
    async fn workspace_plan(&self, workspace: &Workspace) -> Result<Option<PlanName>, StoreError>;
}

#[async_trait]
impl<M: PlanManager + ?Sized> PlanManager for Arc<M> {
    async fn put_plan(&self, plan: Plan) -> Result<(), StoreError> {
        (**self).put_plan(plan).await
    }
    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        (**self).plans().await
    }
    async fn plan(&self, name: &PlanName) -> Result<Option<Plan>, StoreError> {
        (**self).plan(name).await
    }
    async fn set_workspace_plan(
        &self,
        workspace: &Workspace,
        plan: Option<PlanName>,
    ) -> Result<(), StoreError> {
        (**self).set_workspace_plan(workspace, plan).await
    }
    async fn workspace_plan(&self, workspace: &Workspace) -> Result<Option<PlanName>, StoreError> {
        (**self).workspace_plan(workspace).await
    }
}

/// The refusal of a plan name no plan has.
pub(crate) fn unknown_plan(name: &PlanName) -> StoreError {
    StoreError::Invalid(format!(
        "there is no plan named {name}: define it first (keygate plans create {name} …)"
    ))
}
