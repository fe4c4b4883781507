//! The deploy path in the template: every function's architecture is the `Architecture`
//! parameter (default arm64, x86_64 allowed), and `samconfig.toml` has one profile per
//! architecture that sets it for `sam build` and `sam deploy` alike (issue 14, item 1).

use serde_json::json;

use super::cfn::{param_default, resource, resources_of_type, template};

/// Every `AWS::Serverless::Function` takes `Architectures` from the parameter, so a
/// `--parameter-overrides Architecture=x86_64` build and deploy change all of them together.
#[test]
fn every_function_takes_its_architecture_from_the_parameter() {
    let tpl = template();
    let param = &tpl["Parameters"]["Architecture"];
    assert_eq!(param["Type"], "String");
    assert_eq!(param_default(&tpl, "Architecture"), "arm64");
    assert_eq!(param["AllowedValues"], json!(["arm64", "x86_64"]));
    let functions = resources_of_type(&tpl, "AWS::Serverless::Function");
    assert!(functions.len() >= 2, "{functions:?}");
    for name in &functions {
        assert_eq!(
            resource(&tpl, name)["Architectures"],
            json!([{ "Ref": "Architecture" }]),
            "{name}.Architectures must be [!Ref Architecture]"
        );
    }
    // Globals would make a function's own Architectures ambiguous.
    assert!(
        tpl["Globals"]["Function"]["Architectures"].is_null(),
        "Architectures belongs on each function"
    );
}

/// The `parameter_overrides` of a `samconfig.toml` section, `None` when the section or the key
/// is missing. Enough TOML for this file: `[section]` headers and `key = "value"` lines.
fn samconfig_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = "";
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name;
            continue;
        }
        if current != section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// Each profile sets the architecture in `global` (read by `sam build` and `sam deploy`), turns
/// on the beta feature `rust-cargolambda` needs, and no command section overrides either.
#[test]
fn samconfig_profiles_give_build_and_deploy_the_same_architecture() {
    let text = include_str!("../../../samconfig.toml");
    for (profile, arch) in [("default", "arm64"), ("x86_64", "x86_64")] {
        let global = format!("{profile}.global.parameters");
        assert_eq!(
            samconfig_value(text, &global, "parameter_overrides"),
            Some(format!("Architecture={arch}")),
            "[{global}]"
        );
        assert_eq!(
            samconfig_value(text, &global, "beta_features"),
            Some("true".into())
        );
        for command in ["build", "deploy", "validate"] {
            let section = format!("{profile}.{command}.parameters");
            assert_eq!(
                samconfig_value(text, &section, "parameter_overrides"),
                None,
                "[{section}] must not override the profile's Architecture"
            );
        }
    }
}

#[test]
fn samconfig_value_reads_sections_and_keys() {
    let text =
        "version = 0.1\n[a.global.parameters]\nx = \"1\"\n[b.global.parameters]\nx = \"2\"\n";
    assert_eq!(
        samconfig_value(text, "b.global.parameters", "x"),
        Some("2".into())
    );
    assert_eq!(samconfig_value(text, "a.build.parameters", "x"), None);
}
