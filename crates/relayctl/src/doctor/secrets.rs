//! The functions' secrets: every `*_ARN` / `*_PARAM` secret setting in a function's environment
//! names a Secrets Manager secret / SSM parameter that exists, and the function's role allows
//! reading exactly it (`secretsmanager:GetSecretValue` / `ssm:GetParameter`, what
//! wfm-relay-aws's secrets.rs calls). Metadata only: existence comes from DescribeSecret /
//! DescribeParameters, never from a secret's value. The variable names are those of
//! wfm-relay-core's `AuthMode::variables`, config.rs (signing) and the Genesys settings. Pure:
//! [`super::secrets_gather`] makes the calls.

use super::Finding;
use super::Status;
use super::function::FunctionFacts;
use super::policy::Verdict;

/// Check id: every secret setting names a secret / parameter that exists.
pub const EXIST: &str = "secrets.exist";
/// Check id: every function's role allows reading its secrets.
pub const POLICY: &str = "secrets.role-policy";

/// The variables holding a Secrets Manager secret ARN.
pub const SECRET_ARN_VARS: &[&str] = &[
    "WFM_AUTH_TOKEN_ARN",
    "WFM_AUTH_TOKEN_SECRET_ARN",
    "WFM_OAUTH_CLIENT_SECRET_ARN",
    "WFM_API_KEY_ARN",
    "WFM_BASIC_USER_ARN",
    "WFM_BASIC_PASSWORD_ARN",
    "WFM_SIGNING_SECRET_ARN",
    "GENESYS_CLIENT_SECRET_ARN",
];

/// The variables holding an SSM parameter name (String or SecureString).
pub const PARAM_VARS: &[&str] = &[
    "WFM_AUTH_TOKEN_PARAM",
    "WFM_OAUTH_CLIENT_SECRET_PARAM",
    "WFM_API_KEY_PARAM",
    "WFM_BASIC_USER_PARAM",
    "WFM_BASIC_PASSWORD_PARAM",
    "WFM_SIGNING_SECRET_PARAM",
    "GENESYS_CLIENT_SECRET_PARAM",
];

/// The variables that hold a secret in plain text (fine for local runs; a warn on a function).
pub const PLAIN_VARS: &[&str] = &[
    "WFM_AUTH_TOKEN",
    "WFM_OAUTH_CLIENT_SECRET",
    "WFM_API_KEY",
    "WFM_BASIC_PASSWORD",
    "WFM_SIGNING_SECRETS",
    "GENESYS_CLIENT_SECRET",
];

/// Where a secret lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Secrets Manager (the id is the secret's ARN).
    SecretsManager,
    /// SSM Parameter Store (the id is the parameter's name).
    Parameter,
}

/// One secret a function's environment names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The function's name.
    pub function: String,
    /// The variable, e.g. `WFM_AUTH_TOKEN_SECRET_ARN`.
    pub variable: &'static str,
    /// Secrets Manager or SSM.
    pub store: Store,
    /// The secret's ARN or the parameter's name.
    pub id: String,
    /// The resource ARN the role must allow (the secret's ARN, or the parameter's ARN built
    /// from the function's partition, region and account).
    pub resource: String,
    /// The IAM action the function calls.
    pub action: &'static str,
}

/// `arn:<partition>:ssm:<region>:<account>:parameter/<name without its leading slash>` from the
/// function's ARN (`arn:aws:lambda:us-east-1:123456789012:function:name`); `None` when the
/// function ARN is not one.
pub fn parameter_arn(function_arn: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = function_arn.splitn(6, ':').collect();
    let [_, partition, _, region, account, _] = parts.as_slice() else {
        return None;
    };
    Some(format!(
        "arn:{partition}:ssm:{region}:{account}:parameter/{}",
        name.trim_start_matches('/')
    ))
}

/// The secrets `f`'s environment names, in the order of [`SECRET_ARN_VARS`] then
/// [`PARAM_VARS`].
pub fn refs(f: &FunctionFacts) -> Vec<SecretRef> {
    let secrets = SECRET_ARN_VARS.iter().filter_map(|v| {
        f.var(v).map(|arn| SecretRef {
            function: f.name.clone(),
            variable: v,
            store: Store::SecretsManager,
            id: arn.to_owned(),
            resource: arn.to_owned(),
            action: "secretsmanager:GetSecretValue",
        })
    });
    let params = PARAM_VARS.iter().filter_map(|v| {
        f.var(v).map(|name| SecretRef {
            function: f.name.clone(),
            variable: v,
            store: Store::Parameter,
            id: name.to_owned(),
            resource: parameter_arn(&f.arn, name).unwrap_or_else(|| name.to_owned()),
            action: "ssm:GetParameter",
        })
    });
    secrets.chain(params).collect()
}

/// What doctor found for one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The secret.
    pub secret: SecretRef,
    /// DescribeSecret / DescribeParameters found it.
    pub exists: bool,
    /// What the function role's policies say about reading it (`None`: the role could not be
    /// read, see [`Problem`]).
    pub verdict: Option<Verdict>,
}

/// A problem found before the per-secret checks: a function doctor does not have, a role that
/// does not exist, a plain-text secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Which check it belongs to ([`EXIST`] or [`POLICY`]).
    pub check: &'static str,
    /// Warn or fail.
    pub status: Status,
    /// What.
    pub detail: String,
    /// What to do.
    pub fix: String,
}

/// The statement a role needs to read `s`.
pub fn statement_to_add(s: &SecretRef) -> String {
    format!(
        "{{\"Effect\":\"Allow\",\"Action\":\"{}\",\"Resource\":\"{}\"}}",
        s.action, s.resource
    )
}

fn finding(check: &'static str, problems: Vec<Problem>, pass: String) -> Finding {
    let Some(status) = problems.iter().map(|p| p.status).max() else {
        return Finding::pass(check, pass);
    };
    let detail = problems
        .iter()
        .map(|p| p.detail.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let mut fixes: Vec<&str> = Vec::new();
    for p in &problems {
        if !fixes.contains(&p.fix.as_str()) {
            fixes.push(&p.fix);
        }
    }
    Finding::bad(check, status, detail, fixes.join("; "))
}

/// The two secret findings: [`EXIST`] and [`POLICY`], from the per-secret results and the
/// problems found on the way.
pub fn evaluate(checked: &[Checked], problems: Vec<Problem>) -> Vec<Finding> {
    let (mut exist, mut policy): (Vec<Problem>, Vec<Problem>) =
        problems.into_iter().partition(|p| p.check == EXIST);
    for c in checked {
        let s = &c.secret;
        let what = match s.store {
            Store::SecretsManager => "secret",
            Store::Parameter => "parameter",
        };
        if !c.exists {
            exist.push(Problem {
                check: EXIST,
                status: Status::Fail,
                detail: format!(
                    "{} {} {what} {} does not exist",
                    s.function, s.variable, s.id
                ),
                fix: format!("create the {what}, or fix {} on {}", s.variable, s.function),
            });
        }
        let add = format!(
            "add {} to {}'s role policy",
            statement_to_add(s),
            s.function
        );
        match &c.verdict {
            None | Some(Verdict::Allowed(_)) => {}
            Some(Verdict::NotAllowed) => policy.push(Problem {
                check: POLICY,
                status: Status::Fail,
                detail: format!(
                    "{}'s role does not allow {} on {}",
                    s.function, s.action, s.resource
                ),
                fix: add,
            }),
            Some(Verdict::Denied(at)) => policy.push(Problem {
                check: POLICY,
                status: Status::Fail,
                detail: format!(
                    "{}'s role denies {} on {} ({at})",
                    s.function, s.action, s.resource
                ),
                fix: format!("remove the Deny ({at}) and {add}"),
            }),
            Some(Verdict::Conditional(at)) => policy.push(Problem {
                check: POLICY,
                status: Status::Warn,
                detail: format!(
                    "{}'s role allows {} on {} only through a conditional or Not* statement \
                     ({at}), which doctor cannot evaluate",
                    s.function, s.action, s.resource
                ),
                fix: format!("check {at} by hand, or {add}"),
            }),
        }
    }
    let n = checked.len();
    let names = checked
        .iter()
        .map(|c| format!("{} {}", c.secret.function, c.secret.variable))
        .collect::<Vec<_>>()
        .join(", ");
    let listed = if n == 0 {
        "no secret settings".to_owned()
    } else {
        format!("{n} secret settings ({names})")
    };
    vec![
        finding(
            EXIST,
            exist,
            format!("{listed}: each exists (metadata only)"),
        ),
        finding(
            POLICY,
            policy,
            format!("{listed}: each readable by its function's role"),
        ),
    ]
}

/// The plain-text secret problems of `f` (a warn each: the value is visible to anyone who may
/// read the function's configuration).
pub fn plain_text(f: &FunctionFacts) -> Vec<Problem> {
    PLAIN_VARS
        .iter()
        .filter(|v| f.var(v).is_some())
        .map(|v| Problem {
            check: EXIST,
            status: Status::Warn,
            detail: format!("{} has {v} in plain text in its environment", f.name),
            fix: format!("store it in Secrets Manager and set {v}_ARN / the template's secret parameter instead"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wfm/token-AbCdEf";

    fn forwarder() -> FunctionFacts {
        FunctionFacts {
            name: "wfm-relay-Forwarder".into(),
            arn: "arn:aws:lambda:us-east-1:123456789012:function:wfm-relay-Forwarder".into(),
            environment: [
                ("WFM_AUTH_TOKEN_SECRET_ARN", SECRET),
                ("WFM_SIGNING_SECRET_PARAM", "/wfm/signing"),
                ("WFM_API_KEY_ARN", " "),
                ("WFM_BASIC_PASSWORD", "hunter2"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            ..FunctionFacts::default()
        }
    }

    #[test]
    fn refs_name_each_secret_and_the_resource_to_allow() {
        let r = refs(&forwarder());
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].variable, "WFM_AUTH_TOKEN_SECRET_ARN");
        assert_eq!(r[0].resource, SECRET);
        assert_eq!(r[0].action, "secretsmanager:GetSecretValue");
        assert_eq!(r[1].store, Store::Parameter);
        assert_eq!(r[1].id, "/wfm/signing");
        assert_eq!(
            r[1].resource,
            "arn:aws:ssm:us-east-1:123456789012:parameter/wfm/signing"
        );
        assert_eq!(r[1].action, "ssm:GetParameter");
        assert_eq!(parameter_arn("not-an-arn", "/x"), None);
        let plain = plain_text(&forwarder());
        assert_eq!(plain.len(), 1);
        assert_eq!(plain[0].status, Status::Warn);
        assert!(!plain[0].detail.contains("hunter2"), "{}", plain[0].detail);
    }

    #[test]
    fn missing_secrets_and_unnamed_ones_fail_with_the_statement_to_add() {
        let r = refs(&forwarder());
        let ok = |s: &SecretRef| Checked {
            secret: s.clone(),
            exists: true,
            verdict: Some(Verdict::Allowed("inline p #1".into())),
        };
        let f = evaluate(&[ok(&r[0]), ok(&r[1])], Vec::new());
        assert_eq!(f[0].status, Status::Pass);
        assert_eq!(f[1].status, Status::Pass);
        assert!(
            f[0].detail
                .starts_with("2 secret settings (wfm-relay-Forwarder WFM_AUTH_TOKEN_SECRET_ARN"),
            "{}",
            f[0].detail
        );

        let gone = Checked {
            exists: false,
            ..ok(&r[0])
        };
        let unnamed = Checked {
            verdict: Some(Verdict::NotAllowed),
            ..ok(&r[1])
        };
        let f = evaluate(&[gone, unnamed], Vec::new());
        assert_eq!(f[0].status, Status::Fail);
        assert!(
            f[0].detail.contains("WFM_AUTH_TOKEN_SECRET_ARN secret"),
            "{}",
            f[0].detail
        );
        assert_eq!(f[1].status, Status::Fail);
        assert_eq!(
            f[1].fix.as_deref(),
            Some(
                "add {\"Effect\":\"Allow\",\"Action\":\"ssm:GetParameter\",\"Resource\":\
                 \"arn:aws:ssm:us-east-1:123456789012:parameter/wfm/signing\"} to \
                 wfm-relay-Forwarder's role policy"
            )
        );

        let cond = Checked {
            verdict: Some(Verdict::Conditional("x #2".into())),
            ..ok(&r[0])
        };
        let f = evaluate(&[cond], plain_text(&forwarder()));
        assert_eq!(f[0].status, Status::Warn, "plain text");
        assert_eq!(f[1].status, Status::Warn, "conditional");
        let none = evaluate(&[], Vec::new());
        assert_eq!(
            none[0].detail,
            "no secret settings: each exists (metadata only)"
        );
    }
}
