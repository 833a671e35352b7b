

def test_cross_account_assume_role_needs_the_trust_policy_and_the_callers_identity_policy(trent_factory):
    srv = trent_factory({"TRENT_EXTRA_ADMIN_KEYS": f"{SECOND_ACCOUNT}:{SECOND_KEY_ID}:{SECOND_SECRET}"})
    owner_iam = admin("iam", srv.base_url)
    other_iam = client("iam", srv.base_url, SECOND_KEY_ID, SECOND_SECRET)
    role = make_role(owner_iam, f"arn:aws:iam::{SECOND_ACCOUNT}:root")
    user = name("visitor")
    other_iam.create_user(UserName=user)
    k = other_iam.create_access_key(UserName=user)["AccessKey"]
    visitor_sts = as_user("sts", srv.base_url, k)
    with pytest.raises(ClientError) as e:
        visitor_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit")
    assert error_code(e) == "AccessDenied"
    other_iam.put_user_policy(
        UserName=user,
        PolicyName="assume",
        PolicyDocument=policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}),
    )
    got = visitor_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit")
    assert got["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role['RoleName']}/visit"
    c = got["Credentials"]
    who = client("sts", srv.base_url, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
    assert who["Account"] == ACCOUNT_ID
    # Replacing the trust policy takes effect at once.
    owner_iam.update_assume_role_policy(
        RoleName=role["RoleName"],
        PolicyDocument=policy(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}
        ),
    )
    with pytest.raises(ClientError) as e:
        visitor_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="visit")
    assert error_code(e) == "AccessDenied"
