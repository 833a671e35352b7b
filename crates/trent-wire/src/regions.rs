//! The region names trentd serves: AWS's regions (one table, from botocore's `partitions.json`,
//! without the `*-global` pseudo-regions) plus any an operator adds with `--extra-region`.
//! A SigV4 scope naming another region is refused (quotas are per region, so an open set of
//! regions would multiply every quota), and so is a replica region outside this set.

use std::sync::RwLock;

/// Every AWS region, with its partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, …).
pub const AWS_REGIONS: &[(&str, &str)] = &[
    ("af-south-1", "aws"),
    ("ap-east-1", "aws"),
    ("ap-east-2", "aws"),
    ("ap-northeast-1", "aws"),
    ("ap-northeast-2", "aws"),
    ("ap-northeast-3", "aws"),
    ("ap-south-1", "aws"),
    ("ap-south-2", "aws"),
    ("ap-southeast-1", "aws"),
    ("ap-southeast-2", "aws"),
    ("ap-southeast-3", "aws"),
    ("ap-southeast-4", "aws"),
    ("ap-southeast-5", "aws"),
    ("ap-southeast-6", "aws"),
    ("ap-southeast-7", "aws"),
    ("ca-central-1", "aws"),
    ("ca-west-1", "aws"),
    ("eu-central-1", "aws"),
    ("eu-central-2", "aws"),
    ("eu-north-1", "aws"),
    ("eu-south-1", "aws"),
    ("eu-south-2", "aws"),
    ("eu-west-1", "aws"),
    ("eu-west-2", "aws"),
    ("eu-west-3", "aws"),
    ("il-central-1", "aws"),
    ("me-central-1", "aws"),
    ("me-south-1", "aws"),
    ("me-west-1", "aws"),
    ("mx-central-1", "aws"),
    ("sa-east-1", "aws"),
    ("sa-west-1", "aws"),
    ("us-east-1", "aws"),
    ("us-east-2", "aws"),
    ("us-west-1", "aws"),
    ("us-west-2", "aws"),
    ("cn-north-1", "aws-cn"),
    ("cn-northwest-1", "aws-cn"),
    ("eusc-de-east-1", "aws-eusc"),
    ("us-iso-east-1", "aws-iso"),
    ("us-iso-west-1", "aws-iso"),
    ("us-isob-east-1", "aws-iso-b"),
    ("us-isob-west-1", "aws-iso-b"),
    ("eu-isoe-west-1", "aws-iso-e"),
    ("us-isof-east-1", "aws-iso-f"),
    ("us-isof-south-1", "aws-iso-f"),
    ("us-gov-east-1", "aws-us-gov"),
    ("us-gov-west-1", "aws-us-gov"),
];

static EXTRA: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// True for a well-formed region name: 1-32 lowercase letters, digits and hyphens.
pub fn well_formed(r: &str) -> bool {
    !r.is_empty() && r.len() <= 32 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Adds operator-named regions (`--extra-region`) to those served, for the life of the process.
pub fn add_extra<S: AsRef<str>>(names: &[S]) {
    let mut extra = EXTRA.write().unwrap_or_else(|e| e.into_inner());
    for n in names {
        let n = n.as_ref();
        if well_formed(n) && !extra.iter().any(|e| e == n) {
            extra.push(n.to_string());
        }
    }
}

/// True for a region trentd serves: an AWS region or one added with [`add_extra`].
pub fn is_known(r: &str) -> bool {
    AWS_REGIONS.iter().any(|(name, _)| *name == r)
        || EXTRA.read().unwrap_or_else(|e| e.into_inner()).iter().any(|e| e == r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_regions_of_every_partition_are_known_and_invented_ones_are_not() {
        for r in ["us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1", "us-iso-east-1", "ap-southeast-7"] {
            assert!(is_known(r), "{r}");
        }
        for r in ["xx-region-0", "us-east-99", "aws-global", "", "US-EAST-1"] {
            assert!(!is_known(r), "{r}");
        }
    }

    #[test]
    fn an_extra_region_is_known_once_added() {
        assert!(!is_known("lab-test-1"));
        add_extra(&["lab-test-1", "Not A Region"]);
        assert!(is_known("lab-test-1"));
        assert!(!is_known("Not A Region"));
    }
}
