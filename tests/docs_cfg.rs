//! docs.rs builds with every feature and `--cfg docsrs`: every public item behind a feature
//! must say which one in the API docs (`#[cfg_attr(docsrs, doc(cfg(...)))]` naming the same
//! predicate as its `#[cfg(...)]`), or readers cannot tell what to enable.
//!
//! The sources are parsed, not grepped: a doc comment or another attribute between the gate and
//! the item, a gate written over several lines, a gated `impl` block (its methods and trait
//! impls show on the type's page) and items written inside a macro call are all seen.

use std::path::{Path, PathBuf};

use syn::{Attribute, ImplItem, Item, Meta, TraitItem, Visibility};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The predicates of the item's `#[cfg(...)]` gates that name a feature, as token strings.
fn feature_gates(attrs: &[Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .filter_map(|a| a.meta.require_list().ok().map(|l| l.tokens.to_string()))
        .filter(|p| p.contains("feature"))
        .collect()
}

/// Whether the item is compiled only in tests (its docs are never built).
fn test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.meta.require_list().is_ok_and(|l| {
                let p = l.tokens.to_string();
                !p.contains("not") && (p.contains("test") || p.contains("fuzzing"))
            })
    })
}

/// The predicates named by `#[cfg_attr(docsrs, doc(cfg(...)))]` on the item.
fn doc_cfgs(attrs: &[Attribute]) -> Vec<String> {
    let mut found = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("cfg_attr")) {
        let Ok(list) = attr.meta.require_list() else {
            continue;
        };
        let Ok(args) = list
            .parse_args_with(syn::punctuated::Punctuated::<Meta, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        let mut args = args.iter();
        if !args.next().is_some_and(|m| m.path().is_ident("docsrs")) {
            continue;
        }
        for meta in args {
            let Meta::List(doc) = meta else { continue };
            if !doc.path.is_ident("doc") {
                continue;
            }
            if let Ok(Meta::List(cfg)) = doc.parse_args::<Meta>()
                && cfg.path.is_ident("cfg")
            {
                found.push(cfg.tokens.to_string());
            }
        }
    }
    found
}

/// Checks one item: `what` names it in the report.
fn check(attrs: &[Attribute], public: bool, what: String, faults: &mut Vec<String>) {
    if !public || test_only(attrs) {
        return;
    }
    let marked = doc_cfgs(attrs);
    for gate in feature_gates(attrs) {
        if !marked.contains(&gate) {
            faults.push(format!("{what}: cfg({gate}) without doc(cfg({gate}))"));
        }
    }
}

fn is_pub(vis: &Visibility) -> bool {
    matches!(vis, Visibility::Public(_))
}

fn name_of(item: &Item) -> Option<(String, &Vec<Attribute>, bool)> {
    let (name, attrs, vis) = match item {
        Item::Const(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Enum(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Fn(i) => (i.sig.ident.to_string(), &i.attrs, &i.vis),
        Item::Mod(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Static(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Struct(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Trait(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Type(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Union(i) => (i.ident.to_string(), &i.attrs, &i.vis),
        Item::Use(i) => ("use".to_owned(), &i.attrs, &i.vis),
        _ => return None,
    };
    Some((name, attrs, is_pub(vis)))
}

/// Every public item gated by a feature without a `doc(cfg)` naming the same predicate.
fn unmarked_gates(source: &str) -> Vec<String> {
    let file = syn::parse_file(source).unwrap();
    let mut faults = Vec::new();
    visit(&file.items, &mut faults);
    faults
}

fn visit(items: &[Item], faults: &mut Vec<String>) {
    for item in items {
        if let Some((name, attrs, public)) = name_of(item) {
            check(attrs, public, name, faults);
        }
        match item {
            Item::Mod(m) if !test_only(&m.attrs) => {
                if let Some((_, items)) = &m.content {
                    visit(items, faults);
                }
            }
            Item::Impl(i) if !test_only(&i.attrs) => {
                let ty = quote_type(&i.self_ty);
                // A trait impl is public wherever the type is; an inherent impl's methods are
                // checked one by one.
                check(
                    &i.attrs,
                    i.trait_.is_some(),
                    format!("impl for {ty}"),
                    faults,
                );
                for member in &i.items {
                    if let ImplItem::Fn(f) = member {
                        let public = is_pub(&f.vis) || i.trait_.is_some();
                        let what = format!("{ty}::{}", f.sig.ident);
                        check(&f.attrs, public, what, faults);
                    }
                }
                if i.trait_.is_none() && !feature_gates(&i.attrs).is_empty() {
                    let public = i
                        .items
                        .iter()
                        .any(|m| matches!(m, ImplItem::Fn(f) if is_pub(&f.vis)));
                    check(&i.attrs, public, format!("impl {ty}"), faults);
                }
            }
            Item::Trait(t) if is_pub(&t.vis) => {
                for member in &t.items {
                    if let TraitItem::Fn(f) = member {
                        let what = format!("{}::{}", t.ident, f.sig.ident);
                        check(&f.attrs, true, what, faults);
                    }
                }
            }
            // Items written inside a macro call (`pin_project! { pub struct … }`).
            Item::Macro(m) => {
                if let Ok(inner) = syn::parse2::<syn::File>(m.mac.tokens.clone()) {
                    visit(&inner.items, faults);
                }
            }
            _ => {}
        }
    }
}

fn quote_type(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .map_or_else(String::new, |s| s.ident.to_string()),
        _ => "type".to_owned(),
    }
}

#[test]
fn every_feature_gated_public_item_names_its_feature_in_the_docs() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut faults = Vec::new();
    for file in files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("/bin/"))
    {
        let source = std::fs::read_to_string(file).unwrap();
        for fault in unmarked_gates(&source) {
            faults.push(format!("{}: {fault}", file.display()));
        }
    }
    assert!(faults.is_empty(), "no doc(cfg) on: {faults:#?}");
}

#[test]
fn a_gate_without_doc_cfg_is_found() {
    let source = "#[cfg(feature = \"redis\")]\npub use x::Y;\n\n#[cfg(feature = \"sqlite\")]\n#[cfg_attr(docsrs, doc(cfg(feature = \"sqlite\")))]\npub mod sqlite;\n#[cfg(feature = \"cache\")]\nfn private() {}\n";
    assert_eq!(
        unmarked_gates(source),
        ["use: cfg(feature = \"redis\") without doc(cfg(feature = \"redis\"))"]
    );
}

#[test]
fn a_doc_comment_between_the_gate_and_the_item_does_not_hide_it() {
    let source = "#[cfg(feature = \"axum\")]\n/// The router.\npub fn router() {}\n";
    assert_eq!(unmarked_gates(source).len(), 1);
}

#[test]
fn a_doc_cfg_naming_another_feature_is_found() {
    let source = "#[cfg(feature = \"cache\")]\n#[cfg_attr(docsrs, doc(cfg(feature = \"postgres\")))]\npub struct Cached;\n";
    assert_eq!(unmarked_gates(source).len(), 1);
}

#[test]
fn a_gate_written_over_several_lines_is_read_whole() {
    let source = "#[cfg(any(\n    feature = \"cache\",\n    feature = \"postgres\"\n))]\n#[cfg_attr(docsrs, doc(cfg(any(feature = \"cache\", feature = \"postgres\"))))]\npub struct Both;\n#[cfg(any(\n    feature = \"cache\",\n    feature = \"postgres\"\n))]\npub struct Unmarked;\n";
    assert_eq!(
        unmarked_gates(source),
        [
            "Unmarked: cfg(any (feature = \"cache\" , feature = \"postgres\")) without doc(cfg(any (feature = \"cache\" , feature = \"postgres\")))"
        ]
    );
}

#[test]
fn gated_methods_and_trait_impls_are_found() {
    let source = "pub struct Key;\nimpl Key {\n    #[cfg(feature = \"axum\")]\n    pub fn extract(&self) {}\n    #[cfg(feature = \"axum\")]\n    fn private(&self) {}\n}\n#[cfg(feature = \"serde\")]\nimpl Serialize for Key {}\n";
    assert_eq!(unmarked_gates(source).len(), 2);
}

#[test]
fn items_inside_a_macro_call_are_found() {
    let source =
        "pin_project! {\n    #[cfg(feature = \"axum\")]\n    pub struct Body { inner: u8 }\n}\n";
    assert_eq!(unmarked_gates(source).len(), 1);
}
