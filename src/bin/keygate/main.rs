//! `keygate`: manage API keys from the command line (feature `cli`).
//!
//! ```text
//! keygate create --name ci-pipeline --scope read:all --scope write:all [--expires-in 90d]
//!                [--meta '{"tier":"pro"}']
//! keygate list [--limit N --after CURSOR] [--status active|disabled|expired|revoked] [--name PREFIX]
//! keygate show <id>
//! keygate scopes <id> --add write:all [--remove read:all]
//! keygate update <id> [--name NEW] [--meta '{"tier":"pro"}'] [--add SCOPE] [--remove SCOPE]
//! keygate create … --allow-ip 192.0.2.0/24 --allow-ip 2001:db8::/32   # where the key works
//! keygate update <id> --allow-ip 198.51.100.7 | --clear-allowed-ips  # replaces the whole list
//! keygate rotate <id> [--grace 24h]
//! keygate plans create <name> [--rate 100/s --burst 200] [--quota 1000000/month --anchor-day 15]
//!                             [--credits 500 --refill 500/month] [--shared]
//! keygate plans list
//! keygate plans assign <name> | --none        # the workspace's keys without a plan of their own
//! keygate create … --plan <name>; keygate update <id> --plan <name> | --no-plan
//! keygate create … --plan pro --limit monthly=2000000   # the key's own limit values
//! keygate update <id> --limit burst=100/s,200 --limit credits=5000[,refill=500] | --clear-limits
//! keygate credits <id> [--add 500] --redis redis://…  # the balance in the service's Redis
//! keygate revoke <id>
//! keygate disable <id>; keygate enable <id>
//! keygate delete <id> --yes       # for good: the id is never used again
//! keygate import --file keys.jsonl  # {"key": "…"} or {"digest": "…"}, "name", "scopes", …
//! keygate audit [--key ID] [--limit N] [--before CURSOR]   # newest first
//! keygate hash [--file PATH]      # the key on stdin, or in the file
//! ```
//!
//! Every command takes `--workspace ID` (or `KEYGATE_WORKSPACE`; default `default`) and acts
//! within that workspace only, `--db PATH_OR_URL` (or `KEYGATE_DB`; default `keygate.db`),
//! `--prefix` (or `KEYGATE_PREFIX`; default `kg`) and `--json`. Exit codes: 0 done; 1 no such
//! key in the workspace, its state forbids the change, its name is taken there, or some lines
//! of an import were refused (the others imported); 2 usage
//! error or invalid input (a bad workspace id or --meta included); 3 the store could not be
//! opened or reached.
//!
//! Every change to a key is recorded in the audit log with the OS user who ran the command
//! (`cli:$USER`) as its actor; `keygate audit` reads it.

mod args;
mod audit;
mod credits;
mod failure;
mod import;
mod limits;
mod list;
mod open;
mod output;
mod plans;

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use keygate::audit::{Actor, AuditQuery};
use keygate::key::{self, KeyPrefix};
use keygate::plan::{Overrides, Plan, PlanName};
use keygate::{IpAllowlist, KeyManager, KeyUpdate, NewKey, PlanManager, Scopes};
use zeroize::Zeroizing;

use args::{AllowIps, Cli, Command, LimitArg, PlansCommand, ScopeEdit};
use failure::{Exit, Failure};
use open::Mode;
use output::Output;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output {
        json: cli.global.json,
    };
    // Timers and I/O: store calls are bounded by timeouts, and PostgreSQL talks over sockets.
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Unavailable, format!("cannot start: {e}")))
        .and_then(|runtime| runtime.block_on(run(&cli, out)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.reported {
                out.failure(&failure);
            }
            failure.exit_code()
        }
    }
}

async fn run(cli: &Cli, out: Output) -> Result<(), Failure> {
    let global = &cli.global;
    let mode = match cli.command {
        Command::Create { .. } | Command::Plans(PlansCommand::Create(_)) => Mode::CreateIfMissing,
        _ => Mode::MustExist,
    };
    if let Command::Hash { file, key } = &cli.command {
        if key.is_some() {
            return Err(Failure::new(
                Exit::Invalid,
                "refusing a key given on the command line: `ps` and shell history would show \
                 it. Pipe it on stdin (keygate hash < key.txt) or give --file PATH",
            ));
        }
        return hash(&read_key(file.as_deref())?, out);
    }
    if let Command::Delete { id, yes: false } = &cli.command {
        return Err(Failure::new(
            Exit::Invalid,
            format!(
                "deleting key {id} cannot be undone (its id is never used again): run \
                 `keygate delete {id} --yes` to confirm"
            ),
        ));
    }
    // An import file is read and checked whole before the store is opened.
    let checked_import = match &cli.command {
        Command::Import { file } => Some(import::read(file, &global.workspace, &global.prefix)?),
        _ => None,
    };
    // So is an allowlist over the bound: a refused create makes no database.
    if let Command::Create { allow, .. } | Command::Update { allow, .. } = &cli.command {
        allowlist(allow)?;
    }
    let manager = open::open(&global.db, &global.prefix, mode).await?;
    let workspace = &global.workspace;
    // Who the audit log records as making the command's changes, if it makes any.
    let actor = Actor::cli_user();
    match &cli.command {
        Command::Create {
            name,
            meta,
            scopes,
            expires_in,
            plan,
            limits,
            allow,
        } => {
            let mut new = NewKey::new(name.clone(), Scopes::new(scopes.iter().cloned()))
                .workspace(workspace.clone())
                .metadata(meta.clone().unwrap_or_default());
            if let Some(allowed_ips) = allowlist(allow)? {
                new = new.allowed_ips(allowed_ips);
            }
            if !limits.is_empty() {
                // Its own plan, else its workspace's.
                let on = match plan {
                    Some(plan) => Some(plan.clone()),
                    None => manager.workspace_plan(workspace).await?,
                };
                new = new.overrides(overrides_on(&*manager, on.as_ref(), limits).await?);
            }
            if let Some(plan) = plan {
                new = new.plan(plan.clone());
            }
            if let Some(after) = expires_in {
                let at = std::time::SystemTime::now()
                    .checked_add(*after)
                    .ok_or_else(|| Failure::new(Exit::Invalid, "--expires-in is too long"))?;
                new = new.expires_at(at);
            }
            out.created("Created", &manager.create_by(&actor, new).await?);
        }
        Command::List {
            limit,
            after,
            status,
            name_prefix,
        } => {
            let filters = list::Filters {
                limit: *limit,
                after: *after,
                status: *status,
                name_prefix: name_prefix.clone(),
            };
            let listed = list::keys(&*manager, workspace, &filters).await?;
            out.keys(&listed.keys, listed.next, |next| {
                list::next_page(next, workspace, &filters)
            });
        }
        Command::Disable { id } => out.key(&manager.disable_by(&actor, workspace, id).await?),
        Command::Enable { id } => out.key(&manager.enable_by(&actor, workspace, id).await?),
        Command::Delete { id, .. } => {
            out.deleted(&manager.delete_by(&actor, workspace, id).await?);
        }
        Command::Import { .. } => {
            let Some(lines) = checked_import else {
                return Ok(());
            };
            let (done, stopped) = match import::import_all(&*manager, &actor, lines).await {
                Ok(done) => (done, None),
                Err((done, line, e)) => (done, Some((line, Failure::from(e)))),
            };
            out.imported(&done, stopped.as_ref().map(|(line, f)| (*line, f)));
            if let Some((_, failure)) = stopped {
                return Err(Failure::reported(failure.exit));
            }
            if done
                .iter()
                .any(|(_, o)| matches!(o, import::Outcome::Refused(_)))
            {
                return Err(Failure::reported(Exit::Refused));
            }
        }
        Command::Show { id } => out.key(&manager.info(workspace, id).await?),
        Command::Revoke { id } => out.key(&manager.revoke_by(&actor, workspace, id).await?),
        Command::Rotate { id, grace } => {
            let rotated = manager.rotate_by(&actor, workspace, id, *grace).await?;
            out.created("Rotated", &rotated)
        }
        Command::Scopes { id, edit } => {
            if edit.is_empty() {
                return Err(Failure::new(
                    Exit::Invalid,
                    "nothing to change: give --add SCOPE or --remove SCOPE",
                ));
            }
            let edit = scope_edit(edit);
            out.key(&manager.update_by(&actor, workspace, id, edit).await?);
        }
        Command::Update {
            id,
            name,
            meta,
            plan,
            no_plan,
            limits,
            clear_limits,
            allow,
            clear_allowed_ips,
            edit,
        } => {
            let moves = plan.is_some() || *no_plan;
            let sets_limits = !limits.is_empty() || *clear_limits;
            let allowed_ips = match (allowlist(allow)?, clear_allowed_ips) {
                (Some(list), _) => Some(list),
                (None, true) => Some(IpAllowlist::any()),
                (None, false) => None,
            };
            let unchanged = name.is_none() && meta.is_none() && allowed_ips.is_none();
            if unchanged && !moves && !sets_limits && edit.is_empty() {
                return Err(Failure::new(
                    Exit::Invalid,
                    "nothing to change: give --name, --meta, --plan, --no-plan, --limit, \
                     --clear-limits, --allow-ip, --clear-allowed-ips, --add SCOPE or \
                     --remove SCOPE",
                ));
            }
            let mut update = scope_edit(edit);
            update.name = name.clone();
            update.metadata = meta.clone();
            update.allowed_ips = allowed_ips;
            if moves {
                update.plan = Some(plan.clone());
            }
            if *clear_limits {
                update.overrides = Some(Overrides::empty());
            } else if !limits.is_empty() {
                // The plan the key will be on: the one it moves to, else its current one.
                let on = match (plan, no_plan) {
                    (Some(plan), _) => Some(plan.clone()),
                    (None, true) => manager.workspace_plan(workspace).await?,
                    (None, false) => manager.info(workspace, id).await?.plan,
                };
                update.overrides = Some(overrides_on(&*manager, on.as_ref(), limits).await?);
            }
            out.key(&manager.update_by(&actor, workspace, id, update).await?);
        }
        Command::Audit { key, limit, before } => {
            let mut query = AuditQuery::new();
            query.key = *key;
            query.before = *before;
            if let Some(limit) = limit {
                query.limit = usize::from(*limit);
            }
            let page = manager.audit(workspace, &query).await?;
            out.audit(&page, |next| {
                audit::next_page(next, workspace, key.as_ref(), *limit)
            });
        }
        Command::Plans(command) => match command {
            PlansCommand::Create(flags) => {
                let plan = flags.plan()?;
                manager.put_plan(plan.clone()).await?;
                out.plan("Defined ", &plan);
            }
            PlansCommand::List => out.plans(&manager.plans().await?),
            PlansCommand::Assign { plan, .. } => {
                manager.set_workspace_plan(workspace, plan.clone()).await?;
                out.assigned(workspace, plan.as_ref());
            }
        },
        Command::Credits {
            id,
            add,
            limit,
            redis,
            redis_namespace,
        } => {
            let info = manager.info(workspace, id).await?;
            let refused = |message: String| Failure::new(Exit::Refused, message);
            let plan_name = info
                .plan
                .ok_or_else(|| refused(format!("key {id} is on no plan: it has no credits")))?;
            // The key's plan with its own limit values: a fresh balance starts at its initial.
            let plan = manager
                .plan(&plan_name)
                .await?
                .ok_or_else(|| refused(format!("the plan {plan_name} is not defined")))?
                .with_overrides(&info.overrides);
            let credits = credits::limit_of(&plan, limit.as_ref())?;
            let target = credits::Target {
                url: redis,
                namespace: redis_namespace,
                prefix: &global.prefix,
            };
            let balance = credits::balance(&target, id, &info.workspace, credits, *add).await?;
            out.credits(id, &plan_name, credits.name(), balance, add.is_some());
        }
        Command::Hash { .. } => {}
    }
    Ok(())
}

/// The overrides `--limit` gives a key that will be on the plan called `plan`, read by the kinds
/// of that plan's limits (an unknown plan is invalid input, as the store would say). The store
/// checks them again as it writes, against the plan as it then is.
async fn overrides_on<M: PlanManager + ?Sized>(
    manager: &M,
    plan: Option<&PlanName>,
    args: &[LimitArg],
) -> Result<Overrides, Failure> {
    let plan: Option<Plan> = match plan {
        Some(name) => Some(manager.plan(name).await?.ok_or_else(|| {
            Failure::new(
                Exit::Invalid,
                format!(
                    "there is no plan named {name}: define it first (keygate plans create {name} …)"
                ),
            )
        })?),
        None => None,
    };
    limits::overrides(plan.as_ref(), args)
}

/// The allowlist `--allow-ip` gives, if any; more networks than a key holds is invalid input.
fn allowlist(allow: &AllowIps) -> Result<Option<IpAllowlist>, Failure> {
    allow
        .allowlist()
        .map_err(|e| Failure::new(Exit::Invalid, format!("--allow-ip: {e}")))
}

/// The scope edit as an update. The store applies it to the key's current scopes in one step:
/// an edit made meanwhile (another operator, the admin API) is kept, not overwritten.
fn scope_edit(edit: &ScopeEdit) -> KeyUpdate {
    KeyUpdate::new()
        .add_scopes(Scopes::new(edit.add.iter().cloned()))
        .remove_scopes(Scopes::new(edit.remove.iter().cloned()))
}

/// The plaintext key from `file`, or from stdin without one; surrounding whitespace (the
/// newline `echo` adds) is dropped. The buffer is wiped when dropped.
fn read_key(file: Option<&Path>) -> Result<Zeroizing<String>, Failure> {
    let mut text = Zeroizing::new(String::new());
    let (read, from) = match file {
        Some(path) => (
            File::open(path).and_then(|mut f| f.read_to_string(&mut text)),
            path.display().to_string(),
        ),
        None => (
            std::io::stdin().read_to_string(&mut text),
            "stdin".to_owned(),
        ),
    };
    read.map_err(|e| {
        Failure::new(
            Exit::Invalid,
            format!("cannot read the key from {from}: {e}"),
        )
    })?;
    let key = Zeroizing::new(text.trim().to_owned());
    if key.is_empty() {
        return Err(Failure::new(
            Exit::Invalid,
            format!(
                "no key in {from}: pipe it on stdin (keygate hash < key.txt) or give --file PATH"
            ),
        ));
    }
    Ok(key)
}

/// The digest of a plaintext key; its prefix is read from the key itself.
fn hash(text: &str, out: Output) -> Result<(), Failure> {
    let invalid = |why: &str| Failure::new(Exit::Invalid, format!("not a keygate key: {why}"));
    let prefix: KeyPrefix = text
        .split('_')
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|e: key::InvalidPrefix| invalid(&e.to_string()))?;
    let parsed = key::parse(text, &prefix).map_err(|e| invalid(e.description()))?;
    out.digest(parsed.id().as_str(), &parsed.digest().to_hex());
    Ok(())
}
