//! The jq body: compiled once at load with jaq (`jaq-core`, `jaq-std`, `jaq-json`), run per
//! event over the input object (see the crate docs), its single output checked and written as
//! compact JSON.
//!
//! Bodies are a function of the event alone: `env` and `now` raise an error (a body must not
//! carry the process environment, where secrets may live, nor change between a send and its
//! retry), `halt` raises an error instead of exiting the process, and `debug` / `stderr` print
//! nothing (no bodies in logs, STYLE.md habit 6).

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Native, Vars, compile::Filter, data::JustLut};
use jaq_json::Num;
pub use jaq_json::Val;

type Data = JustLut<Val>;

/// Natives of jaq-std replaced by the definitions in [`DENY_DEFS`].
const DENIED: &[&str] = &["env", "now", "halt", "stderr_empty", "debug_empty"];

/// Loaded before jaq-std's definitions, which build `debug`, `stderr`, `halt/0` and
/// `halt_error` on these.
const DENY_DEFS: &str = r#"
def env: error("env is not available in a WFM profile");
def now: error("now is not available in a WFM profile (use .state_time)");
def halt($code): error("halt is not available in a WFM profile");
def stderr_empty: empty;
def debug_empty: empty;
"#;

/// What the program's single output must be (`body.result` in the profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResultKind {
    /// A JSON object (the default).
    #[default]
    Object,
    /// A JSON array.
    Array,
    /// Any JSON value.
    Any,
}

/// A compiled jq program.
pub struct Program {
    filter: Filter<Native<Data>>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Program")
    }
}

impl Program {
    /// Compiles `code`.
    ///
    /// # Errors
    /// A message `jq compile error at line L, column C: …` for lex, parse and undefined-name
    /// errors (all of them, `; `-separated).
    pub fn compile(code: &str) -> Result<Self, String> {
        let deny = jaq_core::load::parse(DENY_DEFS, |p| p.defs())
            .ok_or_else(|| "internal: deny definitions do not parse".to_owned())?;
        let defs = jaq_core::defs()
            .chain(deny)
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs().filter(|(name, _, _)| !DENIED.contains(name)))
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errs| {
                let msgs = errs.into_iter().flat_map(|(_, e)| load_error(code, e));
                msgs.collect::<Vec<_>>().join("; ")
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let msgs = errs.into_iter().flat_map(|(_, es)| {
                    es.into_iter().map(|(name, undef)| {
                        at(
                            code,
                            name,
                            &format!("undefined {} `{name}`", undef.as_str()),
                        )
                    })
                });
                msgs.collect::<Vec<_>>().join("; ")
            })?;
        Ok(Self { filter })
    }

    /// Runs the program on `input`; exactly one output is expected.
    ///
    /// # Errors
    /// The jq error (`jq error: …`), `halt`, no output or more than one output.
    pub fn run(&self, input: Val) -> Result<Val, String> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut out = self.filter.id.run((ctx, input));
        let exn = |e: jaq_core::Exn<'_, Val>| match e.get_err() {
            Ok(err) => match err.into_val() {
                v @ Val::TStr(_) => format!("jq error: {}", as_str(&v).unwrap_or("(not UTF-8)")),
                v => format!("jq error: {v}"),
            },
            Err(other) => match other.get_halt() {
                Ok(code) => format!("jq program halted with {code}"),
                Err(_) => "jq program stopped without a value".to_owned(),
            },
        };
        let first = match out.next() {
            None => return Err("jq program produced no output (expected exactly one)".into()),
            Some(Err(e)) => return Err(exn(e)),
            Some(Ok(v)) => v,
        };
        match out.next() {
            None => Ok(first),
            Some(Err(e)) => Err(exn(e)),
            Some(Ok(_)) => Err("jq program produced more than one output (expected one)".into()),
        }
    }
}

/// `line L, column C` (1-based, column in characters) of `part` inside `whole`.
fn position(whole: &str, part: &str) -> (usize, usize) {
    let start = (part.as_ptr() as usize)
        .saturating_sub(whole.as_ptr() as usize)
        .min(whole.len());
    let before = whole.get(..start).unwrap_or(whole);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn at(whole: &str, part: &str, what: &str) -> String {
    let (line, col) = position(whole, part);
    format!("jq compile error at line {line}, column {col}: {what}")
}

fn load_error(code: &str, e: jaq_core::load::Error<&str>) -> Vec<String> {
    use jaq_core::load::Error;
    match e {
        Error::Io(es) => es
            .into_iter()
            .map(|(p, m)| at(code, p, &format!("cannot load module: {m}")))
            .collect(),
        Error::Lex(es) => es
            .into_iter()
            .map(|(exp, p)| at(code, p, &format!("expected {}", exp.as_str())))
            .collect(),
        Error::Parse(es) => es
            .into_iter()
            .map(|(exp, p)| {
                let found = if p.is_empty() {
                    "end of program".to_owned()
                } else {
                    format!("`{p}`")
                };
                at(
                    code,
                    p,
                    &format!("expected {}, found {found}", exp.as_str()),
                )
            })
            .collect(),
    }
}

/// Checks that `v` is JSON (no NaN or infinite numbers, no byte strings, string keys, UTF-8
/// text) and of the declared kind, then writes it as compact JSON.
///
/// # Errors
/// What is not JSON, or what the result is instead of the declared kind.
pub fn to_body(v: &Val, kind: ResultKind) -> Result<Vec<u8>, String> {
    let got = match v {
        Val::Obj(_) => "an object",
        Val::Arr(_) => "an array",
        Val::TStr(_) | Val::BStr(_) => "a string",
        Val::Num(_) => "a number",
        Val::Bool(_) => "a boolean",
        Val::Null => "null",
    };
    match (kind, v) {
        (ResultKind::Object, Val::Obj(_))
        | (ResultKind::Array, Val::Arr(_))
        | (ResultKind::Any, _) => {}
        (ResultKind::Object, _) => return Err(format!("result must be an object, got {got}")),
        (ResultKind::Array, _) => return Err(format!("result must be an array, got {got}")),
    }
    check_json(v, &mut String::from("."))?;
    Ok(v.to_string().into_bytes())
}

fn check_json(v: &Val, path: &mut String) -> Result<(), String> {
    let bad = |path: &str, what: &str| Err(format!("result is not JSON: {what} at {path}"));
    match v {
        Val::Null | Val::Bool(_) => Ok(()),
        Val::Num(Num::Float(f)) if !f.is_finite() => bad(path, "a NaN or infinite number"),
        Val::Num(_) => Ok(()),
        Val::BStr(_) => bad(path, "a byte string"),
        Val::TStr(b) if std::str::from_utf8(b).is_err() => bad(path, "a string that is not UTF-8"),
        Val::TStr(_) => Ok(()),
        Val::Arr(items) => {
            let len = path.len();
            for (i, item) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                check_json(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Val::Obj(map) => {
            let len = path.len();
            for (k, item) in map.iter() {
                let Val::TStr(kb) = k else {
                    return bad(path, "an object key that is not a string");
                };
                let Ok(key) = std::str::from_utf8(kb) else {
                    return bad(path, "an object key that is not UTF-8");
                };
                if !path.ends_with('.') {
                    path.push('.');
                }
                path.push_str(key);
                check_json(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
    }
}

/// Member `key` of an object value.
pub fn get<'a>(v: &'a Val, key: &str) -> Option<&'a Val> {
    match v {
        Val::Obj(m) => m.get(&Val::from(key.to_owned())),
        _ => None,
    }
}

/// The text of a string value.
pub fn as_str(v: &Val) -> Option<&str> {
    match v {
        Val::TStr(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// A string value, or null.
pub fn opt_str(s: Option<&str>) -> Val {
    s.map_or(Val::Null, |s| Val::from(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str, input: &str) -> Result<String, String> {
        let p = Program::compile(code)?;
        let v = jaq_json::read::parse_single(input.as_bytes()).map_err(|e| e.to_string())?;
        let out = p.run(v)?;
        to_body(&out, ResultKind::Any).map(|b| String::from_utf8(b).unwrap_or_default())
    }

    #[test]
    fn runs_with_the_standard_library() {
        assert_eq!(
            run(
                "{a: .x | ascii_downcase, n: ([1,2] | add)}",
                r#"{"x":"ON"}"#
            ),
            Ok(r#"{"a":"on","n":3}"#.into())
        );
        assert_eq!(
            run(r#""2025-03-04T09:15:01Z" | fromdateiso8601"#, "null"),
            Ok("1741079701".into())
        );
        assert_eq!(run(".x | debug", r#"{"x":1}"#), Ok("1".into()));
    }

    #[test]
    fn compile_errors_have_a_position() {
        let e = Program::compile("{a: .x,\n  b: (.y | }").expect_err("parse");
        assert!(e.starts_with("jq compile error at line 2, column "), "{e}");
        let e = Program::compile(".a | nosuchfilter").expect_err("undefined");
        assert_eq!(
            e,
            "jq compile error at line 1, column 6: undefined filter `nosuchfilter`"
        );
    }

    #[test]
    fn run_errors_and_denied_filters() {
        let cases: &[(&str, &str)] = &[
            ("error(\"boom\")", "jq error: boom"),
            ("env", "jq error: env is not available in a WFM profile"),
            (
                "now",
                "jq error: now is not available in a WFM profile (use .state_time)",
            ),
            ("halt", "jq error: halt is not available in a WFM profile"),
            (
                "empty",
                "jq program produced no output (expected exactly one)",
            ),
            (
                "1, 2",
                "jq program produced more than one output (expected one)",
            ),
            (
                "{a: nan}",
                "result is not JSON: a NaN or infinite number at .a",
            ),
            (
                "[1, (\"x\" | tobytes)]",
                "result is not JSON: a byte string at .[1]",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(run(code, "null"), Err((*want).to_owned()), "{code}");
        }
        let v = Val::from(1isize);
        assert_eq!(
            to_body(&v, ResultKind::Object),
            Err("result must be an object, got a number".into())
        );
    }
}
