//! A small CloudFormation reader for the template tests: `template.yaml` as JSON with the short
//! tags in their long form, numbers written with `Ref` / `Fn::Sub` / `Fn::Split` / `Fn::Length` /
//! `FindInMap` evaluated (parameter defaults or overrides), the resources of a type, and an
//! `Fn::Sub` emulation that checks every `${X}` names something.

use serde_json::{Value as Json, json};
use serde_yaml::Value as Yaml;

pub(super) fn json_u64(v: &Json, what: &str) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("{what} is not a non-negative integer: {v}"))
}

pub(super) fn json_str<'a>(v: &'a Json, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

/// Turns YAML into JSON, writing CloudFormation short tags in their long form
/// (`!Ref X` -> `{"Ref": "X"}`, `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`,
/// `!Sub s` -> `{"Fn::Sub": s}`, ...), so the template can be compared with `json!` values.
pub(super) fn yaml_to_json(v: &Yaml) -> Json {
    match v {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(u) = n.as_u64() {
                json!(u)
            } else if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                json!(n.as_f64())
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(m) => Json::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => serde_yaml::to_string(other)
                            .expect("key serialises")
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = yaml_to_json(&t.value);
            match name {
                "Ref" | "Condition" => json!({ name: inner }),
                "GetAtt" => match inner {
                    Json::String(s) => {
                        let (res, attr) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [res, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

pub(super) fn template() -> Json {
    let yaml: Yaml = serde_yaml::from_str(include_str!("../../../template.yaml"))
        .expect("template.yaml is YAML");
    yaml_to_json(&yaml)
}

/// A number written literally, or an expression [`eval`] resolves to one with the parameters'
/// defaults.
pub(super) fn resolve_u64(tpl: &Json, v: &Json, what: &str) -> u64 {
    resolve_u64_with(tpl, v, &|_| None, what)
}

/// [`resolve_u64`] with `params` overriding parameter defaults (a `--parameter-overrides`).
pub(super) fn resolve_u64_with(
    tpl: &Json,
    v: &Json,
    params: &dyn Fn(&str) -> Option<String>,
    what: &str,
) -> u64 {
    match eval(tpl, v, params, what) {
        Json::Number(n) => n
            .as_u64()
            .unwrap_or_else(|| panic!("{what}: {n} is not a non-negative integer")),
        Json::String(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("{what}: {s:?} is not a number")),
        other => panic!("{what}: {v} evaluates to {other}, not a number"),
    }
}

/// Evaluates the intrinsic functions the template's numbers are written with, as
/// CloudFormation (with the AWS::LanguageExtensions transform) does: `Ref` of a parameter
/// (`params`, else its default, as a string), `Fn::Sub` of text naming parameters only,
/// `Fn::Split`, `Fn::Length` and `Fn::FindInMap`. Anything else (a literal, another function)
/// is returned as it is. Panics on a malformed call.
pub(super) fn eval(
    tpl: &Json,
    v: &Json,
    params: &dyn Fn(&str) -> Option<String>,
    what: &str,
) -> Json {
    let Some((name, arg)) = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return v.clone();
    };
    let param = |p: &str| params(p).unwrap_or_else(|| param_default(tpl, p));
    match name.as_str() {
        "Ref" => {
            let p = json_str(arg, what);
            assert!(
                tpl["Parameters"].get(p).is_some(),
                "{what}: Ref {p} is no parameter"
            );
            Json::String(param(p))
        }
        "Fn::Sub" => {
            let text = json_str(arg, what);
            let mut out = String::new();
            let mut rest = text;
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let end = after.find('}').expect("Fn::Sub: unterminated ${");
                let p = &after[..end];
                assert!(
                    tpl["Parameters"].get(p).is_some(),
                    "{what}: Fn::Sub ${{{p}}} is no parameter"
                );
                out.push_str(&param(p));
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            Json::String(out)
        }
        "Fn::Split" => {
            let Some([sep, source]) = arg.as_array().map(Vec::as_slice) else {
                panic!("{what}: Fn::Split needs [separator, text]: {arg}");
            };
            let sep = json_str(sep, what);
            let text = eval(tpl, source, params, what);
            let text = json_str(&text, what);
            Json::Array(text.split(sep).map(|s| json!(s)).collect())
        }
        "Fn::Length" => match eval(tpl, arg, params, what) {
            Json::Array(items) => json!(items.len()),
            other => panic!("{what}: Fn::Length of {other}, not a list"),
        },
        "Fn::FindInMap" => {
            let Some([map, key, field]) = arg.as_array().map(Vec::as_slice) else {
                panic!("{what}: FindInMap needs 3 arguments: {v}");
            };
            let key = eval(tpl, key, params, what);
            let (map, key, field) = (
                json_str(map, what),
                json_str(&key, what),
                json_str(field, what),
            );
            eval(tpl, &tpl["Mappings"][map][key][field], params, what)
        }
        _ => v.clone(),
    }
}

/// A parameter's default, as CloudFormation passes it to `Ref` (a string).
pub(super) fn param_default(tpl: &Json, name: &str) -> String {
    match &tpl["Parameters"][name]["Default"] {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        other => panic!("parameter {name} has no usable default: {other}"),
    }
}

pub(super) fn resource<'a>(tpl: &'a Json, name: &str) -> &'a Json {
    let r = &tpl["Resources"][name];
    assert!(r.is_object(), "template.yaml has no resource {name}");
    &r["Properties"]
}

/// Names of the template's resources of `kind` (e.g. `AWS::CloudWatch::Alarm`), sorted.
pub(super) fn resources_of_type(tpl: &Json, kind: &str) -> Vec<String> {
    let mut names: Vec<String> = tpl["Resources"]
        .as_object()
        .expect("Resources is a mapping")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names
}

/// Resolves `Fn::Sub` text as CloudFormation does, with a dummy value per variable: `${!X}` is
/// the literal `${X}`; `${X}` must name a parameter, a resource (`${Res}` or `${Res.Attr}`) or a
/// pseudo parameter, and becomes `dummy-X`. Panics on an unknown name.
pub(super) fn sub_with_dummies(tpl: &Json, text: &str) -> String {
    const PSEUDO: [&str; 7] = [
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .unwrap_or_else(|| panic!("unterminated ${{ in Fn::Sub text at {:?}", &rest[start..]));
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else {
            let base = name.split('.').next().unwrap_or(name);
            assert!(
                PSEUDO.contains(&name)
                    || (!name.contains('.') && tpl["Parameters"].get(name).is_some())
                    || tpl["Resources"].get(base).is_some(),
                "Fn::Sub variable ${{{name}}} names no parameter, resource or pseudo parameter"
            );
            out.push_str("dummy-");
            out.push_str(name);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn sub_with_dummies_resolves_like_fn_sub() {
    let tpl = json!({
        "Parameters": { "P": {} },
        "Resources": { "R": {} }
    });
    assert_eq!(
        sub_with_dummies(&tpl, "a ${P} ${R.Arn} ${AWS::Region} ${!PROP('x')} b"),
        "a dummy-P dummy-R.Arn dummy-AWS::Region ${PROP('x')} b"
    );
}

#[test]
fn eval_counts_a_split_list_as_cloudformation_does() {
    let tpl = json!({ "Parameters": { "S": { "Default": "1s,2s" } } });
    let expr = json!({ "Fn::Length": { "Fn::Split": [",", { "Fn::Sub": "${S},+,+" }] } });
    assert_eq!(resolve_u64(&tpl, &expr, "n"), 4);
    let three = |p: &str| (p == "S").then(|| "1s,2s,3s".to_string());
    assert_eq!(resolve_u64_with(&tpl, &expr, &three, "n"), 5);
    assert_eq!(
        eval(&tpl, &json!({ "Ref": "S" }), &|_| None, "r"),
        json!("1s,2s")
    );
    assert_eq!(eval(&tpl, &json!(7), &|_| None, "literal"), json!(7));
}
