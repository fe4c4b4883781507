//! One `relayctl profile test` run: the event, the profile and its table, the shaped request
//! printed, the exit code. AWS is reached only for an `s3://` / `ssm:/` profile or a table in
//! S3; no secret is ever read.

use super::ProfileTestArgs;
use super::input::Input;
use super::shown::{Credentials, ShownRequest, refusal_json, refusal_text};
use crate::app::Exit;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use wfm_relay_aws::aws::AwsClients;
use wfm_relay_aws::profile_source::{read_profile, read_table_once};
use wfm_relay_core::attempt::{Delivery, Unshapeable};
use wfm_relay_core::auth::AuthSettings;
use wfm_relay_core::envelope::Reason;
use wfm_relay_core::event::{BodyMode, parse_event};
use wfm_relay_profile::{Profile, ProfileLocation, ProfileSettings, TableKind, Tables};

/// Variables that hold a secret value itself: `profile test` sees only whether they are set.
const SECRET_VALUES: [&str; 5] = [
    "WFM_AUTH_TOKEN",
    "WFM_OAUTH_CLIENT_SECRET",
    "WFM_API_KEY",
    "WFM_BASIC_USER",
    "WFM_BASIC_PASSWORD",
];

/// Where the signing secrets may be named, in the order they are reported.
const SIGNING_VARS: [&str; 3] = [
    "WFM_SIGNING_SECRETS",
    "WFM_SIGNING_SECRET_ARN",
    "WFM_SIGNING_SECRET_PARAM",
];

/// A failure with its exit code.
struct Failure(Exit, String);

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// Where `--profile` / `WFM_PROFILE` says the profile is: a location of `WFM_PROFILE`'s syntax,
/// or anything else as a path to a JSON file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    /// `builtin:`, `s3://`, `ssm:`.
    Location(ProfileLocation),
    /// A local JSON file.
    File(std::path::PathBuf),
}

impl ProfileSource {
    /// Parses `--profile` / `WFM_PROFILE`.
    ///
    /// # Errors
    /// A malformed `builtin:` / `s3://` / `ssm:` location (the message says which forms work).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if ["builtin:", "s3:", "ssm:"].iter().any(|p| s.starts_with(p)) {
            ProfileLocation::parse(s)
                .map(Self::Location)
                .map_err(|e| e.to_string())
        } else {
            Ok(Self::File(s.into()))
        }
    }
}

/// The body mode of `WFM_BODY` (default `event`).
///
/// # Errors
/// `WFM_BODY: …` for another value.
pub fn body_mode(v: Option<&str>) -> Result<BodyMode, String> {
    match v {
        None | Some("event") => Ok(BodyMode::Event),
        Some("detail") => Ok(BodyMode::Detail),
        Some("eventBody") => Ok(BodyMode::EventBody),
        Some(v) => Err(format!(
            "WFM_BODY: `{v}` is not one of event, detail, eventBody"
        )),
    }
}

/// The credentials as far as they can be told without a secret: the auth settings are read
/// with every secret value replaced by a placeholder.
///
/// # Errors
/// The auth settings' own error, naming the variable.
pub fn credentials(get: impl Fn(&str) -> Option<String>) -> Result<Credentials, String> {
    let masked = |k: &str| {
        let v = get(k);
        if SECRET_VALUES.contains(&k) {
            v.map(|_| "not-read".to_owned())
        } else {
            v
        }
    };
    let auth = AuthSettings::from_lookup(masked).map_err(|e| e.to_string())?;
    Ok(Credentials {
        mode: auth.mode(),
        api_key_header: match &auth {
            AuthSettings::ApiKey(a) => Some(a.header.clone()),
            _ => None,
        },
        signing: SIGNING_VARS.into_iter().find(|v| get(v).is_some()),
    })
}

/// Runs `relayctl profile test` to its exit code.
pub fn run(args: &ProfileTestArgs, json: bool) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(Exit::Error, &format!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(test(args)) {
        Ok(Ok(shown)) => print(
            if json {
                format!("{:#}\n", shown.json())
            } else {
                shown.text()
            },
            Exit::Done,
        ),
        Ok(Err(u)) => print(
            if json {
                format!("{:#}\n", refusal_json(&u))
            } else {
                refusal_text(&u)
            },
            Exit::Failed,
        ),
        Err(Failure(code, msg)) => fail(code, &msg),
    }
}

fn fail(code: Exit, msg: &str) -> ExitCode {
    eprintln!("relayctl: {msg}");
    code.into()
}

fn print(text: String, code: Exit) -> ExitCode {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            fail(Exit::Error, &format!("cannot write: {e}"))
        }
        _ => code.into(),
    }
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure(Exit::Error, format!("{flag} {}: {e}", path.display())))
}

/// The shaped request, or why the profile cannot shape the event.
async fn test(args: &ProfileTestArgs) -> Result<Result<ShownRequest, Unshapeable>, Failure> {
    let error = |m: String| Failure(Exit::Error, m);
    let input = match (&args.event, &args.letter) {
        (Some(p), _) => Input::event(read("--event", p)?),
        (None, Some(p)) => {
            let text = String::from_utf8_lossy(&read("--letter", p)?).into_owned();
            Input::letter(&text).map_err(|e| error(format!("--letter {}: {e}", p.display())))?
        }
        (None, None) => return Err(Failure(Exit::Usage, "give --event or --letter".into())),
    };
    let location = args
        .profile
        .clone()
        .or_else(|| env("WFM_PROFILE"))
        .ok_or_else(|| {
            Failure(
                Exit::Usage,
                "no profile: give --profile (e.g. builtin:agent-state) or set WFM_PROFILE".into(),
            )
        })?;
    let source = ProfileSource::parse(&location).map_err(|e| Failure(Exit::Usage, e))?;
    let mode = body_mode(env("WFM_BODY").as_deref()).map_err(error)?;
    let creds = credentials(env).map_err(error)?;
    let mut aws: Option<AwsClients> = None;
    let profile = match &source {
        ProfileSource::File(p) => Profile::from_json(&read("--profile", p)?)
            .map_err(|e| error(format!("{}: {e}", p.display())))?,
        ProfileSource::Location(ProfileLocation::Builtin(name)) => {
            Profile::builtin(name).map_err(|e| error(e.to_string()))?
        }
        ProfileSource::Location(loc) => {
            let s3 = &aws.get_or_insert(AwsClients::from_env().await).s3;
            read_profile(loc, &wfm_relay_aws::lazy_aws::LazyAws::with_s3(s3.clone()))
                .await
                .map_err(|e| error(e.to_string()))?
        }
    };
    if profile.body.is_some() && mode != BodyMode::Event {
        return Err(error(
            "WFM_BODY: the profile's jq body replaces the request body; unset WFM_BODY".into(),
        ));
    }
    let tables = tables(args, &profile, &mut aws).await?;
    profile
        .check_tables(&tables)
        .map_err(|e| error(format!("{e} (or give --mapping FILE)")))?;
    let info = match parse_event(&input.raw) {
        Ok(i) => i,
        Err(e) => {
            return Ok(Err(Unshapeable {
                reason: Reason::InvalidEvent,
                message: e.to_string(),
            }));
        }
    };
    let shaped = match profile.shape(&input.raw, &info, &tables) {
        Ok(s) => s,
        Err(u) => return Ok(Err(u)),
    };
    let d = Delivery::for_event_shaped(
        &info,
        &input.raw,
        mode,
        input.attempt,
        input.replay,
        Some(&shaped),
    );
    Ok(Ok(ShownRequest::new(&d, env("WFM_URL").as_deref(), &creds)))
}

/// The profile's agent table: `--mapping FILE`, else the S3 object of `WFM_PROFILE_MAPPING` /
/// `WFM_PROFILE_USER_FIELDS` (checked as at start-up), else none.
async fn tables(
    args: &ProfileTestArgs,
    profile: &Profile,
    aws: &mut Option<AwsClients>,
) -> Result<Tables, Failure> {
    let error = |m: String| Failure(Exit::Error, m);
    let kind = profile.table_kind();
    if let Some(p) = &args.mapping {
        let Some(kind) = kind else {
            return Err(Failure(
                Exit::Usage,
                format!(
                    "--mapping: profile {} reads no agent table (its agent key is the user id)",
                    profile.name
                ),
            ));
        };
        let table = profile.parse_table(&read("--mapping", p)?).map_err(|e| {
            error(format!(
                "--mapping {} ({}): {e}",
                p.display(),
                kind.variable()
            ))
        })?;
        return Ok(Tables {
            agents: Some(table),
        });
    }
    // Only the table variables are wanted here: the profile itself came from --profile,
    // which may be a file that `WFM_PROFILE`'s syntax does not know.
    let settings = ProfileSettings::from_lookup(|k| match k {
        "WFM_PROFILE" => Some("builtin:genesys".into()),
        _ => env(k),
    })
    .map_err(|e| error(e.to_string()))?;
    let Some(settings) = settings else {
        return Ok(Tables::default());
    };
    let Some(object) = settings
        .table_for(profile)
        .map_err(|e| error(e.to_string()))?
    else {
        return Ok(Tables::default());
    };
    let kind = kind.unwrap_or(TableKind::Mapping);
    let s3 = &aws.get_or_insert(AwsClients::from_env().await).s3;
    let table = read_table_once(profile, kind, object, s3)
        .await
        .map_err(|e| error(e.to_string()))?;
    Ok(Tables {
        agents: Some(table),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wfm_relay_core::auth::AuthMode;

    #[test]
    fn sources_modes_and_credentials() {
        assert_eq!(
            ProfileSource::parse("builtin:agent-state"),
            Ok(ProfileSource::Location(ProfileLocation::Builtin(
                "agent-state".into()
            )))
        );
        assert_eq!(
            ProfileSource::parse("./my.json"),
            Ok(ProfileSource::File("./my.json".into()))
        );
        assert!(ProfileSource::parse("ssm:x").is_err());
        assert_eq!(body_mode(Some("detail")), Ok(BodyMode::Detail));
        assert!(body_mode(Some("all")).is_err());
        let c = credentials(|k| match k {
            "WFM_AUTH_MODE" => Some("api_key".into()),
            "WFM_API_KEY_HEADER" => Some("X-Api-Key".into()),
            "WFM_API_KEY" => Some("k3y-value".into()),
            "WFM_SIGNING_SECRET_ARN" => Some("arn:aws:secretsmanager:x".into()),
            _ => None,
        })
        .expect("valid");
        assert_eq!(
            c,
            Credentials {
                mode: AuthMode::ApiKey,
                api_key_header: Some("X-Api-Key".into()),
                signing: Some("WFM_SIGNING_SECRET_ARN"),
            }
        );
        let bearer = credentials(|k| (k == "WFM_AUTH_TOKEN").then(|| "t".into())).expect("ok");
        assert_eq!(bearer.mode, AuthMode::Bearer);
        assert!(
            credentials(|k| (k == "WFM_AUTH_MODE").then(|| "digest".into()))
                .expect_err("unknown mode")
                .contains("WFM_AUTH_MODE")
        );
    }
}
