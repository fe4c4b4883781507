//! The stack's functions, each read once with `GetFunctionConfiguration`
//! ([`super::function::function_facts`]) and shared by the secrets, role-policy and profile
//! checks.

use super::function::{DoctorClients, FunctionFacts, function_facts};
use super::gather::Unreachable;
use super::targets::StackNames;
use super::{Finding, Status};

/// One function as doctor found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Its variable (e.g. `FORWARDER_FUNCTION`) is not set.
    Unset,
    /// Set, but no such function.
    Missing(String),
    /// Its configuration.
    Found(Box<FunctionFacts>),
}

/// The stack's functions: (variable, what doctor found), in the order forwarder, replayer,
/// snapshot. The snapshot function is optional: when `SNAPSHOT_FUNCTION` is unset it is left out.
#[derive(Debug, Clone, Default)]
pub struct Functions {
    /// `(variable, lookup)` per function.
    pub all: Vec<(&'static str, Lookup)>,
}

impl Functions {
    /// Reads the functions the names give.
    ///
    /// # Errors
    /// [`Unreachable`] for an AWS error other than "no such function".
    pub async fn read(clients: &DoctorClients, names: &StackNames) -> Result<Self, Unreachable> {
        let mut all = Vec::new();
        for (variable, name, optional) in [
            ("FORWARDER_FUNCTION", &names.forwarder_function, false),
            ("REPLAYER_FUNCTION", &names.replayer_function, false),
            ("SNAPSHOT_FUNCTION", &names.snapshot_function, true),
        ] {
            let lookup = match name {
                None if optional => continue,
                None => Lookup::Unset,
                Some(n) => match function_facts(clients, n, variable).await? {
                    Some(f) => Lookup::Found(Box::new(f)),
                    None => Lookup::Missing(n.clone()),
                },
            };
            all.push((variable, lookup));
        }
        Ok(Functions { all })
    }

    /// The forwarder's lookup ([`Lookup::Unset`] when not read).
    pub fn forwarder(&self) -> &Lookup {
        self.all
            .iter()
            .find(|(v, _)| *v == "FORWARDER_FUNCTION")
            .map_or(&Lookup::Unset, |(_, l)| l)
    }
}

/// The finding for a check that needs a function doctor does not have: unset (fail, or warn
/// under `--local`: the demo deploys no function) or missing ([`Finding::missing`]).
pub fn absent(
    check: &'static str,
    variable: &str,
    lookup: &Lookup,
    local: bool,
) -> Option<Finding> {
    let status = if local { Status::Warn } else { Status::Fail };
    match lookup {
        Lookup::Found(_) => None,
        Lookup::Unset => Some(Finding::bad(
            check,
            status,
            if local {
                format!("{variable} is not set: not deployed locally")
            } else {
                format!("{variable} is not set")
            },
            format!(
                "set {variable} (the stack's output of the same name) in the environment or \
                 --env-file, or give --stack NAME"
            ),
        )),
        Lookup::Missing(name) => Some(Finding::missing(
            check,
            &format!("function {name} ({variable})"),
            local,
            &format!("deploy the stack, or fix {variable}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_functions_fail_or_warn_under_local() {
        let found = Lookup::Found(Box::default());
        assert_eq!(absent("c", "FORWARDER_FUNCTION", &found, false), None);
        let unset = absent("c", "FORWARDER_FUNCTION", &Lookup::Unset, false).expect("finding");
        assert_eq!(unset.status, Status::Fail);
        assert_eq!(unset.detail, "FORWARDER_FUNCTION is not set");
        let local = absent("c", "FORWARDER_FUNCTION", &Lookup::Unset, true).expect("finding");
        assert_eq!(local.status, Status::Warn);
        let missing = absent(
            "c",
            "REPLAYER_FUNCTION",
            &Lookup::Missing("r".into()),
            false,
        )
        .expect("finding");
        assert_eq!(missing.status, Status::Fail);
        assert_eq!(missing.detail, "function r (REPLAYER_FUNCTION): not found");
        let f = Functions {
            all: vec![("REPLAYER_FUNCTION", Lookup::Missing("r".into()))],
        };
        assert_eq!(f.forwarder(), &Lookup::Unset);
    }
}
