//! Profiles compiled into the binary (`WFM_PROFILE=builtin:<name>`; a Lambda package ships only
//! `bootstrap`), and the profile location syntax.

use crate::error::ProfileError;
use crate::profile::Profile;

/// The shipped profiles: name and JSON text (files under `profiles/`).
pub const BUILTINS: &[(&str, &str)] = &[
    ("genesys", include_str!("../profiles/genesys.json")),
    ("agent-state", include_str!("../profiles/agent-state.json")),
    ("assembled", include_str!("../profiles/assembled.json")),
];

impl Profile {
    /// Loads a shipped profile by name (`genesys`, `agent-state`, `assembled`).
    ///
    /// # Errors
    /// An unknown name (the message lists the known ones), or — a bug caught by the tests — a
    /// shipped profile that does not validate.
    pub fn builtin(name: &str) -> Result<Self, ProfileError> {
        let (_, text) = BUILTINS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            let known: Vec<_> = BUILTINS.iter().map(|(n, _)| *n).collect();
            ProfileError::whole(format!(
                "unknown builtin profile `{name}` (known: {})",
                known.join(", ")
            ))
        })?;
        Self::from_json(text.as_bytes())
    }
}

/// Where `WFM_PROFILE` says the profile is (PRODUCT.md §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileLocation {
    /// `builtin:<name>`: compiled in, see [`Profile::builtin`].
    Builtin(String),
    /// `s3://bucket/key`: an S3 object holding the JSON document.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Object key.
        key: String,
    },
    /// `ssm:/name`: an SSM parameter (String or SecureString) holding the JSON document.
    Ssm(String),
}

impl ProfileLocation {
    /// Parses the value of `WFM_PROFILE`.
    ///
    /// # Errors
    /// `WFM_PROFILE: …` for anything but `builtin:<name>`, `s3://bucket/key`, `ssm:/name`.
    pub fn parse(s: &str) -> Result<Self, ProfileError> {
        let s = s.trim();
        if let Some(name) = s.strip_prefix("builtin:")
            && !name.is_empty()
        {
            return Ok(Self::Builtin(name.to_owned()));
        }
        if let Some((bucket, key)) = parse_s3(s) {
            return Ok(Self::S3 { bucket, key });
        }
        if let Some(name) = s.strip_prefix("ssm:")
            && name.starts_with('/')
            && name.len() > 1
        {
            return Ok(Self::Ssm(name.to_owned()));
        }
        Err(ProfileError::whole(format!(
            "{s:?} is not a profile location (builtin:<name>, s3://bucket/key or ssm:/name)"
        )))
    }
}

/// Splits `s3://bucket/key` into bucket and key (both non-empty).
pub(crate) fn parse_s3(s: &str) -> Option<(String, String)> {
    let (bucket, key) = s.trim().strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_owned(), key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            ProfileLocation::parse("builtin:agent-state"),
            Ok(ProfileLocation::Builtin("agent-state".into()))
        );
        assert_eq!(
            ProfileLocation::parse("s3://b/p/k.json"),
            Ok(ProfileLocation::S3 {
                bucket: "b".into(),
                key: "p/k.json".into()
            })
        );
        assert_eq!(
            ProfileLocation::parse("ssm:/wfm/profile"),
            Ok(ProfileLocation::Ssm("/wfm/profile".into()))
        );
        for bad in ["", "builtin:", "s3://b", "ssm:x", "https://x"] {
            let e = ProfileLocation::parse(bad).expect_err(bad);
            assert!(e.to_string().starts_with("WFM_PROFILE: "), "{e}");
        }
    }

    #[test]
    fn every_builtin_loads_and_unknown_names_are_listed() {
        for (name, _) in BUILTINS {
            let p = Profile::builtin(name).expect(name);
            assert_eq!(p.name, *name);
        }
        let e = Profile::builtin("nice").expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "WFM_PROFILE: unknown builtin profile `nice` (known: genesys, agent-state, assembled)"
        );
    }
}
