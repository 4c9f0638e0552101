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
    ("trace", Layer::Support),
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

/// The source without its unit tests, whose imports are not part of the design, and comments.
fn code_of(file: &Path) -> String {
    let text = fs::read_to_string(src().join(file)).expect("read file");
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text,
    };
    // Comments (doc links included) name paths without depending on them.
    code.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn is_facade(file: &Path) -> bool {
    file.file_name().is_some_and(|name| name == "mod.rs" || name == "lib.rs")
}

/// The module a file's relative paths start from: a facade's folder, or `a.rs`'s `a/`.
fn module_dir(file: &Path) -> Vec<String> {
    let dir =
        if is_facade(file) { file.parent().unwrap_or(Path::new("")).to_path_buf() } else { file.with_extension("") };
    dir.iter().map(|part| part.to_string_lossy().into_owned()).collect()
}

/// The file that defines the item at `segments` (module path then item name, relative to src):
/// the deepest module file on the path, then, where that file only re-exports the item
/// (`pub use child::Item`), the file it comes from, followed to its end.
fn resolve(segments: &[String]) -> Option<PathBuf> {
    resolve_within(segments, 0)
}

fn resolve_within(segments: &[String], depth: usize) -> Option<PathBuf> {
    for take in (1..=segments.len()).rev() {
        let base: PathBuf = segments[..take].iter().collect();
        for candidate in [base.with_extension("rs"), base.join("mod.rs")] {
            if !src().join(&candidate).is_file() {
                continue;
            }
            let followed = segments
                .get(take)
                .filter(|_| depth < 8)
                .and_then(|item| re_export(&candidate, item))
                .and_then(|path| resolve_within(&path, depth + 1));
            return Some(followed.unwrap_or(candidate));
        }
    }
    None
}

/// Where `file`'s `pub use` lines say `item` comes from, as a path relative to src.
fn re_export(file: &Path, item: &str) -> Option<Vec<String>> {
    let code = code_of(file);
    let here = module_dir(file);
    // Each `pub use …;` statement, however many lines it spans.
    let exported: String = code
        .match_indices("use ")
        .filter(|(at, _)| is_re_export(&code[code[..*at].rfind('\n').map_or(0, |nl| nl + 1)..]))
        .map(|(at, _)| code[at..].split(';').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(";\n");
    let path = use_paths(&exported, "use ").into_iter().find(|path| path.last().is_some_and(|last| last == item))?;
    let tail = || path[1..].iter().cloned();
    Some(match path.first().map(String::as_str) {
        Some("crate") => tail().collect(),
        Some("super") => here[..here.len().saturating_sub(1)].iter().cloned().chain(tail()).collect(),
        Some("self") => here.iter().cloned().chain(tail()).collect(),
        _ => here.iter().chain(&path).cloned().collect(),
    })
}

fn is_re_export(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("pub use ") || line.starts_with("pub(crate) use ")
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every path a use-tree starting at `text` names: `a::b::{C, d::{E, F as G}, self}` gives
/// `a::b::C`, `a::b::d::E`, `a::b::d::F` and `a::b`. Stops at anything that is not part of a path.
fn tree(text: &str, prefix: &[String], found: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let skipped = rest.len() - rest.trim_start().len();
        let rest = rest.trim_start();
        if rest.starts_with('{') {
            at += skipped + 1;
            loop {
                let inner = &text[at..];
                let space = inner.len() - inner.trim_start().len();
                at += space;
                if text[at..].starts_with('}') {
                    return at + 1;
                }
                at += tree(&text[at..], &path, found);
                let inner = &text[at..];
                at += inner.len() - inner.trim_start().len();
                if text[at..].starts_with(',') {
                    at += 1;
                } else if text[at..].starts_with('}') {
                    return at + 1;
                } else {
                    return at;
                }
            }
        }
        let word: String = rest.chars().take_while(|&c| is_ident(c)).collect();
        if word.is_empty() {
            break;
        }
        at += skipped + word.len();
        if word != "self" {
            path.push(word);
        }
        if text[at..].starts_with("::") {
            at += 2;
        } else {
            break;
        }
    }
    if path.len() > prefix.len() || path.is_empty() {
        found.push(path);
    } else {
        found.push(prefix.to_vec());
    }
    at
}

/// The paths after each `prefix` (not inside another word): `crate::a::B`, `use x::{..}`.
fn use_paths(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(prefix) {
        let start = from + at;
        from = start + prefix.len();
        if code[..start].chars().last().is_some_and(is_ident) {
            continue;
        }
        tree(&code[from..], &[], &mut found);
    }
    found
}

/// The files `file` imports: `crate::…` and `super::…` paths anywhere in its code (followed through
/// re-exports to the file that defines the item), and in a facade (`mod.rs`) its own child modules
/// used in code; a facade's `pub use` lines re-export, they do not depend.
fn imports(file: &Path) -> BTreeSet<PathBuf> {
    let code = code_of(file);
    let code: String = if is_facade(file) {
        code.lines().filter(|line| !is_re_export(line)).collect::<Vec<_>>().join("\n")
    } else {
        code
    };
    assert!(
        !code.contains("use crate::{"),
        "{}: grouped `use crate::{{…}}` hides its imports from this check",
        file.display()
    );
    let mut found = BTreeSet::new();
    for path in use_paths(&code, "crate::") {
        found.extend(resolve(&path));
    }
    // `super::` is the parent module: the file's own folder, or for a facade the folder above.
    let own_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let super_dir =
        if is_facade(file) { own_dir.parent().unwrap_or(Path::new("")).to_path_buf() } else { own_dir.clone() };
    let within = |dir: &Path, path: &[String]| {
        let mut segments: Vec<String> = dir.iter().map(|part| part.to_string_lossy().into_owned()).collect();
        segments.extend(path.iter().cloned());
        resolve(&segments)
    };
    for path in use_paths(&code, "super::") {
        found.extend(within(&super_dir, &path));
    }
    if is_facade(file) {
        for child in children(file) {
            if code.contains(&format!("{child}::")) {
                found.extend(within(&own_dir, std::slice::from_ref(&child)));
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
    let cycles: Vec<String> = on_a_cycle(&graph()).iter().map(|file| file.display().to_string()).collect();
    assert!(cycles.is_empty(), "files on an import cycle:\n{}", cycles.join("\n"));
}

/// The nodes of `graph` that can reach themselves.
fn on_a_cycle<T: Ord>(graph: &BTreeMap<T, BTreeSet<T>>) -> Vec<&T> {
    let mut cycles = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&T> = graph[start].iter().collect();
        while let Some(next) = stack.pop() {
            if next == start {
                cycles.push(start);
                break;
            }
            if seen.insert(next) {
                stack.extend(graph.get(next).into_iter().flatten());
            }
        }
    }
    cycles
}

/// The top-level module a file belongs to (`xray/segment.rs` is in `xray`).
fn module_of(file: &Path) -> String {
    file.iter().next().map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned()).unwrap_or_default()
}

#[test]
fn no_module_is_part_of_an_import_cycle() {
    // Files can avoid a cycle that their modules still make (a.rs -> b/x.rs, b/y.rs -> a.rs): the
    // two modules can then neither be read nor moved apart, so modules get the same check.
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, targets) in graph() {
        let from = module_of(&file);
        let to: Vec<String> = targets
            .iter()
            .map(|target| module_of(target))
            .filter(|module| *module != from && module != "lib")
            .collect();
        modules.entry(from).or_default().extend(to);
    }
    let cycles = on_a_cycle(&modules);
    assert!(cycles.is_empty(), "modules on an import cycle: {cycles:?}");
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
    // Through a facade's re-export to the file that defines the item, grouped imports included.
    assert!(graph[Path::new("http/gate.rs")].contains(Path::new("service/ratelimit.rs")));
    assert!(graph[Path::new("cache/repository.rs")].contains(Path::new("repository/error.rs")));
}
