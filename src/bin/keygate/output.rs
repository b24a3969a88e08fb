//! What the commands print: text for people, JSON (`--json`) for scripts.
//!
//! A plaintext key goes alone on stdout (so `KEY=$(keygate create …)` works) with the
//! reminder that it cannot be shown again on stderr; with `--json` both are in one object.

use keygate::audit::{AuditEvent, AuditId, AuditPage};
use keygate::key::KeyId;
use keygate::plan::{LimitName, Plan, PlanName};
use keygate::store::KeyCursor;
use keygate::view::{CreatedKeyView, KeyView, SHOWN_ONCE};
use keygate::{CreatedKey, KeyInfo, Workspace};
use serde::Serialize;
use serde_json::json;

use crate::failure::Failure;
use crate::import::Outcome;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

fn print_json(value: &impl Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error: cannot write JSON: {e}"),
    }
}

fn or_dash(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("-")
}

/// The networks a key may be used from, comma-separated, or `anywhere`.
fn allowed_ips(view: &KeyView) -> String {
    if view.allowed_ips.is_empty() {
        "anywhere".to_owned()
    } else {
        view.allowed_ips.join(",")
    }
}

impl Output {
    /// A key just created or rotated, with its plaintext, once.
    pub fn created(self, what: &str, created: &CreatedKey) {
        let view = CreatedKeyView::from(created);
        if self.json {
            print_json(&view);
            return;
        }
        println!("{}", view.key);
        eprintln!(
            "{what} key {} (id {}) in workspace {} with scopes {}.",
            view.info.name,
            view.info.id,
            view.info.workspace,
            view.info.scopes.join(",")
        );
        if let Some(until) = &view.info.previous_secret_valid_until {
            eprintln!("The previous secret keeps working until {until}.");
        }
        eprintln!("{SHOWN_ONCE}");
    }

    /// A plan just defined.
    pub fn plan(self, what: &str, plan: &Plan) {
        if self.json {
            print_json(&plan.to_json());
            return;
        }
        println!("{what}plan {}:", plan.name());
        for limit in plan.limits() {
            println!("  {}", crate::plans::describe(limit));
        }
    }

    /// Every plan.
    pub fn plans(self, plans: &[Plan]) {
        if self.json {
            let all: Vec<_> = plans.iter().map(Plan::to_json).collect();
            print_json(&json!({ "plans": all }));
            return;
        }
        if plans.is_empty() {
            println!("No plans yet: define one with `keygate plans create`.");
        }
        for plan in plans {
            self.plan("", plan);
        }
    }

    /// A key's credits balance.
    pub fn credits(
        self,
        id: &KeyId,
        plan: &PlanName,
        limit: &LimitName,
        balance: u64,
        added: bool,
    ) {
        if self.json {
            print_json(&json!({
                "id": id.as_str(),
                "plan": plan.as_str(),
                "limit": limit.as_str(),
                "balance": balance,
            }));
            return;
        }
        let what = if added { "now has" } else { "has" };
        println!("Key {id} {what} {balance} credits ({limit} of plan {plan}).");
    }

    /// A workspace put on a plan, or on none.
    pub fn assigned(self, workspace: &Workspace, plan: Option<&PlanName>) {
        if self.json {
            print_json(
                &json!({ "workspace": workspace.as_str(), "plan": plan.map(PlanName::as_str) }),
            );
            return;
        }
        match plan {
            Some(plan) => println!(
                "The keys of workspace {workspace} without a plan of their own are on plan {plan}."
            ),
            None => println!("The keys of workspace {workspace} are on no workspace plan."),
        }
    }

    /// One key.
    pub fn key(self, info: &KeyInfo) {
        let view = KeyView::from(info);
        if self.json {
            print_json(&view);
            return;
        }
        println!("id:          {}", view.id);
        println!("workspace:   {}", view.workspace);
        println!("name:        {}", view.name);
        println!("scopes:      {}", view.scopes.join(","));
        println!("status:      {}", view.status);
        if let Some(quota) = &view.quota {
            println!(
                "quota:       {} at once, one more every {}",
                quota.burst, quota.interval
            );
        }
        if let Some(plan) = &view.plan {
            println!("plan:        {plan}");
        }
        if !info.overrides.is_empty() {
            println!("limits:      {}", crate::limits::describe(&info.overrides));
        }
        println!("allowed ips: {}", allowed_ips(&view));
        println!("created:     {}", view.created_at);
        println!("expires:     {}", or_dash(&view.expires_at));
        println!("last used:   {}", or_dash(&view.last_used_at));
        if !view.metadata.is_empty() {
            println!(
                "metadata:    {}",
                serde_json::Value::from(view.metadata.clone())
            );
        }
        if let Some(at) = &view.revoked_at {
            println!("revoked:     {at}");
        }
        if let Some(until) = &view.previous_secret_valid_until {
            println!("old secret valid until: {until}");
        }
    }

    /// Keys, as a table, and on stderr the command that reads the next page (`next_page`
    /// writes it), if one follows. With `--json`, as the admin API answers `GET /keys`:
    /// `{"keys": [...], "next": "<cursor>" | null}`.
    pub fn keys(
        self,
        infos: &[KeyInfo],
        next: Option<KeyCursor>,
        next_page: impl FnOnce(KeyCursor) -> String,
    ) {
        let views: Vec<KeyView> = infos.iter().map(KeyView::from).collect();
        if self.json {
            let next = next.map(|next| next.to_string());
            print_json(&json!({ "keys": views, "next": next }));
            return;
        }
        if let Some(next) = next {
            eprintln!("More keys follow: {}", next_page(next));
        }
        let rows: Vec<[String; 9]> = views
            .iter()
            .zip(infos)
            .map(|(v, info)| {
                [
                    v.id.clone(),
                    v.name.clone(),
                    v.scopes.join(","),
                    v.status.clone(),
                    v.created_at.clone(),
                    or_dash(&v.expires_at).to_owned(),
                    or_dash(&v.last_used_at).to_owned(),
                    crate::limits::describe(&info.overrides),
                    allowed_ips(v),
                ]
            })
            .collect();
        let header = [
            "ID",
            "NAME",
            "SCOPES",
            "STATUS",
            "CREATED",
            "EXPIRES",
            "LAST USED",
            "LIMITS",
            "ALLOWED IPS",
        ]
        .map(str::to_owned);
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            println!("{}", line.join("  ").trim_end());
        }
    }

    /// A key just deleted, as it was.
    pub fn deleted(self, info: &KeyInfo) {
        self.key(info);
        if !self.json {
            eprintln!(
                "Deleted key {} ({}): its id will never be used again; its audit events stay.",
                info.id, info.name
            );
        }
    }

    /// What an import did, line by line: each key imported (never its secret), each line the
    /// store refused, and the line where the store stopped answering, if it did.
    pub fn imported(self, done: &[(usize, Outcome)], stopped: Option<(usize, &Failure)>) {
        if self.json {
            let mut imported = Vec::new();
            let mut refused = Vec::new();
            for (line, outcome) in done {
                match outcome {
                    Outcome::Imported(info) => {
                        imported.push(json!({ "line": line, "key": KeyView::from(&**info) }))
                    }
                    Outcome::Refused(e) => refused.push(json!({
                        "line": line,
                        "kind": Failure::from_ref(e).kind(),
                        "message": e.to_string(),
                    })),
                }
            }
            let stopped = stopped.map(|(line, failure)| {
                json!({ "line": line, "kind": failure.kind(), "message": failure.message })
            });
            print_json(&json!({ "imported": imported, "refused": refused, "stopped": stopped }));
            return;
        }
        let mut count = 0;
        for (line, outcome) in done {
            match outcome {
                Outcome::Imported(info) => {
                    count += 1;
                    println!("line {line}: imported {} ({})", info.id, info.name);
                }
                Outcome::Refused(e) => eprintln!("line {line}: refused: {e}"),
            }
        }
        eprintln!("Imported {count} of {} key(s).", done.len());
        if let Some((line, failure)) = stopped {
            eprintln!("Stopped at line {line}, not imported: {failure}");
        }
    }

    /// A page of the audit log: one event a line, newest first, and on stderr the command
    /// that reads the next page (`next_page` writes it), if there is one. With `--json`, the
    /// page as the admin API answers it: `{"events": [...], "next": "12" | null}`.
    pub fn audit(self, page: &AuditPage, next_page: impl FnOnce(AuditId) -> String) {
        if self.json {
            let events: Vec<_> = page.events.iter().map(AuditEvent::to_json).collect();
            let next = page.next.map(|next| next.to_string());
            print_json(&json!({ "events": events, "next": next }));
            return;
        }
        if page.events.is_empty() {
            eprintln!("No audit events.");
        }
        for event in &page.events {
            println!("{}", crate::audit::line(event));
        }
        if let Some(next) = page.next {
            eprintln!("More events follow: {}", next_page(next));
        }
    }

    /// A key's digest.
    pub fn digest(self, id: &str, hex: &str) {
        if self.json {
            print_json(&json!({ "id": id, "digest": hex }));
        } else {
            println!("{hex}");
        }
    }

    /// A failure: on stderr as text, or as `{"error": {…}}` on stdout with `--json`.
    pub fn failure(self, failure: &Failure) {
        if self.json {
            print_json(&json!({
                "error": {
                    "kind": failure.kind(),
                    "exit_code": failure.exit as u8,
                    "message": failure.message,
                }
            }));
        } else {
            eprintln!("error: {failure}");
        }
    }
}
