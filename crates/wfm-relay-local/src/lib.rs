//! wfm-relay-local
