//! One path per public item: every public name of the crate is reachable at exactly one path,
//! either at the root (re-exported from a private module) or in its public module, never both.
//!
//! The check reads the sources (every feature on, `cfg(test)` and `cfg(fuzzing)` items off),
//! resolves each `pub use` to the item it names and reports the items that more than one public
//! path reaches. `scripts/public-paths.sh` prints the whole map.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::{Attribute, Item, UseTree, Visibility};

/// The namespace a definition lives in: modules and types, or functions and constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ns {
    Type,
    Value,
}

#[derive(Debug)]
enum Entry {
    Def { public: bool, ns: Ns },
    Mod { public: bool, id: usize },
    Use { public: bool, path: Vec<String> },
}

#[derive(Debug)]
struct Module {
    path: String,
    parent: Option<usize>,
    names: BTreeMap<String, Vec<Entry>>,
}

/// What a path resolves to: a definition (by its defining path), a module, or a name outside
/// the crate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Def(String),
    Module(usize),
    External(String),
}

#[derive(Default)]
struct Crate {
    modules: Vec<Module>,
}

/// Items that exist only in test or fuzzing builds are not part of the public surface.
fn compiled_out(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if !attr.path().is_ident("cfg") {
            return false;
        }
        let tokens = attr.meta.require_list().map(|l| l.tokens.to_string());
        tokens.is_ok_and(|t| !t.contains("not") && (t.contains("test") || t.contains("fuzzing")))
    })
}

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn flatten_use(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
    match tree {
        UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            let mut path = prefix.clone();
            path.push(name.clone());
            if name == "self" {
                path.pop();
                out.push((prefix.last().cloned().unwrap_or_default(), path));
            } else {
                out.push((name, path));
            }
        }
        UseTree::Rename(r) => {
            let mut path = prefix.clone();
            path.push(r.ident.to_string());
            out.push((r.rename.to_string(), path));
        }
        UseTree::Glob(_) => out.push(("*".into(), prefix.clone())),
        UseTree::Group(g) => {
            for tree in &g.items {
                flatten_use(tree, prefix, out);
            }
        }
    }
}

impl Crate {
    fn load(lib: &Path) -> Crate {
        let mut krate = Crate::default();
        let source = std::fs::read_to_string(lib).unwrap();
        let file = syn::parse_file(&source).unwrap();
        let dir = lib.parent().unwrap().to_path_buf();
        krate.add_module("crate".into(), None, &file.items, &dir);
        krate
    }

    /// Adds a module whose items are `items`; its child modules' files are found in `dir`.
    fn add_module(
        &mut self,
        path: String,
        parent: Option<usize>,
        items: &[Item],
        dir: &Path,
    ) -> usize {
        let id = self.modules.len();
        self.modules.push(Module {
            path: path.clone(),
            parent,
            names: BTreeMap::new(),
        });
        for item in items {
            let (name, entry) = match item {
                Item::Mod(m) if !compiled_out(&m.attrs) => {
                    let name = m.ident.to_string();
                    let child = format!("{path}::{name}");
                    let child_id = match &m.content {
                        Some((_, items)) => {
                            self.add_module(child, Some(id), items, &dir.join(&name))
                        }
                        None => {
                            let (file, child_dir) = module_file(dir, &name);
                            let source = std::fs::read_to_string(&file)
                                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                            let parsed = syn::parse_file(&source)
                                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                            self.add_module(child, Some(id), &parsed.items, &child_dir)
                        }
                    };
                    (
                        name,
                        Entry::Mod {
                            public: is_pub(&m.vis),
                            id: child_id,
                        },
                    )
                }
                Item::Use(u) if !compiled_out(&u.attrs) => {
                    let mut flat = Vec::new();
                    flatten_use(&u.tree, &mut Vec::new(), &mut flat);
                    for (name, path) in flat {
                        assert!(
                            name != "*" || !is_pub(&u.vis),
                            "{path:?}: a public glob re-export hides which names it exports"
                        );
                        if name != "*" && name != "_" {
                            self.modules[id]
                                .names
                                .entry(name)
                                .or_default()
                                .push(Entry::Use {
                                    public: is_pub(&u.vis),
                                    path,
                                });
                        }
                    }
                    continue;
                }
                // Items written inside a macro call (`pin_project! { pub struct … }`).
                Item::Macro(m) if m.ident.is_none() && !compiled_out(&m.attrs) => {
                    if let Ok(inner) = syn::parse2::<syn::File>(m.mac.tokens.clone()) {
                        for item in &inner.items {
                            if let Some((name, vis, ns)) = definition(item) {
                                let entry = Entry::Def {
                                    public: is_pub(vis),
                                    ns,
                                };
                                self.modules[id].names.entry(name).or_default().push(entry);
                            }
                        }
                    }
                    continue;
                }
                _ => match definition(item) {
                    Some((name, vis, ns)) => (
                        name,
                        Entry::Def {
                            public: is_pub(vis),
                            ns,
                        },
                    ),
                    None => continue,
                },
            };
            self.modules[id].names.entry(name).or_default().push(entry);
        }
        id
    }

    /// What `name` names in module `id`, in every namespace.
    fn lookup(&self, id: usize, name: &str, depth: usize) -> Vec<Target> {
        let entries = self.modules[id]
            .names
            .get(name)
            .map_or(&[][..], Vec::as_slice);
        entries
            .iter()
            .flat_map(|entry| self.targets(id, name, entry, depth))
            .collect()
    }

    /// What one entry `name` of module `id` reaches.
    fn targets(&self, id: usize, name: &str, entry: &Entry, depth: usize) -> Vec<Target> {
        match entry {
            Entry::Def { ns, .. } => {
                let suffix = if *ns == Ns::Value { " (value)" } else { "" };
                vec![Target::Def(format!(
                    "{}::{name}{suffix}",
                    self.modules[id].path
                ))]
            }
            Entry::Mod { id, .. } => vec![Target::Module(*id)],
            Entry::Use { path, .. } => self.resolve(id, path, depth + 1),
        }
    }

    /// The module `name` declared in module `id`, if there is one.
    fn child_module(&self, id: usize, name: &str) -> Option<usize> {
        let entries = self.modules[id].names.get(name)?;
        entries.iter().find_map(|entry| match entry {
            Entry::Mod { id, .. } => Some(*id),
            _ => None,
        })
    }

    /// Resolves a `use` path written in module `id`.
    fn resolve(&self, id: usize, path: &[String], depth: usize) -> Vec<Target> {
        assert!(depth < 64, "cyclic re-exports at {path:?}");
        let (first, rest) = path.split_first().expect("empty use path");
        let mut current = match first.as_str() {
            "crate" => vec![Target::Module(0)],
            "self" => vec![Target::Module(id)],
            "super" => vec![Target::Module(
                self.modules[id].parent.expect("super of crate"),
            )],
            // A path starts with a module (the type namespace): `use router::router;` names the
            // function `router` of module `router`, not itself.
            name => match self.child_module(id, name) {
                Some(child) => vec![Target::Module(child)],
                None => match self.lookup(id, name, depth) {
                    found if found.is_empty() => vec![Target::External(path.join("::"))],
                    found => found,
                },
            },
        };
        for segment in rest {
            let mut next = Vec::new();
            for target in &current {
                match target {
                    Target::Module(m) if segment == "super" => next.push(Target::Module(
                        self.modules[*m].parent.expect("super of crate"),
                    )),
                    Target::Module(m) => next.extend(self.lookup(*m, segment, depth)),
                    Target::Def(p) => next.push(Target::Def(format!("{p}::{segment}"))),
                    Target::External(_) => {}
                }
            }
            if current.iter().any(|t| matches!(t, Target::External(_))) {
                next = vec![Target::External(path.join("::"))];
            }
            assert!(
                !next.is_empty(),
                "{path:?} in {} does not resolve",
                self.modules[id].path
            );
            current = next;
        }
        current.sort();
        current.dedup();
        current
    }

    /// Every public path of the crate, mapped to the item it reaches.
    fn public_paths(&self) -> BTreeMap<String, Target> {
        let mut paths = BTreeMap::new();
        let mut visited = BTreeSet::from([0]);
        self.walk(0, "keygate", &mut visited, &mut paths);
        paths
    }

    fn walk(
        &self,
        id: usize,
        prefix: &str,
        visited: &mut BTreeSet<usize>,
        paths: &mut BTreeMap<String, Target>,
    ) {
        for (name, entries) in &self.modules[id].names {
            for entry in entries {
                let public = match entry {
                    Entry::Def { public, .. } | Entry::Mod { public, .. } => *public,
                    Entry::Use { public, .. } => *public,
                };
                if !public {
                    continue;
                }
                let targets = self.targets(id, name, entry, 0);
                for target in targets {
                    let here = format!("{prefix}::{name}");
                    let key = match &target {
                        Target::Def(p) if p.ends_with(" (value)") => format!("{here} (value)"),
                        _ => here.clone(),
                    };
                    if let Target::Module(m) = target
                        && visited.insert(m)
                    {
                        self.walk(m, &here, visited, paths);
                    }
                    paths.insert(key, target);
                }
            }
        }
    }

    /// The items reachable at more than one public path, with those paths.
    fn duplicates(&self) -> Vec<(String, Vec<String>)> {
        let mut by_item: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (path, target) in self.public_paths() {
            let item = match target {
                Target::Def(p) | Target::External(p) => p,
                Target::Module(m) => format!("mod {}", self.modules[m].path),
            };
            by_item.entry(item).or_default().push(path);
        }
        by_item
            .into_iter()
            .filter(|(_, paths)| paths.len() > 1)
            .collect()
    }
}

/// The file of module `name` declared in a module whose children live in `dir`, and the
/// directory of its own children: `dir/name.rs` (children in `dir/name/`) or `dir/name/mod.rs`.
fn module_file(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let flat = dir.join(format!("{name}.rs"));
    let nested = dir.join(name).join("mod.rs");
    let file = if flat.exists() { flat } else { nested };
    (file, dir.join(name))
}

fn definition(item: &Item) -> Option<(String, &Visibility, Ns)> {
    let (ident, vis, ns, attrs) = match item {
        Item::Struct(i) => (&i.ident, &i.vis, Ns::Type, &i.attrs),
        Item::Enum(i) => (&i.ident, &i.vis, Ns::Type, &i.attrs),
        Item::Union(i) => (&i.ident, &i.vis, Ns::Type, &i.attrs),
        Item::Trait(i) => (&i.ident, &i.vis, Ns::Type, &i.attrs),
        Item::TraitAlias(i) => (&i.ident, &i.vis, Ns::Type, &i.attrs),
        Item::Type(i) => (&i.ident, &i.vis, Ns::Type, &i.attrs),
        Item::Fn(i) => (&i.sig.ident, &i.vis, Ns::Value, &i.attrs),
        Item::Const(i) => (&i.ident, &i.vis, Ns::Value, &i.attrs),
        Item::Static(i) => (&i.ident, &i.vis, Ns::Value, &i.attrs),
        _ => return None,
    };
    (!compiled_out(attrs)).then(|| (ident.to_string(), vis, ns))
}

fn keygate() -> Crate {
    Crate::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
}

fn report(duplicates: &[(String, Vec<String>)]) -> String {
    duplicates
        .iter()
        .map(|(item, paths)| format!("\n  {item}: {}", paths.join(", ")))
        .collect()
}

#[test]
fn every_public_item_has_exactly_one_path() {
    let duplicates = keygate().duplicates();
    assert!(
        duplicates.is_empty(),
        "{} items are reachable at more than one public path:{}",
        duplicates.len(),
        report(&duplicates)
    );
}

/// Writes a small crate into a temporary directory and loads it.
fn fixture(files: &[(&str, &str)]) -> Crate {
    let dir = tempfile::tempdir().unwrap();
    for (path, source) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    Crate::load(&dir.path().join("lib.rs"))
}

#[test]
fn a_root_re_export_of_a_public_module_item_is_reported() {
    let krate = fixture(&[
        (
            "lib.rs",
            "pub mod a;\nmod b;\npub use a::X;\npub use b::Y;\n",
        ),
        ("a.rs", "pub struct X;\n"),
        ("b.rs", "pub struct Y;\n"),
    ]);
    let duplicates = krate.duplicates();
    assert_eq!(
        duplicates,
        [(
            "crate::a::X".to_owned(),
            vec!["keygate::X".to_owned(), "keygate::a::X".to_owned()]
        )]
    );
}

#[test]
fn a_re_export_through_a_chain_of_modules_is_followed_to_its_item() {
    let krate = fixture(&[
        ("lib.rs", "pub mod store;\npub use store::Cached;\n"),
        (
            "store/mod.rs",
            "#[cfg(feature = \"cache\")]\npub mod cache;\npub use self::cache::Cached;\n",
        ),
        ("store/cache.rs", "mod inner;\npub use inner::Cached;\n"),
        ("store/cache/inner.rs", "pub struct Cached;\n"),
    ]);
    let paths: Vec<_> = krate
        .duplicates()
        .into_iter()
        .flat_map(|(_, p)| p)
        .collect();
    assert_eq!(
        paths,
        [
            "keygate::Cached",
            "keygate::store::Cached",
            "keygate::store::cache::Cached"
        ]
    );
}

#[test]
fn a_function_and_a_module_of_the_same_name_are_two_items() {
    let krate = fixture(&[
        ("lib.rs", "pub mod admin;\n"),
        ("admin/mod.rs", "mod router;\npub use router::router;\n"),
        ("admin/router.rs", "pub fn router() {}\n"),
    ]);
    assert!(krate.duplicates().is_empty());
    assert!(
        krate
            .public_paths()
            .contains_key("keygate::admin::router (value)")
    );
}

#[test]
fn test_only_items_are_not_public_paths() {
    let krate = fixture(&[
        ("lib.rs", "pub mod a;\n#[cfg(test)]\npub use a::X;\n"),
        ("a.rs", "pub struct X;\n"),
    ]);
    assert!(krate.duplicates().is_empty());
}

/// `scripts/public-paths.sh` runs this to print every public path and the item it reaches.
#[test]
#[ignore = "prints the map; run by scripts/public-paths.sh"]
fn print_public_paths() {
    let krate = keygate();
    for (path, target) in krate.public_paths() {
        let item = match target {
            Target::Def(p) | Target::External(p) => p,
            Target::Module(m) => format!("mod {}", krate.modules[m].path),
        };
        println!("{path}\t{item}");
    }
    println!("duplicates:{}", report(&krate.duplicates()));
}
