//! The architecture's invariants (ARCHITECTURE.md), checked on the source tree of every workspace
//! member: the crates depend downwards only, no module imports in a circle, HTTP statuses are chosen
//! in one place, SQL and HTTP stay in their own modules, one generator draws every random number,
//! and every `/v1/` path is spelt once, in the endpoint table.
//!
//! The scan reads code as text: comments, string contents and `#[cfg(test)]` items are removed
//! first, so a test module or a doc comment never counts.

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// A workspace member: its package name, its directory and what it needs to build (normal
/// dependencies; dev-dependencies are for its tests only).
struct Member {
    name: String,
    dir: PathBuf,
    deps: BTreeSet<String>,
}

fn members() -> Vec<Member> {
    let root = workspace();
    let read = |p: &Path| -> toml::Table {
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        text.parse()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let top = read(&root.join("Cargo.toml"));
    top["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .map(|m| {
            let dir = root.join(m.as_str().expect("member path"));
            let manifest = read(&dir.join("Cargo.toml"));
            let name = manifest["package"]["name"].as_str().unwrap().to_string();
            let deps = manifest
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default();
            Member { name, dir, deps }
        })
        .collect()
}

/// One source file read as code.
struct Source {
    /// Relative to the workspace, with `/` separators.
    path: String,
    /// The text with comments and string contents blanked and `#[cfg(test)]` items removed
    /// (byte offsets kept).
    code: String,
    /// The string literals outside test items, as written between their quotes.
    strings: Vec<String>,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every file under a member's `src/`.
fn sources(member: &Member) -> Vec<Source> {
    let mut files = Vec::new();
    rust_files(&member.dir.join("src"), &mut files);
    let root = workspace();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let path = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            read_code(path, &text)
        })
        .collect()
}

fn blank(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
}

/// Splits Rust text into code and string literals: comments (nested block comments too) and the
/// contents of string, raw-string and char literals are blanked; lifetimes are left alone.
fn read_code(path: String, text: &str) -> Source {
    let b = text.as_bytes();
    let mut code = String::with_capacity(text.len());
    let mut strings: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(b.len(), |n| i + n);
            blank(&mut code, &text[i..end]);
            i = end;
        } else if rest.starts_with("/*") {
            let (mut depth, mut j) = (0usize, i);
            while j < b.len() {
                if text[j..].starts_with("/*") {
                    depth += 1;
                    j += 2;
                } else if text[j..].starts_with("*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut code, &text[i..j]);
            i = j;
        } else if b[i] == b'r'
            && (i == 0 || !ident(b[i - 1]) || (b[i - 1] == b'b' && (i < 2 || !ident(b[i - 2]))))
            && rest[1..].trim_start_matches('#').starts_with('"')
        {
            // r"…", r#"…"#, br"…"
            let hashes = rest[1..].len() - rest[1..].trim_start_matches('#').len();
            let open = i + 1 + hashes + 1;
            let close = format!("\"{}", "#".repeat(hashes));
            let end = text[open..].find(&close).map_or(b.len(), |n| open + n);
            code.push_str(&text[i..open]);
            strings.push((i, text[open..end].to_string()));
            blank(&mut code, &text[open..end]);
            let after = (end + close.len()).min(b.len());
            code.push_str(&text[end..after]);
            i = after;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let j = j.min(b.len());
            code.push('"');
            strings.push((i, text[i + 1..j].to_string()));
            blank(&mut code, &text[i + 1..j]);
            if j < b.len() {
                code.push('"');
            }
            i = j + 1;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\'', '"') or a lifetime ('a).
            let end = if rest[1..].starts_with('\\') {
                rest[2..].find('\'').map(|n| i + 2 + n + 1)
            } else {
                let mut cs = rest[1..].char_indices();
                match (cs.next(), cs.next()) {
                    (Some(_), Some((n, '\''))) => Some(i + 1 + n + 1),
                    _ => None,
                }
            };
            match end {
                Some(end) => {
                    code.push('\'');
                    blank(&mut code, &text[i + 1..end - 1]);
                    code.push('\'');
                    i = end;
                }
                None => {
                    code.push('\'');
                    i += 1;
                }
            }
        } else {
            let c = rest.chars().next().unwrap();
            code.push(c);
            i += c.len_utf8();
        }
    }
    let tests = test_items(&code);
    for &(start, end) in &tests {
        let gap: String = code[start..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        code.replace_range(start..end, &gap);
    }
    let strings = strings
        .into_iter()
        .filter(|(at, _)| !tests.iter().any(|&(s, e)| (s..e).contains(at)))
        .map(|(_, s)| s)
        .collect();
    Source {
        path,
        code,
        strings,
    }
}

/// The byte ranges of `#[cfg(test)]` items: from the attribute to the item's `;` or the brace that
/// closes its body.
fn test_items(code: &str) -> Vec<(usize, usize)> {
    let attr = Regex::new(r"#\[cfg\(test\)\]").unwrap();
    let b = code.as_bytes();
    let mut out: Vec<(usize, usize)> = Vec::new();
    for m in attr.find_iter(code) {
        if out.last().is_some_and(|&(_, e)| m.start() < e) {
            continue;
        }
        let mut j = m.end();
        let mut depth = 0usize;
        while j < b.len() {
            match b[j] {
                b';' if depth == 0 => {
                    j += 1;
                    break;
                }
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        out.push((m.start(), j));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Module imports

type Module = Vec<String>;

/// A crate's modules, one per file (`a/mod.rs` and `a.rs` are module `a`; `lib.rs` is the root);
/// `src/bin/` holds separate crates and is left out.
fn modules(member: &Member, files: &[Source]) -> BTreeMap<Module, usize> {
    let src = member
        .dir
        .strip_prefix(workspace())
        .unwrap()
        .join("src")
        .to_string_lossy()
        .replace('\\', "/");
    let mut out = BTreeMap::new();
    for (n, f) in files.iter().enumerate() {
        let rel = f.path.strip_prefix(&format!("{src}/")).unwrap();
        let mut parts: Module = rel
            .trim_end_matches(".rs")
            .split('/')
            .map(String::from)
            .collect();
        if parts[0] == "bin" {
            continue;
        }
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        out.insert(parts, n);
    }
    out
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e` (whitespace removed first).
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<&str> {
        let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&s[start..]);
        parts.into_iter().filter(|p| !p.is_empty()).collect()
    }
    fn go(prefix: &[String], s: &str, out: &mut Vec<Vec<String>>) {
        match s.find('{') {
            None => {
                let mut p = prefix.to_vec();
                // `x as y` names x.
                let s = s.split(" as ").next().unwrap_or(s);
                p.extend(s.split("::").filter(|x| !x.is_empty()).map(String::from));
                out.push(p);
            }
            Some(open) => {
                let close = s.rfind('}').unwrap_or(s.len());
                let mut p = prefix.to_vec();
                p.extend(
                    s[..open]
                        .split("::")
                        .filter(|x| !x.is_empty())
                        .map(String::from),
                );
                for part in split_top(&s[open + 1..close]) {
                    go(&p, part, out);
                }
            }
        }
    }
    let compact: String = tree
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" ::", "::")
        .replace("{ ", "{")
        .replace(" }", "}")
        .replace(", ", ",");
    let mut out = Vec::new();
    for part in split_top(&compact) {
        go(&[], part, &mut out);
    }
    out
}

/// The module a path from `from` names: `crate::`, `self::`, `super::` or a child module's name
/// first, then the longest prefix that is a module. `None` for other crates' paths.
fn resolve(mods: &BTreeMap<Module, usize>, from: &Module, path: &[String]) -> Option<Module> {
    let (first, rest) = path.split_first()?;
    let mut full: Module = match first.as_str() {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from[..from.len().saturating_sub(1)].to_vec(),
        name => {
            let mut child = from.clone();
            child.push(name.to_string());
            if !mods.contains_key(&child) {
                return None;
            }
            child
        }
    };
    for x in rest {
        match x.as_str() {
            "super" => {
                full.pop();
            }
            "self" | "*" => {}
            x => full.push(x.to_string()),
        }
    }
    (0..=full.len())
        .rev()
        .map(|k| full[..k].to_vec())
        .find(|m| mods.contains_key(m))
}

/// Which modules each module names, through `use` trees and paths in code.
fn imports(mods: &BTreeMap<Module, usize>, files: &[Source]) -> BTreeMap<Module, BTreeSet<Module>> {
    let use_stmt = Regex::new(r"\buse\s+([^;]+);").unwrap();
    let path = Regex::new(r"(?:^|[^\w:])([A-Za-z_]\w*(?:\s*::\s*[A-Za-z_]\w*)+)").unwrap();
    let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, &n) in mods {
        let code = &files[n].code;
        let mut paths: Vec<Vec<String>> = Vec::new();
        for u in use_stmt.captures_iter(code) {
            paths.extend(expand_use(&u[1]));
        }
        for p in path.captures_iter(code) {
            paths.push(p[1].split("::").map(|s| s.trim().to_string()).collect());
        }
        let to = g.entry(m.clone()).or_default();
        for p in paths {
            if let Some(t) = resolve(mods, m, &p)
                && &t != m
            {
                to.insert(t);
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn circles(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on: BTreeSet<&'a Module>,
        out: Vec<Vec<Module>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on.remove(w);
                    comp.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    self.out.push(comp);
                }
            }
        }
    }
    let mut walk = Walk {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

#[test]
fn no_module_imports_in_a_circle() {
    let mut found = Vec::new();
    let mut counted = 0;
    for member in members() {
        let files = sources(&member);
        let mods = modules(&member, &files);
        counted += mods.len();
        let g = imports(&mods, &files);
        for comp in circles(&g) {
            let inside: BTreeSet<&Module> = comp.iter().collect();
            let edges: Vec<String> = comp
                .iter()
                .flat_map(|m| {
                    g[m].iter()
                        .filter(|t| inside.contains(t))
                        .map(move |t| format!("{} → {}", name(m), name(t)))
                })
                .collect();
            found.push(format!("{}: {}", member.name, edges.join(", ")));
        }
    }
    assert!(counted > 100, "the scan found only {counted} modules");
    assert!(
        found.is_empty(),
        "modules that import each other (move the shared part into a module both use):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_a_circle_through_use_trees_and_paths() {
    let member = Member {
        name: "fixture".into(),
        dir: workspace().join("fixture"),
        deps: BTreeSet::new(),
    };
    let file = |path: &str, text: &str| read_code(format!("fixture/src/{path}"), text);
    let files = vec![
        file("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        file("a/mod.rs", "mod inner;\nuse crate::{b::{self, Thing}};\n"),
        file(
            "a/inner.rs",
            "// crate::c::X in a comment\nfn f() { let _ = \"crate::c\"; }\n",
        ),
        file(
            "b.rs",
            "pub fn g() { super::c::h() }\n#[cfg(test)]\nmod tests { use crate::a; }\n",
        ),
        file("c.rs", "pub fn h() { let _ = '\"'; crate::a::go(); }\n"),
    ];
    let mods = modules(&member, &files);
    let g = imports(&mods, &files);
    let m = |s: &str| s.split("::").map(String::from).collect::<Module>();
    assert_eq!(circles(&g), vec![vec![m("a"), m("b"), m("c")]]);
    // Neither the comment, the string nor the test module counts.
    assert!(g[&m("a::inner")].is_empty());
    assert_eq!(g[&m("b")], BTreeSet::from([m("c")]));
}

// ---------------------------------------------------------------------------------------------
// Crates

/// Each member's layer: a crate depends only on crates of lower layers.
const LAYERS: &[(&str, u8)] = &[
    ("dx-protocol", 0),
    ("dx-model", 1),
    ("dx-scenario", 2),
    ("dx-exchange", 2),
    ("dx-client", 2),
    ("dx-reports", 2),
    ("dx-population", 3),
    ("dx-conformance", 3),
    ("dx-workload", 4),
    ("dx-capacity", 5),
    ("dx-drive", 5),
    ("dx-rollout", 6),
    ("dx-sim", 7),
    ("dx-e2e", 8),
];

#[test]
fn crates_depend_downwards_only() {
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let members = members();
    let mut wrong = Vec::new();
    for m in &members {
        let Some(&own) = layer.get(m.name.as_str()) else {
            wrong.push(format!(
                "{} has no layer in ARCHITECTURE.md's table",
                m.name
            ));
            continue;
        };
        for d in m.deps.iter().filter(|d| d.starts_with("dx-")) {
            match layer.get(d.as_str()) {
                Some(&l) if l < own => {}
                _ => wrong.push(format!("{} (layer {own}) depends on {d}", m.name)),
            }
        }
    }
    assert_eq!(
        members.len(),
        LAYERS.len(),
        "a layer names a crate that is not a member"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The exchange's seams

fn exchange() -> Vec<Source> {
    let member = members()
        .into_iter()
        .find(|m| m.name == "dx-exchange")
        .unwrap();
    sources(&member)
}

fn mentions(files: &[Source], word: &str) -> Vec<String> {
    let re = Regex::new(&format!(r"\b{word}\b")).unwrap();
    files
        .iter()
        .filter(|f| re.is_match(&f.code))
        .map(|f| f.path.clone())
        .collect()
}

#[test]
fn only_the_refusal_mapping_and_the_endpoint_table_choose_statuses() {
    let files = exchange();
    assert_eq!(
        mentions(&files, "StatusCode"),
        [
            "reference-impl/src/error.rs",
            "reference-impl/src/extract.rs"
        ],
        "a status is chosen by error.rs (from a refusal's kind) or by the endpoint table (extract.rs)"
    );
}

#[test]
fn rules_and_storage_know_no_http() {
    // The HTTP edge: the router, the server and its accept loop, admission control, metrics,
    // refusal mapping, extractors, the principal extractor; and each service's handler modules,
    // which build a `Router`.
    const EDGE: &[&str] = &[
        "reference-impl/src/http.rs",
        "reference-impl/src/server.rs",
        "reference-impl/src/connections.rs",
        "reference-impl/src/admission.rs",
        "reference-impl/src/metrics.rs",
        "reference-impl/src/error.rs",
        "reference-impl/src/extract.rs",
        "reference-impl/src/auth/mod.rs",
    ];
    let router = Regex::new(r"pub fn router\(\) -> Router<AppState>").unwrap();
    let files = exchange();
    let http: Vec<String> = files
        .iter()
        .filter(|f| EDGE.contains(&f.path.as_str()) || router.is_match(&f.code))
        .map(|f| f.path.clone())
        .collect();
    let wrong: Vec<String> = mentions(&files, "axum")
        .into_iter()
        .filter(|p| !http.contains(p))
        .collect();
    assert!(wrong.is_empty(), "axum outside the HTTP edge: {wrong:?}");
    for must in ["rules.rs", "storage.rs", "store/"] {
        assert!(
            files.iter().any(|f| f.path.contains(must)) && !http.iter().any(|p| p.contains(must)),
            "{must} is HTTP-free"
        );
    }
}

#[test]
fn sql_stays_in_the_store_and_the_storage_modules() {
    let files = exchange();
    // The drivers only in the backends: the storage modules speak the one dialect of store/sql.rs.
    let mut drivers = mentions(&files, "rusqlite");
    drivers.extend(mentions(
        &files,
        r"(?:(?:^|[^:])postgres|tokio_postgres)::(?:types|Client|Config|Error|error|Row|Statement|Transaction|binary_copy)",
    ));
    for backend in ["store/sqlite.rs", "store/postgres.rs"] {
        assert!(
            drivers.iter().any(|p| p.ends_with(backend)),
            "the scan sees {backend}"
        );
    }
    let wrong: Vec<String> = drivers
        .into_iter()
        .filter(|p| !p.contains("/src/store/"))
        .collect();
    assert!(
        wrong.is_empty(),
        "a database driver outside store/: {wrong:?}"
    );
    let others: Vec<String> = members()
        .into_iter()
        .filter(|m| {
            (m.deps.contains("rusqlite") || m.deps.contains("postgres")) && m.name != "dx-exchange"
        })
        .map(|m| m.name)
        .collect();
    assert!(others.is_empty(), "crates with their own SQL: {others:?}");
}

// ---------------------------------------------------------------------------------------------
// Randomness and paths

#[test]
fn one_generator_draws_every_random_number() {
    let members = members();
    let with_rand: Vec<&str> = members
        .iter()
        .filter(|m| m.deps.iter().any(|d| d == "rand" || d.starts_with("rand_")))
        .map(|m| m.name.as_str())
        .collect();
    assert!(
        with_rand.is_empty(),
        "crates drawing from `rand`: {with_rand:?}"
    );
    let gamma = Regex::new(r"(?i)0x9e37_?79b9_?7f4a_?7c15").unwrap();
    let own = Regex::new(r"\bfn splitmix64\b|\bthread_rng\b|\brand::").unwrap();
    let mut found = Vec::new();
    for m in &members {
        for f in sources(m) {
            if gamma.is_match(&f.code) || own.is_match(&f.code) {
                found.push(f.path);
            }
        }
    }
    assert_eq!(
        found,
        ["sim/model/src/rng.rs"],
        "random numbers come from dx_model::rng (seeded streams), nowhere else"
    );
}

#[test]
fn every_api_path_is_spelt_in_the_endpoint_table() {
    // A path no endpoint has, sent on purpose by the conformance suite.
    const DELIBERATE: &[&str] = &["/v1/no-such-route"];
    // A literal that is a path or a URL (prose that names a route, such as a check's title, is not).
    let path = Regex::new(r"^(https?://|\{[^}]*\})?[^\s]*/v1/[^\s]*$").unwrap();
    let mut found = BTreeMap::<String, Vec<String>>::new();
    for m in members() {
        for f in sources(&m) {
            for s in f.strings.iter().filter(|s| path.is_match(s)) {
                if f.path != "reference-impl/protocol/src/wire/endpoints.rs"
                    && !DELIBERATE.contains(&s.as_str())
                {
                    found.entry(f.path.clone()).or_default().push(s.clone());
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "API paths outside dx_protocol::wire::endpoints (use `E::PATH` or `E::path(..)`): {found:#?}"
    );
}
