//! The archive bucket checks, from `GetBucketEncryption` and `GetPublicAccessBlock` (Amazon S3
//! API reference). Pure: [`super::gather`] makes the calls.

use super::{Finding, Status};

/// Check id: default encryption.
pub const ENCRYPTION: &str = "bucket.encryption";
/// Check id: the public-access block.
pub const PUBLIC_ACCESS: &str = "bucket.public-access";

/// The four settings of a public-access block, as S3 names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublicAccessBlock {
    /// `BlockPublicAcls`.
    pub block_public_acls: bool,
    /// `IgnorePublicAcls`.
    pub ignore_public_acls: bool,
    /// `BlockPublicPolicy`.
    pub block_public_policy: bool,
    /// `RestrictPublicBuckets`.
    pub restrict_public_buckets: bool,
}

/// Default encryption: `algorithms` are the rules' `SSEAlgorithm`s (`AES256`, `aws:kms`,
/// `aws:kms:dsse`); `None` when the bucket has no encryption configuration.
pub fn encryption(bucket: &str, algorithms: Option<&[String]>) -> Finding {
    match algorithms {
        Some(a) if !a.is_empty() => Finding::pass(
            ENCRYPTION,
            format!("{bucket}: default encryption {}", a.join(", ")),
        ),
        _ => Finding::bad(
            ENCRYPTION,
            Status::Fail,
            format!("{bucket}: no default encryption configuration"),
            "set BucketEncryption (SSEAlgorithm AES256 or aws:kms), as template.yaml's ArchiveBucket does",
        ),
    }
}

/// The public-access block: all four settings on; `None` when the bucket has none.
pub fn public_access(bucket: &str, block: Option<PublicAccessBlock>) -> Finding {
    let fix = "turn on all four PublicAccessBlockConfiguration settings, as template.yaml's \
               ArchiveBucket does";
    match block {
        None => Finding::bad(
            PUBLIC_ACCESS,
            Status::Fail,
            format!("{bucket}: no public-access block"),
            fix,
        ),
        Some(b) => {
            let off: Vec<&str> = [
                ("BlockPublicAcls", b.block_public_acls),
                ("IgnorePublicAcls", b.ignore_public_acls),
                ("BlockPublicPolicy", b.block_public_policy),
                ("RestrictPublicBuckets", b.restrict_public_buckets),
            ]
            .into_iter()
            .filter(|(_, on)| !on)
            .map(|(name, _)| name)
            .collect();
            if off.is_empty() {
                Finding::pass(
                    PUBLIC_ACCESS,
                    format!("{bucket}: public access blocked (all four)"),
                )
            } else {
                Finding::bad(
                    PUBLIC_ACCESS,
                    Status::Fail,
                    format!("{bucket}: public-access block has {} off", off.join(", ")),
                    fix,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_needs_a_rule() {
        let aes = vec!["AES256".to_owned()];
        assert_eq!(encryption("b", Some(&aes)).status, Status::Pass);
        assert_eq!(encryption("b", Some(&[])).status, Status::Fail);
        assert_eq!(encryption("b", None).status, Status::Fail);
    }

    #[test]
    fn public_access_needs_all_four() {
        let all = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        };
        assert_eq!(public_access("b", Some(all)).status, Status::Pass);
        let one_off = PublicAccessBlock {
            restrict_public_buckets: false,
            ..all
        };
        let f = public_access("b", Some(one_off));
        assert_eq!(f.status, Status::Fail);
        assert!(f.detail.contains("RestrictPublicBuckets"), "{}", f.detail);
        assert_eq!(public_access("b", None).status, Status::Fail);
    }
}
