//! The AWS calls behind the secret checks ([`super::secrets`]): Secrets Manager DescribeSecret,
//! SSM DescribeParameters (metadata only: never GetSecretValue / GetParameter), and the function
//! roles' policy documents (IAM ListRolePolicies + GetRolePolicy, ListAttachedRolePolicies +
//! GetPolicy + GetPolicyVersion of the default version). Sources: the Secrets Manager, SSM and
//! IAM API references of those operations.

use super::function::{DoctorClients, FunctionFacts};
use super::gather::Unreachable;
use super::policy::{decode_document, evaluate};
use super::secrets::{self, Checked, Problem, SecretRef, Store};
use super::stack_functions::{Functions, Lookup, absent};
use super::{Finding, Status};
use serde_json::Value;

fn unreachable(call: String, e: impl std::fmt::Debug) -> Unreachable {
    Unreachable {
        call,
        chain: format!("{e:?}"),
    }
}

/// Whether the secret / parameter exists (metadata only).
async fn exists(clients: &DoctorClients, s: &SecretRef) -> Result<bool, Unreachable> {
    match s.store {
        Store::SecretsManager => match clients
            .secrets
            .describe_secret()
            .secret_id(&s.id)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_resource_not_found_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unreachable(
                format!("DescribeSecret ({} {})", s.variable, s.id),
                e,
            )),
        },
        Store::Parameter => super::profile::parameter_exists(clients, &s.id, s.variable).await,
    }
}

/// The role's policy documents, each labelled (`inline <name>` / `managed <arn>`); `Ok(None)`
/// when the role does not exist.
///
/// # Errors
/// [`Unreachable`] for any other IAM error.
pub async fn role_documents(
    clients: &DoctorClients,
    role: &str,
) -> Result<Option<Vec<(String, Value)>>, Unreachable> {
    let iam = &clients.iam;
    let mut docs = Vec::new();
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = match iam
            .list_role_policies()
            .role_name(role)
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|x| x.is_no_such_entity_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(unreachable(format!("ListRolePolicies ({role})"), e)),
        };
        names.extend(page.policy_names().iter().cloned());
        match (page.is_truncated(), page.marker()) {
            (true, Some(m)) => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    for name in names {
        let out = iam
            .get_role_policy()
            .role_name(role)
            .policy_name(&name)
            .send()
            .await
            .map_err(|e| unreachable(format!("GetRolePolicy ({role} {name})"), e))?;
        docs.push((format!("inline {name}"), decode(out.policy_document())));
    }
    let mut arns = Vec::new();
    loop {
        let page = iam
            .list_attached_role_policies()
            .role_name(role)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| unreachable(format!("ListAttachedRolePolicies ({role})"), e))?;
        arns.extend(
            page.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned)),
        );
        match (page.is_truncated(), page.marker()) {
            (true, Some(m)) => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    for arn in arns {
        let policy = iam
            .get_policy()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| unreachable(format!("GetPolicy ({arn})"), e))?;
        let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
            continue;
        };
        let out = iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| unreachable(format!("GetPolicyVersion ({arn} {version})"), e))?;
        let doc = out
            .policy_version()
            .and_then(|v| v.document())
            .unwrap_or_default();
        docs.push((format!("managed {arn}"), decode(doc)));
    }
    Ok(Some(docs))
}

/// A document that does not decode counts as empty (it allows nothing).
fn decode(doc: &str) -> Value {
    decode_document(doc).unwrap_or(Value::Null)
}

/// One function's secrets checked against AWS.
async fn function_secrets(
    clients: &DoctorClients,
    f: &FunctionFacts,
    checked: &mut Vec<Checked>,
    problems: &mut Vec<Problem>,
) -> Result<(), Unreachable> {
    problems.extend(secrets::plain_text(f));
    let refs = secrets::refs(f);
    if refs.is_empty() {
        return Ok(());
    }
    let docs = role_documents(clients, f.role_name()).await?;
    if docs.is_none() {
        problems.push(Problem {
            check: secrets::POLICY,
            status: Status::Fail,
            detail: format!("{}'s role {} does not exist", f.name, f.role_arn),
            fix: format!(
                "deploy the stack again (the role is {}'s execution role)",
                f.name
            ),
        });
    }
    for s in refs {
        let exists = exists(clients, &s).await?;
        let verdict = docs.as_ref().map(|d| evaluate(d, s.action, &s.resource));
        checked.push(Checked {
            secret: s,
            exists,
            verdict,
        });
    }
    Ok(())
}

/// The secret checks for every function in `functions`.
///
/// # Errors
/// [`Unreachable`] for an AWS error other than "does not exist".
pub async fn checks(
    clients: &DoctorClients,
    functions: &Functions,
    local: bool,
) -> Result<Vec<Finding>, Unreachable> {
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for (variable, lookup) in &functions.all {
        match lookup {
            Lookup::Found(f) => function_secrets(clients, f, &mut checked, &mut problems).await?,
            other => {
                for check in [secrets::EXIST, secrets::POLICY] {
                    if let Some(a) = absent(check, variable, other, local) {
                        problems.push(Problem {
                            check,
                            status: a.status,
                            detail: a.detail,
                            fix: a.fix.unwrap_or_default(),
                        });
                    }
                }
            }
        }
    }
    Ok(secrets::evaluate(&checked, problems))
}
