//! The forwarder's WFM output profile: where `WFM_PROFILE` (read from the deployed forwarder's
//! environment) says the profile is, and its agent tables (`WFM_PROFILE_MAPPING`,
//! `WFM_PROFILE_USER_FIELDS`) exist. Metadata only: doctor does not load the profile (S3
//! HeadObject, SSM DescribeParameters; a builtin is looked up in wfm-relay-profile's
//! `BUILTINS`). The variables' syntax is wfm-relay-profile's `ProfileSettings` (PRODUCT.md §10).

use super::function::DoctorClients;
use super::gather::Unreachable;
use super::stack_functions::{Functions, Lookup, absent};
use super::{Finding, Status};
use aws_sdk_ssm::types::ParameterStringFilter;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_profile::{BUILTINS, ProfileLocation, ProfileSettings, S3Object};

/// Check id: the profile `WFM_PROFILE` names exists.
pub const PROFILE: &str = "profile";
/// Check id: the profile's agent tables exist.
pub const TABLES: &str = "profile.tables";

/// The finding for `builtin:<name>`: pass when `name` is one of [`BUILTINS`].
pub fn builtin(name: &str) -> Finding {
    let known: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
    if known.contains(&name) {
        Finding::pass(PROFILE, format!("WFM_PROFILE builtin:{name} (shipped)"))
    } else {
        Finding::bad(
            PROFILE,
            Status::Fail,
            format!(
                "WFM_PROFILE builtin:{name} is not a shipped profile (known: {})",
                known.join(", ")
            ),
            format!(
                "set WFM_PROFILE (the template's WfmProfile) to one of builtin:{}",
                known.join(", builtin:")
            ),
        )
    }
}

/// The finding for a stored profile or table at `location` (`s3://b/k`, `ssm:/name`) named by
/// `variable`: pass when it exists.
pub fn stored(check: &'static str, variable: &str, location: &str, exists: bool) -> Finding {
    if exists {
        Finding::pass(check, format!("{variable} {location} exists"))
    } else {
        Finding::bad(
            check,
            Status::Fail,
            format!("{variable} {location} does not exist: the forwarder fails start-up"),
            format!("upload it (relayctl profile test checks a profile first), or fix {variable}"),
        )
    }
}

/// Whether `s3://bucket/key` exists (HeadObject).
async fn object_exists(
    aws: &AwsClients,
    o: &S3Object,
    variable: &str,
) -> Result<bool, Unreachable> {
    match aws
        .s3
        .head_object()
        .bucket(&o.bucket)
        .key(&o.key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let not_found = e.as_service_error().is_some_and(|x| x.is_not_found())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
            if not_found {
                Ok(false)
            } else {
                Err(Unreachable {
                    call: format!("HeadObject ({variable} s3://{}/{})", o.bucket, o.key),
                    chain: format!("{e:?}"),
                })
            }
        }
    }
}

/// Whether the SSM parameter `name` exists (DescribeParameters, metadata only).
///
/// # Errors
/// [`Unreachable`] for any AWS error.
pub async fn parameter_exists(
    clients: &DoctorClients,
    name: &str,
    variable: &str,
) -> Result<bool, Unreachable> {
    let unreachable = |e: String| Unreachable {
        call: format!("DescribeParameters ({variable} {name})"),
        chain: e,
    };
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("Equals")
        .values(name)
        .build()
        .map_err(|e| unreachable(format!("{e:?}")))?;
    let out = clients
        .ssm
        .describe_parameters()
        .parameter_filters(filter)
        .send()
        .await
        .map_err(|e| unreachable(format!("{e:?}")))?;
    Ok(out.parameters().iter().any(|p| p.name() == Some(name)))
}

/// The profile checks on the deployed forwarder's environment.
///
/// # Errors
/// [`Unreachable`] for an AWS error other than "does not exist".
pub async fn checks(
    clients: &DoctorClients,
    aws: &AwsClients,
    functions: &Functions,
    local: bool,
) -> Result<Vec<Finding>, Unreachable> {
    let f = match functions.forwarder() {
        Lookup::Found(f) => f,
        other => {
            return Ok([PROFILE, TABLES]
                .into_iter()
                .filter_map(|c| absent(c, "FORWARDER_FUNCTION", other, local))
                .collect());
        }
    };
    let settings = match ProfileSettings::from_lookup(|k| f.var(k).map(str::to_owned)) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Ok(vec![
                Finding::pass(
                    PROFILE,
                    "no profile (WFM_PROFILE unset: events go unchanged)",
                ),
                Finding::pass(TABLES, "no profile, no tables"),
            ]);
        }
        Err(e) => {
            let check = if e.variable == "WFM_PROFILE" {
                PROFILE
            } else {
                TABLES
            };
            let bad = Finding::bad(
                check,
                Status::Fail,
                format!("the forwarder's {}: {}", e.variable, e.message),
                format!(
                    "fix {} (the forwarder fails start-up with this value)",
                    e.variable
                ),
            );
            let other = if check == PROFILE { TABLES } else { PROFILE };
            return Ok(vec![
                bad,
                Finding::pass(other, "not checked (see the other profile check)"),
            ]);
        }
    };
    let profile = match &settings.profile {
        ProfileLocation::Builtin(name) => builtin(name),
        ProfileLocation::S3 { bucket, key } => {
            let o = S3Object {
                bucket: bucket.clone(),
                key: key.clone(),
            };
            let exists = object_exists(aws, &o, "WFM_PROFILE").await?;
            stored(
                PROFILE,
                "WFM_PROFILE",
                &format!("s3://{bucket}/{key}"),
                exists,
            )
        }
        ProfileLocation::Ssm(name) => {
            let exists = parameter_exists(clients, name, "WFM_PROFILE").await?;
            stored(PROFILE, "WFM_PROFILE", &format!("ssm:{name}"), exists)
        }
    };
    let mut tables = Vec::new();
    for (variable, o) in [
        ("WFM_PROFILE_MAPPING", &settings.mapping),
        ("WFM_PROFILE_USER_FIELDS", &settings.user_fields),
    ] {
        if let Some(o) = o {
            let exists = object_exists(aws, o, variable).await?;
            tables.push(stored(
                TABLES,
                variable,
                &format!("s3://{}/{}", o.bucket, o.key),
                exists,
            ));
        }
    }
    let tables = match tables.iter().find(|t| t.status != Status::Pass) {
        Some(bad) => bad.clone(),
        None if tables.is_empty() => Finding::pass(TABLES, "no agent table set"),
        None => Finding::pass(
            TABLES,
            tables
                .iter()
                .map(|t| t.detail.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    Ok(vec![profile, tables])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_stored_profiles() {
        assert_eq!(builtin("agent-state").status, Status::Pass);
        let f = builtin("agent-stat");
        assert_eq!(f.status, Status::Fail);
        assert_eq!(
            f.detail,
            "WFM_PROFILE builtin:agent-stat is not a shipped profile (known: genesys, agent-state, assembled)"
        );
        assert_eq!(
            f.fix.as_deref(),
            Some(
                "set WFM_PROFILE (the template's WfmProfile) to one of builtin:genesys, builtin:agent-state, builtin:assembled"
            )
        );
        assert_eq!(
            stored(PROFILE, "WFM_PROFILE", "s3://b/k", true).status,
            Status::Pass
        );
        let gone = stored(TABLES, "WFM_PROFILE_MAPPING", "s3://b/m.csv", false);
        assert_eq!(gone.status, Status::Fail);
        assert_eq!(gone.check, TABLES);
        assert!(
            gone.detail
                .starts_with("WFM_PROFILE_MAPPING s3://b/m.csv does not exist")
        );
    }
}
