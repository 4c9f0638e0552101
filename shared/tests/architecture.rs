//! The layering of `shared/src`, checked from the source: data walks one way
//! (adapters → services → storage → domain), support code serves every layer and imports none of
//! them, and no file is part of an import cycle. README, "Architecture", draws the same picture.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module of `shared/src` and its layer; a file may import its own layer and the
/// ones below, never one above, and adapters never reach past the services into storage.
const LAYERS: &[(&str, Layer)] = &[
    ("domain", Layer::Domain),
    ("error", Layer::Support),
    ("scope", Layer::Support),
    ("retry", Layer::Support),
    ("telemetry", Layer::Support),
    ("metrics", Layer::Support),
    ("aws", Layer::Support),
    ("xray", Layer::Support),
    ("repository", Layer::Storage),
    ("cache", Layer::Storage),
    ("queue", Layer::Storage),
    ("search", Layer::Storage),
    ("service", Layer::Service),
    ("http", Layer::Adapter),
    ("worker", Layer::Adapter),
    ("app", Layer::Root),
    ("config", Layer::Root),
    ("lib", Layer::Root),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Domain,
    Support,
    Storage,
    Service,
    Adapter,
    Root,
}

impl Layer {
    fn may_import(self, other: Layer) -> bool {
        match (self, other) {
            // Support code (deadlines, retries, logs) is below everything but the domain.
            (Layer::Support, other) => other <= Layer::Support,
            (Layer::Adapter, Layer::Storage) => false,
            (mine, other) => other <= mine,
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src`, as a path relative to it.
fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path.strip_prefix(src()).expect("under src").to_path_buf());
        }
    }
}

/// The source without its unit tests, whose imports are not part of the design.
fn code_of(file: &Path) -> String {
    let text = fs::read_to_string(src().join(file)).expect("read file");
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn is_facade(file: &Path) -> bool {
    file.file_name().is_some_and(|name| name == "mod.rs" || name == "lib.rs")
}

/// The file that defines module path `segments` (relative to src), or the nearest facade.
fn resolve(segments: &[&str]) -> Option<PathBuf> {
    for take in (1..=segments.len()).rev() {
        let base: PathBuf = segments[..take].iter().collect();
        for candidate in [base.with_extension("rs"), base.join("mod.rs")] {
            if src().join(&candidate).is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

fn words_after<'a>(text: &'a str, prefix: &str) -> Vec<Vec<&'a str>> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let path: Vec<&str> = rest
            .split("::")
            .map(|part| part.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or(""))
            .take_while(|part| !part.is_empty() && part.chars().next().is_some_and(|c| c.is_lowercase()))
            .collect();
        if !path.is_empty() {
            found.push(path);
        }
    }
    found
}

/// The files `file` imports: `crate::…` and `super::…` paths anywhere in its code, and in a facade
/// (`mod.rs`) its own child modules used in code; a facade's `pub use` lines re-export, they do not
/// depend.
fn imports(file: &Path) -> BTreeSet<PathBuf> {
    let code = code_of(file);
    let code: String = if is_facade(file) {
        code.lines().filter(|line| !line.trim_start().starts_with("pub use")).collect::<Vec<_>>().join("\n")
    } else {
        code
    };
    assert!(
        !code.contains("use crate::{"),
        "{}: grouped `use crate::{{…}}` hides its imports from this check",
        file.display()
    );
    let mut found = BTreeSet::new();
    for path in words_after(&code, "crate::") {
        found.extend(resolve(&path));
    }
    // `super::` is the parent module: the file's own folder, or for a facade the folder above.
    let own_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let super_dir =
        if is_facade(file) { own_dir.parent().unwrap_or(Path::new("")).to_path_buf() } else { own_dir.clone() };
    let within = |dir: &Path, path: &[&str]| {
        let mut segments: Vec<String> = dir.iter().map(|part| part.to_string_lossy().into_owned()).collect();
        segments.extend(path.iter().map(|part| (*part).to_owned()));
        resolve(&segments.iter().map(String::as_str).collect::<Vec<_>>())
    };
    for path in words_after(&code, "super::") {
        found.extend(within(&super_dir, &path));
    }
    if is_facade(file) {
        for child in children(file) {
            if code.contains(&format!("{child}::")) {
                found.extend(within(&own_dir, &[child.as_str()]));
            }
        }
    }
    found.remove(file);
    found
}

fn children(facade: &Path) -> Vec<String> {
    code_of(facade)
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(str::to_owned)
        })
        .collect()
}

fn layer_of(file: &Path) -> Layer {
    let top =
        file.iter().next().map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned()).unwrap_or_default();
    LAYERS
        .iter()
        .find(|(name, _)| *name == top)
        .map(|(_, layer)| *layer)
        .unwrap_or_else(|| panic!("{} is in no layer: add its module to LAYERS", file.display()))
}

fn graph() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    all.into_iter().map(|file| (file.clone(), imports(&file))).collect()
}

#[test]
fn imports_point_down_the_layers() {
    let mut wrong = Vec::new();
    for (file, targets) in graph() {
        for target in targets {
            if !layer_of(&file).may_import(layer_of(&target)) {
                wrong.push(format!(
                    "{} ({:?}) -> {} ({:?})",
                    file.display(),
                    layer_of(&file),
                    target.display(),
                    layer_of(&target)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.join("\n"));
}

#[test]
fn no_file_is_part_of_an_import_cycle() {
    let graph = graph();
    let mut cycles = Vec::new();
    // A file is on a cycle when it can reach itself.
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&PathBuf> = graph[start].iter().collect();
        while let Some(next) = stack.pop() {
            if next == start {
                cycles.push(start.display().to_string());
                break;
            }
            if seen.insert(next) {
                stack.extend(graph.get(next).into_iter().flatten());
            }
        }
    }
    assert!(cycles.is_empty(), "files on an import cycle:\n{}", cycles.join("\n"));
}

#[test]
fn the_domain_uses_no_aws_or_http_crate() {
    let mut domain = Vec::new();
    files(&src().join("domain"), &mut domain);
    for file in domain {
        let code = code_of(&file);
        for crate_name in ["aws_", "lambda_", "hyper", "redis"] {
            assert!(!code.contains(crate_name), "{} uses {crate_name}*", file.display());
        }
    }
}

#[test]
fn the_checker_sees_known_edges() {
    // Guards the parser itself: these edges exist, whatever else changes.
    let graph = graph();
    assert!(graph[Path::new("http/serve.rs")].iter().any(|t| t.starts_with("scope") || t == Path::new("scope.rs")));
    assert!(graph[Path::new("retry.rs")].contains(Path::new("scope.rs")));
}
