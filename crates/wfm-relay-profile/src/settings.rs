//! The profile variables (PRODUCT.md §10), read once at start-up from an environment-like
//! lookup, and the table a loaded profile needs.

use crate::builtin::{ProfileLocation, parse_s3};
use crate::error::SettingsError;
use crate::profile::Profile;
use crate::table::TableKind;
use std::time::Duration;

/// An S3 object named by `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
}

/// Default of `WFM_PROFILE_MAPPING_TTL_S`: 300 s.
pub const DEFAULT_TABLE_TTL: Duration = Duration::from_secs(300);

/// What the profile variables say: where the profile and its tables are, and how long a table
/// is kept before it is re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSettings {
    /// `WFM_PROFILE`.
    pub profile: ProfileLocation,
    /// `WFM_PROFILE_MAPPING`, if set.
    pub mapping: Option<S3Object>,
    /// `WFM_PROFILE_USER_FIELDS`, if set (the snapshot job and `relayctl profile sync` write it).
    pub user_fields: Option<S3Object>,
    /// `WFM_PROFILE_MAPPING_TTL_S` (default 300 s, at least 1 s).
    pub table_ttl: Duration,
}

impl ProfileSettings {
    /// Reads the profile variables. `Ok(None)` when `WFM_PROFILE` is unset or empty: no profile,
    /// events go unchanged (today's behaviour).
    ///
    /// # Errors
    /// A [`SettingsError`] naming the variable: a location that is not `builtin:` / `s3://` /
    /// `ssm:/` (tables: `s3://` only), a TTL that is not a whole number of seconds ≥ 1, or
    /// `WFM_PROFILE_MAPPING` set without `WFM_PROFILE`.
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, SettingsError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let s3 = |name: &'static str| {
            var(name)
                .map(|v| {
                    parse_s3(&v)
                        .map(|(bucket, key)| S3Object { bucket, key })
                        .ok_or_else(|| SettingsError {
                            variable: name,
                            message: format!("{v:?} is not an S3 object (s3://bucket/key)"),
                        })
                })
                .transpose()
        };
        let mapping = s3("WFM_PROFILE_MAPPING")?;
        let user_fields = s3("WFM_PROFILE_USER_FIELDS")?;
        let Some(location) = var("WFM_PROFILE") else {
            return match mapping {
                Some(_) => Err(SettingsError {
                    variable: "WFM_PROFILE_MAPPING",
                    message: "is set, but WFM_PROFILE is not (no profile reads the table)".into(),
                }),
                None => Ok(None),
            };
        };
        let profile = ProfileLocation::parse(&location).map_err(|e| SettingsError {
            variable: "WFM_PROFILE",
            message: e.message,
        })?;
        let table_ttl = match var("WFM_PROFILE_MAPPING_TTL_S") {
            None => DEFAULT_TABLE_TTL,
            Some(v) => match v.parse::<u64>() {
                Ok(s) if s >= 1 => Duration::from_secs(s),
                _ => {
                    return Err(SettingsError {
                        variable: "WFM_PROFILE_MAPPING_TTL_S",
                        message: format!("{v:?} is not a whole number of seconds ≥ 1"),
                    });
                }
            },
        };
        Ok(Some(Self {
            profile,
            mapping,
            user_fields,
            table_ttl,
        }))
    }

    /// The object to read `profile`'s agent table from, if it has one and it is configured.
    ///
    /// # Errors
    /// `WFM_PROFILE_MAPPING` set for a profile that does not read it (it would be ignored), or
    /// the table the profile requires not configured.
    pub fn table_for(&self, profile: &Profile) -> Result<Option<&S3Object>, SettingsError> {
        let kind = profile.table_kind();
        if self.mapping.is_some() && kind != Some(TableKind::Mapping) {
            return Err(SettingsError {
                variable: "WFM_PROFILE_MAPPING",
                message: format!(
                    "is set, but profile {} does not read agent keys from a mapping table",
                    profile.name
                ),
            });
        }
        let Some(kind) = kind else {
            return Ok(None);
        };
        let object = match kind {
            TableKind::Mapping => self.mapping.as_ref(),
            TableKind::UserFields => self.user_fields.as_ref(),
        };
        if object.is_none() && profile.table_required() {
            return Err(SettingsError {
                variable: kind.variable(),
                message: format!("is required by profile {}", profile.name),
            });
        }
        Ok(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<ProfileSettings>, SettingsError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProfileSettings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn absent_profile_is_todays_behaviour() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[("WFM_PROFILE", " ")]), Ok(None));
        let e = read(&[("WFM_PROFILE_MAPPING", "s3://b/m.csv")]).expect_err("orphan table");
        assert_eq!(e.variable, "WFM_PROFILE_MAPPING");
    }

    #[test]
    fn reads_and_checks_the_variables() {
        let s = read(&[
            ("WFM_PROFILE", "builtin:assembled"),
            ("WFM_PROFILE_MAPPING", "s3://cfg/agents.csv"),
            ("WFM_PROFILE_MAPPING_TTL_S", "60"),
        ])
        .expect("valid")
        .expect("a profile");
        assert_eq!(s.profile, ProfileLocation::Builtin("assembled".into()));
        assert_eq!(s.table_ttl, Duration::from_secs(60));
        let p = Profile::builtin("assembled").expect("builtin");
        let obj = s.table_for(&p).expect("consistent").expect("an object");
        assert_eq!(
            (obj.bucket.as_str(), obj.key.as_str()),
            ("cfg", "agents.csv")
        );
        // The same table for a profile without one is a mistake, named.
        let g = Profile::builtin("genesys").expect("builtin");
        assert_eq!(
            s.table_for(&g).expect_err("unused").variable,
            "WFM_PROFILE_MAPPING"
        );
        // A required table missing.
        let s = read(&[("WFM_PROFILE", "builtin:assembled")])
            .expect("valid")
            .expect("some");
        assert_eq!(
            s.table_for(&p).expect_err("required").to_string(),
            "WFM_PROFILE_MAPPING: is required by profile assembled"
        );
        // agent-state takes the user id without a table.
        let a = Profile::builtin("agent-state").expect("builtin");
        assert_eq!(s.table_for(&a), Ok(None));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (pairs, var) in [
            (vec![("WFM_PROFILE", "file:/x")], "WFM_PROFILE"),
            (
                vec![
                    ("WFM_PROFILE", "builtin:x"),
                    ("WFM_PROFILE_MAPPING_TTL_S", "0"),
                ],
                "WFM_PROFILE_MAPPING_TTL_S",
            ),
            (
                vec![
                    ("WFM_PROFILE", "builtin:x"),
                    ("WFM_PROFILE_USER_FIELDS", "ssm:/x"),
                ],
                "WFM_PROFILE_USER_FIELDS",
            ),
        ] {
            assert_eq!(read(&pairs).expect_err(var).variable, var);
        }
    }
}
