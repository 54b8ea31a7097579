//! `cargo install --path tcp-file` installs the command: the manifest, read with `cargo
//! metadata`, asks no feature of the binary that the default features do not turn on,
//! and keeps the command's own dependencies optional, behind `cli` alone, so that a
//! library user with `default-features = false` does not build them.

use std::process::Command;

use serde_json::Value;

/// The dependencies only the command uses.
const COMMAND_ONLY: [&str; 4] = ["clap", "indicatif", "tempfile", "tracing-subscriber"];

fn manifest() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "camlnet-tcp-file")
        .expect("the camlnet-tcp-file package")
        .clone()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_default_features_build_the_command() {
    let package = manifest();
    let bin = package["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["name"] == "tcp-file" && strings(&t["kind"]).contains(&"bin".to_string()))
        .expect("the tcp-file binary");
    let required = strings(&bin["required-features"]);
    assert!(!required.is_empty(), "the binary needs `cli`: {bin}");
    let default = strings(&package["features"]["default"]);
    for feature in &required {
        assert!(
            default.contains(feature),
            "`cargo install` without flags would skip the binary: it needs {feature:?}, \
             the default features are {default:?}"
        );
    }
}

#[test]
fn the_command_s_dependencies_stay_behind_cli() {
    let package = manifest();
    for name in COMMAND_ONLY {
        let dependency = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .find(|d| d["name"] == name && d["kind"].is_null())
            .unwrap_or_else(|| panic!("{name} is a dependency of the command"));
        assert_eq!(dependency["optional"], true, "{name} must be optional");
        let enabling: Vec<&String> = package["features"]
            .as_object()
            .expect("features")
            .iter()
            .filter(|(_, enables)| strings(enables).contains(&format!("dep:{name}")))
            .map(|(feature, _)| feature)
            .collect();
        assert_eq!(enabling, ["cli"], "only `cli` turns {name} on");
    }
}
