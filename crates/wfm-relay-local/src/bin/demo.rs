//! `wfm-relay-demo`: placeholder for the local end-to-end demo (not written yet).

fn main() {}
