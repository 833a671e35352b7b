use serde::{Deserialize, Serialize};

/// Who made a request. Built by the server from a verified access key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub account_id: String,
    pub kind: PrincipalKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum PrincipalKind {
    /// The account itself (`arn:aws:iam::123456789012:root`).
    Root,
    /// An IAM user (`arn:aws:iam::123456789012:user/path/name`).
    User { name: String, path: String, id: String },
    /// A role session (`arn:aws:sts::123456789012:assumed-role/role/session`).
    AssumedRole { role_name: String, role_id: String, session_name: String },
}

impl Principal {
    pub fn root(account_id: &str) -> Self {
        Principal { account_id: account_id.to_string(), kind: PrincipalKind::Root }
    }

    /// The principal's ARN in `partition`.
    pub fn arn(&self, partition: &str) -> String {
        let acct = &self.account_id;
        match &self.kind {
            PrincipalKind::Root => format!("arn:{partition}:iam::{acct}:root"),
            PrincipalKind::User { name, path, .. } => {
                format!("arn:{partition}:iam::{acct}:user{path}{name}")
            }
            PrincipalKind::AssumedRole { role_name, session_name, .. } => {
                format!("arn:{partition}:sts::{acct}:assumed-role/{role_name}/{session_name}")
            }
        }
    }

    /// The `UserId` that GetCallerIdentity reports.
    pub fn user_id(&self) -> String {
        match &self.kind {
            PrincipalKind::Root => self.account_id.clone(),
            PrincipalKind::User { id, .. } => id.clone(),
            PrincipalKind::AssumedRole { role_id, session_name, .. } => format!("{role_id}:{session_name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_by_kind() {
        assert_eq!(Principal::root("111122223333").arn("aws"), "arn:aws:iam::111122223333:root");
        let u = Principal {
            account_id: "1".into(),
            kind: PrincipalKind::User { name: "bob".into(), path: "/dev/".into(), id: "AIDA1".into() },
        };
        assert_eq!(u.arn("aws-cn"), "arn:aws-cn:iam::1:user/dev/bob");
        let r = Principal {
            account_id: "1".into(),
            kind: PrincipalKind::AssumedRole {
                role_name: "app".into(),
                role_id: "AROA1".into(),
                session_name: "s".into(),
            },
        };
        assert_eq!(r.arn("aws"), "arn:aws:sts::1:assumed-role/app/s");
        assert_eq!(r.user_id(), "AROA1:s");
    }
}
