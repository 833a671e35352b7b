//! Records the git commit trentd is built from (TRENT_GIT_COMMIT), for `--version` and the
//! `trent_build_info` metric; "unknown" outside a git checkout or without git.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    // TRENT_SKIP_POSTGRES=1 / TRENT_SKIP_MYSQL=1 mark the tests that need that database server
    // #[ignore], so the harness reports them as ignored, not as passed.
    for (var, cfg) in [("TRENT_SKIP_POSTGRES", "trent_skip_postgres"), ("TRENT_SKIP_MYSQL", "trent_skip_mysql")] {
        println!("cargo:rustc-check-cfg=cfg({cfg})");
        println!("cargo:rerun-if-env-changed={var}");
        if std::env::var(var).is_ok_and(|v| v == "1") {
            println!("cargo:rustc-cfg={cfg}");
        }
    }
    let commit = std::env::var("TRENT_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TRENT_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=TRENT_GIT_COMMIT");
    // A new commit moves HEAD's reflog (in a worktree too, where HEAD lives in its own git dir).
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        for f in ["HEAD", "logs/HEAD"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
    }
}
