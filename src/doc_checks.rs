//! Checks on the crate documentation that rustdoc cannot make: the crate
//! page's `danger_*` table names every public `danger_*` method, and
//! nothing else.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The type an `impl` line is for: `impl<C> Foo<C> {` and
/// `impl Trait for Foo {` give `Foo`.
fn impl_target(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("impl")?;
    if !(rest.starts_with('<') || rest.starts_with(' ')) {
        return None;
    }
    // Skip the impl's own generics, nesting included.
    let mut depth = 0usize;
    let mut start = 0;
    let mut prev = ' ';
    for (i, ch) in rest.char_indices() {
        let arrow = prev == '-';
        prev = ch;
        match ch {
            '<' => depth += 1,
            '>' if !arrow => depth -= 1,
            _ if depth == 0 => {
                start = i;
                break;
            }
            _ => {}
        }
    }
    let rest = &rest[start..];
    let rest = rest.split(" for ").last()?.trim_start();
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let name = name.rsplit("::").next()?.to_owned();
    (!name.is_empty()).then_some(name)
}

/// Every `pub fn danger_*` in src/, as `Type::danger_name`.
fn public_danger_methods(src: &Path) -> BTreeSet<String> {
    let mut files = Vec::new();
    source_files(src, &mut files);
    let mut found = BTreeSet::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("a readable source file");
        let mut owner: Option<String> = None;
        for line in text.lines() {
            if let Some(target) = impl_target(line) {
                owner = Some(target);
            }
            let trimmed = line.trim_start();
            let Some(rest) = trimmed.strip_prefix("pub fn danger_") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let owner = owner
                .clone()
                .unwrap_or_else(|| panic!("{}: `danger_{name}` outside an impl", file.display()));
            found.insert(format!("{owner}::danger_{name}"));
        }
    }
    found
}

/// Every `Type::danger_*` the crate page's danger table names.
fn danger_table(lib_rs: &str) -> BTreeSet<String> {
    let start = lib_rs
        .find("//! # Weakening a check")
        .expect("src/lib.rs has the danger section");
    let section = &lib_rs[start..];
    let end = section[3..].find("//! # ").map_or(section.len(), |i| i + 3);
    let mut named = BTreeSet::new();
    for line in section[..end].lines().filter(|l| l.starts_with("//! |")) {
        let mut rest = line;
        while let Some(i) = rest.find("::danger_") {
            let owner: String = rest[..i]
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let name: String = rest[i + 2..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            named.insert(format!("{owner}::{name}"));
            rest = &rest[i + 2 + name.len()..];
        }
    }
    named
}

#[test]
fn danger_table_lists_every_public_danger_method() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let methods = public_danger_methods(&root.join("src"));
    let lib_rs = fs::read_to_string(root.join("src/lib.rs")).expect("src/lib.rs");
    let table = danger_table(&lib_rs);
    assert!(
        methods.len() >= 5,
        "the scan found too few danger_* methods: {methods:?}"
    );
    let missing: Vec<_> = methods.difference(&table).collect();
    let stale: Vec<_> = table.difference(&methods).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "the danger table in src/lib.rs (\"Weakening a check\") must name every public \
         `danger_*` method as `Type::danger_name`:\n  missing from the table: {missing:?}\n  \
         in the table but not in src/: {stale:?}"
    );
}

#[test]
fn impl_targets() {
    assert_eq!(impl_target("impl Foo {").as_deref(), Some("Foo"));
    assert_eq!(impl_target("impl<C> Foo<C> {").as_deref(), Some("Foo"));
    assert_eq!(
        impl_target("impl<C: Clone, R> fmt::Debug for Bar<C, R> {").as_deref(),
        Some("Bar")
    );
    assert_eq!(
        impl_target("    impl crate::x::Baz {").as_deref(),
        Some("Baz")
    );
    assert_eq!(
        impl_target("impl<F: Fn() -> u8> Qux<F> {").as_deref(),
        Some("Qux")
    );
    assert_eq!(impl_target("implement"), None);
}
