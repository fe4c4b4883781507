//! wfm-relay-aws
