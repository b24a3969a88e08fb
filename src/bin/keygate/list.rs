//! `keygate list`: the workspace's keys, oldest first (by creation time, then id). Without
//! `--limit`, every key, read a page at a time; with it, one page and, on stderr, the command
//! that reads the next one.

use keygate::store::{KeyCursor, KeyListQuery, MAX_KEY_PAGE};
use keygate::{KeyInfo, KeyManager, KeyStatus, Workspace};

use crate::failure::Failure;

/// The filters of a listing, as given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub limit: Option<u16>,
    pub after: Option<KeyCursor>,
    pub status: Option<KeyStatus>,
    pub name_prefix: Option<String>,
}

impl Filters {
    fn query(&self, limit: usize, after: Option<KeyCursor>) -> KeyListQuery {
        let mut query = KeyListQuery::new().limit(limit);
        query.after = after;
        query.status = self.status;
        query.name_prefix = self.name_prefix.clone();
        query
    }
}

/// What a listing shows: the keys, and where the next page starts when one follows.
#[derive(Debug)]
pub struct Listed {
    pub keys: Vec<KeyInfo>,
    pub next: Option<KeyCursor>,
}

/// The keys the filters list: one page with `--limit`, else every page, in order.
pub async fn keys<M: KeyManager + ?Sized>(
    manager: &M,
    workspace: &Workspace,
    filters: &Filters,
) -> Result<Listed, Failure> {
    if let Some(limit) = filters.limit {
        let query = filters.query(usize::from(limit), filters.after);
        let page = manager.list_page(workspace, &query).await?;
        return Ok(Listed {
            keys: page.keys,
            next: page.next,
        });
    }
    let mut all: Vec<KeyInfo> = Vec::new();
    let mut after = filters.after;
    loop {
        let query = filters.query(MAX_KEY_PAGE, after);
        let page = manager.list_page(workspace, &query).await?;
        all.extend(page.keys);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(Listed {
        keys: all,
        next: None,
    })
}

/// The command that reads the page after one ending at `next`, with the same filters.
pub fn next_page(next: KeyCursor, workspace: &Workspace, filters: &Filters) -> String {
    let mut command = String::from("keygate list");
    if *workspace != Workspace::default() {
        command.push_str(&format!(" --workspace {workspace}"));
    }
    if let Some(status) = filters.status {
        command.push_str(&format!(" --status {}", status.as_str()));
    }
    if let Some(prefix) = &filters.name_prefix {
        command.push_str(&format!(" --name {prefix}"));
    }
    if let Some(limit) = filters.limit {
        command.push_str(&format!(" --limit {limit}"));
    }
    command.push_str(&format!(" --after {next}"));
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use keygate::{MemoryKeyStore, NewKey};

    async fn store_with(names: &[&str]) -> MemoryKeyStore {
        let store = MemoryKeyStore::new();
        for name in names {
            let new = NewKey::new(name.parse().unwrap(), "read:all".parse().unwrap());
            store.create(new).await.unwrap();
        }
        store
    }

    fn names(page: &Listed) -> Vec<&str> {
        page.keys.iter().map(|k| k.name.as_str()).collect()
    }

    #[tokio::test]
    async fn without_a_limit_every_page_is_read_and_none_follows() {
        let names_given: Vec<String> = (0..1_203).map(|n| format!("k-{n:04}")).collect();
        let refs: Vec<&str> = names_given.iter().map(String::as_str).collect();
        let store = store_with(&refs).await;
        let page = keys(&store, &Workspace::default(), &Filters::default())
            .await
            .unwrap();
        assert_eq!(page.keys.len(), 1_203);
        assert_eq!(page.next, None);
    }

    #[tokio::test]
    async fn with_a_limit_one_page_is_read_and_the_next_named() {
        let store = store_with(&["ci-a", "ci-b", "web", "ci-c"]).await;
        let filters = Filters {
            limit: Some(1),
            name_prefix: Some("ci-".into()),
            ..Filters::default()
        };
        let page = keys(&store, &Workspace::default(), &filters).await.unwrap();
        assert_eq!(names(&page), ["ci-a"]);
        assert!(page.next.is_some());
    }

    #[test]
    fn the_next_page_keeps_the_workspace_filters_and_limit() {
        let cursor: KeyCursor = "12.aB3dE5gH7jK9".parse().unwrap();
        let filters = Filters {
            limit: Some(5),
            status: Some(KeyStatus::Active),
            name_prefix: Some("ci-".into()),
            ..Filters::default()
        };
        let acme: Workspace = "acme".parse().unwrap();
        assert_eq!(
            next_page(cursor, &acme, &filters),
            "keygate list --workspace acme --status active --name ci- --limit 5 --after \
             12.aB3dE5gH7jK9"
        );
    }
}
