//! `trent`: the Trent command-line tool. One variant of [`Command`] per subcommand; each lives in its
//! own module.
#![forbid(unsafe_code)]

mod agent;
mod audit;
mod aws_client;
mod aws_config;
mod backup;
mod common;
mod decrypt;
mod encrypt;
mod files;
mod kms_http;
mod operator;
mod resolve;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "trent",
    version,
    about = "Trent command-line tool: AWS Encryption SDK compatible file encryption, audit trail verification, \
             store backup and restore, and secrets for workloads (resolve, agent)"
)]
struct Cli {
    /// Never draw a progress bar (one is drawn only when stderr is a terminal: for --recursive
    /// runs, and for single files of 64 MiB or more).
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Encrypt files into AWS Encryption SDK messages (KMS and/or raw wrapping keys).
    Encrypt(encrypt::Args),
    /// Decrypt AWS Encryption SDK messages; output is written only when the whole message verified.
    Decrypt(decrypt::Args),
    /// Work with trentd's audit trail offline.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Write a consistent, checksummed snapshot of a trentd store (SQLite or PostgreSQL), while
    /// trentd runs. Key material in it stays wrapped under the root key.
    Backup(backup::BackupArgs),
    /// Load a `trent backup` file into an empty store of either backend (e.g. SQLite → PostgreSQL).
    Restore(backup::RestoreArgs),
    /// Operate a running trentd's seal: unseal (one share on stdin), seal, status (docs/SEAL.md).
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Render text with CloudFormation dynamic references ({{resolve:ssm:NAME}},
    /// {{resolve:ssm-secure:NAME}}, {{resolve:secretsmanager:ID:SecretString:KEY}}) to standard output.
    Resolve(resolve::ResolveArgs),
    /// Render templates with dynamic references (again on every change, running a command) and
    /// serve the local endpoint of AWS's secrets agents (docs/AGENT.md).
    Agent(agent::AgentArgs),
    /// Print a shell completion script, e.g. `trent completions bash > /etc/bash_completion.d/trent`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `trent man > trent.1`.
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.no_progress {
        files::disable_progress();
    }
    let result = match cli.command {
        Command::Encrypt(a) => encrypt::run(a),
        Command::Decrypt(a) => decrypt::run(a),
        Command::Audit(a) => match audit::run(a) {
            Ok(0) => Ok(()),
            Ok(code) => return ExitCode::from(code),
            Err(e) => Err(e),
        },
        Command::Backup(a) => backup::run_backup(a),
        Command::Restore(a) => backup::run_restore(a),
        Command::Operator(c) => operator::run(c),
        Command::Resolve(a) => resolve::run(a),
        Command::Agent(a) => agent::run(a),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "trent", &mut script);
            // A closed pipe (`| head`) is not an error.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), &script);
            Ok(())
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| format!("writing the manual page: {e}"))
                .map(|()| {
                    let _ = std::io::Write::write_all(&mut std::io::stdout(), &page);
                })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trent: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn encrypt_parses_repeated_keys_contexts_and_suite() {
        let cli = Cli::try_parse_from([
            "trent",
            "encrypt",
            "--key",
            "k1",
            "--key",
            "k2",
            "--context",
            "a=1",
            "--suite",
            "0x0478",
            "in",
            "-o",
            "out",
        ])
        .unwrap();
        let Command::Encrypt(a) = cli.command else { panic!("not encrypt") };
        assert_eq!(a.keys, ["k1", "k2"]);
        assert_eq!(a.context, ["a=1"]);
        assert_eq!(a.frame_size, 4096);
    }

    #[test]
    fn backup_and_restore_parse_their_store_data_dir_and_file() {
        let cli =
            Cli::try_parse_from(["trent", "backup", "--store", "sqlite", "--data-dir", "/d", "-o", "/b"]).unwrap();
        let Command::Backup(a) = cli.command else { panic!("not backup") };
        assert_eq!((a.store.as_str(), a.data_dir.to_str(), a.output.to_str()), ("sqlite", Some("/d"), Some("/b")));
        let cli = Cli::try_parse_from(["trent", "restore", "--store", "postgres://h/db", "/b"]).unwrap();
        let Command::Restore(a) = cli.command else { panic!("not restore") };
        assert_eq!((a.store.as_str(), a.file.to_str()), ("postgres://h/db", Some("/b")));
        assert!(Cli::try_parse_from(["trent", "backup", "--store", "sqlite"]).is_err(), "-o is required");
    }

    #[test]
    fn backup_and_restore_default_to_trentds_store_and_data_dir() {
        if std::env::var_os("TRENT_STORE").is_some() || std::env::var_os("TRENT_DATA_DIR").is_some() {
            return; // the environment names them; the defaults are not in play
        }
        let Command::Backup(a) = Cli::try_parse_from(["trent", "backup", "-o", "/b"]).unwrap().command else {
            panic!("not backup")
        };
        assert_eq!((a.store.as_str(), a.data_dir.to_str()), ("sqlite", Some("./trent-data")));
        let Command::Restore(a) = Cli::try_parse_from(["trent", "restore", "/b"]).unwrap().command else {
            panic!("not restore")
        };
        assert_eq!((a.store.as_str(), a.data_dir.to_str()), ("sqlite", Some("./trent-data")));
    }

    #[test]
    fn audit_verify_shows_dir_as_required_and_accepts_store_instead() {
        let mut cmd = Cli::command();
        let verify = cmd.find_subcommand_mut("audit").unwrap().find_subcommand_mut("verify").unwrap();
        let usage = verify.render_usage().to_string();
        assert!(usage.contains("<DIR>") && !usage.contains("[DIR]"), "{usage}");
        assert!(usage.contains("--store <STORE>"), "{usage}");
        let help = verify.render_help().to_string();
        assert!(help.contains("  <DIR>") && !help.contains("[DIR]"), "{help}");
        assert!(Cli::try_parse_from(["trent", "audit", "verify"]).is_err());
        assert!(Cli::try_parse_from(["trent", "audit", "verify", "./trent-data"]).is_ok());
        assert!(Cli::try_parse_from(["trent", "audit", "verify", "--store", "postgres://h/db"]).is_ok());
    }

    #[test]
    fn the_ca_bundle_is_never_shown_as_required_in_usage() {
        // AWS_CA_BUNDLE is read when connecting, not by clap, so no environment makes the flag
        // appear in the usage line of an error.
        let err = Cli::try_parse_from(["trent", "encrypt"]).unwrap_err().to_string();
        assert!(!err.contains("--ca-bundle"), "{err}");
        let mut cmd = Cli::command();
        let enc = cmd.find_subcommand_mut("encrypt").unwrap();
        assert!(enc.get_arguments().find(|a| a.get_id() == "ca_bundle").unwrap().get_env().is_none());
    }

    #[test]
    fn completions_and_man_parse_and_no_progress_is_global() {
        assert!(Cli::try_parse_from(["trent", "completions", "zsh"]).is_ok());
        assert!(Cli::try_parse_from(["trent", "completions", "tcsh"]).is_err());
        assert!(Cli::try_parse_from(["trent", "man"]).is_ok());
        let cli = Cli::try_parse_from(["trent", "decrypt", "--no-progress", "--discovery", "in", "-o", "out"]).unwrap();
        assert!(cli.no_progress);
    }

    #[test]
    fn discovery_account_requires_discovery() {
        assert!(Cli::try_parse_from(["trent", "decrypt", "--discovery-account", "1", "in", "-o", "out"]).is_err());
    }
}
