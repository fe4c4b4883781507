//! Unit tests of the Genesys client through its seams: a scripted [`Transport`] with a virtual
//! clock (sleeping advances it) and a counting token endpoint.

mod agents;
mod fakes;
mod pacing;
mod permissions;
mod tokens;

pub(super) use fakes::*;
