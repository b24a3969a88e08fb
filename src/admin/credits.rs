//! `GET` and `POST /keys/{id}/credits`: a key's credits balances, read by its workspace's
//! admins, topped up by the operator's.
//!
//! The balances are those of the [`CreditLedger`] the router was given: a clone of the limiter
//! the layer spends them with, so what is shown is what requests spend. The plan is the one
//! that limits the key (its own, else its workspace's), as the store resolves it.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};

use super::handlers::{json_body, key_id};
use super::{AdminCaller, AdminError};
use crate::AuthenticatedKey;
use crate::key::KeyId;
use crate::plan::{CreditLedger, Limit, LimitKind, Period, Plan, Sharing};
use crate::store::KeyManager;
use crate::store::plans::PlanManager;
use crate::workspace::{MAX_WORKSPACE_LEN, Workspace};

/// The largest top-up: 2^53 − 1, the largest integer every JSON reader (JavaScript's
/// included) keeps exactly, and the largest balance a Redis counter holds.
pub const MAX_TOP_UP: u64 = (1 << 53) - 1;

/// `POST /keys/{id}/credits`: credits to add to one credits limit of the key's plan.
///
/// ```json
/// {"add": 500}
/// {"add": 500, "limit": "extra"}
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopUpRequest {
    /// Credits to add: 1 to [`MAX_TOP_UP`].
    pub add: u64,
    /// The credits limit to add to, by name: needed only when the plan has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// A key's credits: one entry per credits limit of the plan that limits it, in the plan's
/// order (none for a key on no plan, or on a plan without credits).
///
/// ```json
/// {"id": "Zwce9UxZEDf0", "workspace": "acme", "plan": "pro", "credits": [
///   {"limit": "credits", "shared": false, "balance": 480, "initial": 1000,
///    "refill": {"amount": 500, "period": "month"}}]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreditsView {
    /// The key's id.
    pub id: String,
    /// The key's workspace.
    pub workspace: String,
    /// The plan that limits the key (its own, else its workspace's), if any.
    pub plan: Option<String>,
    /// The plan's credits limits and their balances.
    pub credits: Vec<CreditBalance>,
}

/// One credits limit of a key's plan and its balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreditBalance {
    /// The limit's name, as 429 `quota_exceeded` answers name it.
    pub limit: String,
    /// Whether the balance is the workspace's, shared by all its keys on the plan (`false`:
    /// the key's own).
    pub shared: bool,
    /// Credits left now, refills applied.
    pub balance: u64,
    /// The balance a counter starts with.
    pub initial: u64,
    /// The refill, if any: the balance is raised to `amount` at the start of each period.
    pub refill: Option<RefillView>,
}

/// A credits refill, as [`Plan::to_json`](crate::plan::Plan::to_json) writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RefillView {
    /// The balance after a refill (at least).
    pub amount: u64,
    /// `day` (UTC) or `month`.
    pub period: String,
    /// For a month starting on another day than the 1st: that day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_day: Option<u32>,
}

/// What the credits routes need: the keys and plans, the ledger, and who the operator is.
#[derive(Clone)]
pub(super) struct Credits {
    pub(super) keys: Arc<dyn KeyManager>,
    pub(super) plans: Arc<dyn PlanManager>,
    pub(super) ledger: Arc<dyn CreditLedger>,
    pub(super) operator: Option<Workspace>,
}

/// A key, its workspace and the plan that limits it.
struct Target {
    id: KeyId,
    workspace: Workspace,
    plan: Option<Plan>,
}

impl Credits {
    /// Whether `caller` is an admin of the operator's workspace.
    fn is_operator(&self, caller: &AuthenticatedKey) -> bool {
        self.operator.as_ref() == Some(caller.workspace())
    }

    /// The workspace a request acts in: the caller's, or the one its `?workspace=` names,
    /// which only the operator may name if it is another.
    fn workspace(
        &self,
        caller: &AuthenticatedKey,
        query: Option<&str>,
    ) -> Result<Workspace, AdminError> {
        let Some(named) = workspace_query(query)? else {
            return Ok(caller.workspace().clone());
        };
        if named != *caller.workspace() && !self.is_operator(caller) {
            return Err(AdminError::OperatorOnly);
        }
        Ok(named)
    }

    /// Key `id` of `workspace` and its plan; another workspace's key is not found, as an id
    /// no key has.
    async fn target(&self, workspace: &Workspace, id: &str) -> Result<Target, AdminError> {
        let id = key_id(id)?;
        let info = self.keys.info(workspace, &id).await?;
        let plan = match &info.plan {
            None => None,
            Some(name) => Some(
                self.plans
                    .plan(name)
                    .await?
                    .ok_or_else(|| {
                        AdminError::Conflict(format!("the key's plan {name} is not defined"))
                    })?
                    // The key's own values where it has them: the plan the layer applies.
                    .with_overrides(&info.overrides),
            ),
        };
        Ok(Target {
            id,
            workspace: info.workspace,
            plan,
        })
    }

    /// The view of `target`'s credits; `known` is a balance just read (the limit, by its
    /// index in the plan, and the balance), the others are asked of the ledger.
    async fn view(
        &self,
        target: &Target,
        known: Option<(usize, u64)>,
    ) -> Result<CreditsView, AdminError> {
        let mut credits = Vec::new();
        let limits = target.plan.as_ref().map_or(&[][..], Plan::limits);
        for (i, limit) in limits.iter().enumerate() {
            let LimitKind::Credits { initial, refill } = *limit.kind() else {
                continue;
            };
            let balance = match known {
                Some((at, balance)) if at == i => balance,
                _ => self.balance(target, limit).await?,
            };
            credits.push(CreditBalance {
                limit: limit.name().to_string(),
                shared: limit.sharing() == Sharing::Workspace,
                balance,
                initial,
                refill: refill.map(|r| {
                    let (period, anchor_day) = match r.period {
                        Period::Day => ("day", None),
                        Period::Month(anchor) => {
                            ("month", (anchor.get() != 1).then_some(anchor.get()))
                        }
                    };
                    RefillView {
                        amount: r.amount,
                        period: period.to_owned(),
                        anchor_day,
                    }
                }),
            });
        }
        Ok(CreditsView {
            id: target.id.to_string(),
            workspace: target.workspace.to_string(),
            plan: target.plan.as_ref().map(|p| p.name().to_string()),
            credits,
        })
    }

    async fn balance(&self, target: &Target, limit: &Limit) -> Result<u64, AdminError> {
        self.ledger
            .balance(&target.id, &target.workspace, limit)
            .await?
            .ok_or_else(|| not_credits(limit))
    }
}

/// A ledger that says a credits limit is not one: a fault of the ledger, never the caller's.
fn not_credits(limit: &Limit) -> AdminError {
    tracing::error!(limit = %limit.name(), "keygate admin: the ledger does not know a credits limit");
    AdminError::LimiterUnavailable
}

/// The `workspace` of the query string, if it has one; any other member is refused.
fn workspace_query(query: Option<&str>) -> Result<Option<Workspace>, AdminError> {
    let mut workspace = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "workspace" {
            // The caller's text, echoed back: no longer than a workspace id.
            let shown: String = name.chars().take(MAX_WORKSPACE_LEN).collect();
            return Err(AdminError::invalid(
                shown,
                "unknown query parameter: the credits routes take only workspace",
            ));
        }
        if workspace.is_some() {
            return Err(AdminError::invalid("workspace", "give the workspace once"));
        }
        let parsed =
            Workspace::new(value).map_err(|e| AdminError::invalid("workspace", e.to_string()))?;
        workspace = Some(parsed);
    }
    Ok(workspace)
}

/// The credits limit of `plan` that `name` names, or its only one.
fn credits_limit<'p>(
    plan: Option<&'p Plan>,
    name: Option<&str>,
) -> Result<(usize, &'p Limit), AdminError> {
    let Some(plan) = plan else {
        return Err(AdminError::Conflict(
            "the key is on no plan: it has no credits".to_owned(),
        ));
    };
    let credits: Vec<(usize, &Limit)> = plan
        .limits()
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.kind(), LimitKind::Credits { .. }))
        .collect();
    let names = || {
        let names: Vec<&str> = credits.iter().map(|(_, l)| l.name().as_str()).collect();
        names.join(", ")
    };
    match (credits.as_slice(), name) {
        (_, Some(name)) => credits
            .iter()
            .find(|(_, l)| l.name().as_str() == name)
            .copied()
            .ok_or_else(|| {
                AdminError::invalid(
                    "limit",
                    format!(
                        "the plan {} has no credits limit named {name:?} (its credits limits: {})",
                        plan.name(),
                        names()
                    ),
                )
            }),
        ([only], None) => Ok(*only),
        ([], None) => Err(AdminError::Conflict(format!(
            "the key's plan {} has no credits limit",
            plan.name()
        ))),
        (_, None) => Err(AdminError::invalid(
            "limit",
            format!(
                "the plan {} has several credits limits: name one ({})",
                plan.name(),
                names()
            ),
        )),
    }
}

/// `GET /keys/{id}/credits`
pub(super) async fn show(
    AdminCaller(caller): AdminCaller,
    State(credits): State<Credits>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<CreditsView>, AdminError> {
    let workspace = credits.workspace(&caller, query.as_deref())?;
    let target = credits.target(&workspace, &id).await?;
    Ok(Json(credits.view(&target, None).await?))
}

/// `POST /keys/{id}/credits`: the operator's top-up.
pub(super) async fn top_up(
    AdminCaller(caller): AdminCaller,
    State(credits): State<Credits>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CreditsView>, AdminError> {
    if !credits.is_operator(&caller) {
        return Err(AdminError::OperatorOnly);
    }
    let workspace = credits.workspace(&caller, query.as_deref())?;
    let request: TopUpRequest = json_body(body, false)?;
    if !(1..=MAX_TOP_UP).contains(&request.add) {
        return Err(AdminError::invalid(
            "add",
            format!("must be a whole number of credits from 1 to {MAX_TOP_UP} (2^53 − 1)"),
        ));
    }
    let target = credits.target(&workspace, &id).await?;
    let (index, limit) = credits_limit(target.plan.as_ref(), request.limit.as_deref())?;
    let balance = credits
        .ledger
        .top_up(&target.id, &target.workspace, limit, request.add)
        .await?
        .ok_or_else(|| not_credits(limit))?;
    tracing::info!(workspace = %target.workspace, by = %caller.name(), by_workspace = %caller.workspace(),
        key = %target.id, limit = %limit.name(), added = request.add, balance,
        "keygate admin: credits topped up");
    Ok(Json(credits.view(&target, Some((index, balance))).await?))
}
