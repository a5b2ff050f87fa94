//! The Kubernetes manifests in `deploy/k8s/`: valid against the Kubernetes schemas
//! (`kubernetes-validate --strict`), and every `dxsim` command line in them one the binary
//! accepts, with the shard count of the driver Job the same in its completions, parallelism and
//! `--shard`. Needs Python with `kubernetes-validate` (which brings PyYAML): the interpreter
//! `DXSIM_PYTHON` names (default `python3`); skipped where it is missing unless
//! `DXSIM_REQUIRE_PYTHON=1` (as `.ci/run` sets, having installed it).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<String> {
    let python = std::env::var("DXSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = Command::new(&python)
        .args(["-c", "import kubernetes_validate, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has {
        return Some(python);
    }
    assert!(
        std::env::var("DXSIM_REQUIRE_PYTHON").as_deref() != Ok("1"),
        "{python} has no kubernetes_validate (pip install kubernetes-validate) and DXSIM_REQUIRE_PYTHON=1"
    );
    eprintln!("skipped: {python} cannot import kubernetes_validate");
    None
}

fn manifests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

fn validate(python: &str, files: &[PathBuf]) -> std::process::Output {
    Command::new(python)
        .args([
            "-c",
            "import sys; from kubernetes_validate.__main__ import main; sys.exit(main())",
            "--strict",
            "--no-warn",
        ])
        .args(files)
        .output()
        .unwrap()
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas() {
    let Some(python) = python() else { return };
    let files = manifests();
    let o = validate(&python, &files);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{said}");
    for kind in [
        "job/dxsim-prepare",
        "deployment/dxsim-exchange",
        "service/dxsim-exchange",
        "job/dxsim-drive",
        "job/dxsim-merge",
        "persistentvolumeclaim/dxsim-runs",
    ] {
        assert!(said.contains(kind), "{kind} was not validated: {said}");
    }
    // The validation can fail: a misspelt field is refused.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("drive-job.yaml");
    let text = std::fs::read_to_string(
        files
            .iter()
            .find(|f| f.ends_with("drive-job.yaml"))
            .unwrap(),
    )
    .unwrap()
    .replace("parallelism:", "parallelizm:");
    std::fs::write(&bad, text).unwrap();
    assert!(!validate(&python, &[bad]).status.success());
}

#[test]
fn every_dxsim_command_in_the_manifests_parses() {
    let Some(python) = python() else { return };
    // The containers of every manifest as JSON: (file, kind, spec of the workload, containers).
    let script = r#"
import json, sys, yaml
out = []
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        if doc is None:
            continue
        spec = doc.get('spec', {})
        pod = spec.get('template', {}).get('spec', {})
        for c in pod.get('initContainers', []) + pod.get('containers', []):
            out.append({'file': path.rsplit('/', 1)[1], 'kind': doc['kind'], 'spec': spec, 'container': c})
print(json.dumps(out))
"#;
    let o = Command::new(&python)
        .args(["-c", script])
        .args(manifests())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let containers: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let mut commands = Vec::new();
    for c in &containers {
        let container = &c["container"];
        assert_eq!(container["image"], "dxsim:latest", "{c}");
        // $(VAR) as Kubernetes expands it from the container's env; the shard index as pod 0.
        let mut vars = std::collections::HashMap::new();
        for e in container["env"].as_array().into_iter().flatten() {
            let value = e["value"].as_str().unwrap_or("0").to_owned();
            vars.insert(e["name"].as_str().unwrap().to_owned(), value);
        }
        let expand = |s: &str| {
            let mut s = s.to_owned();
            for (k, v) in &vars {
                s = s.replace(&format!("$({k})"), v);
            }
            assert!(
                !s.contains("$("),
                "{s}: a variable the container does not define"
            );
            s
        };
        let args: Vec<String> = match container["command"].as_array() {
            // `sh -c "exec dxsim …"`: the words after `dxsim`.
            Some(cmd) => {
                let line = cmd.last().unwrap().as_str().unwrap();
                let (_, rest) = line.split_once("dxsim ").unwrap();
                rest.split_whitespace().map(expand).collect()
            }
            None => container["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| expand(a.as_str().unwrap()))
                .collect(),
        };
        if args[0] == "drive" {
            let n = c["spec"]["completions"].as_u64().unwrap();
            assert_eq!(c["spec"]["parallelism"].as_u64(), Some(n));
            assert_eq!(c["spec"]["completionMode"], "Indexed");
            let shard = &args[args.iter().position(|a| a == "--shard").unwrap() + 1];
            assert_eq!(shard, &format!("0/{n}"));
        }
        let scenario = vars.get("SCENARIO");
        if let Some(s) = scenario {
            // The image holds the repository's scenarios at /usr/share/dxsim/scenarios.
            let name = s.strip_prefix("/usr/share/dxsim/scenarios/").unwrap();
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../scenarios")
                    .join(name)
                    .exists(),
                "{s}"
            );
        }
        let parsed = <dx_sim::cli::Cli as clap::Parser>::try_parse_from(
            std::iter::once("dxsim".to_owned()).chain(args.iter().cloned()),
        );
        assert!(
            parsed.is_ok(),
            "{}: dxsim {args:?}: {}",
            c["file"],
            parsed.unwrap_err()
        );
        commands.push(args[0].clone());
    }
    commands.sort();
    assert_eq!(commands, ["drive", "merge", "serve", "serve", "workload"]);
}
