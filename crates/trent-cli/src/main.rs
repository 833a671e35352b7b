//! `trent`: the Trent command-line tool. One variant of [`Command`] per subcommand; each lives in its
//! own module.
#![forbid(unsafe_code)]

mod audit;
mod aws_config;
mod backup;
mod common;
mod decrypt;
mod encrypt;
mod files;
mod kms_http;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "trent",
    version,
    about = "Trent command-line tool: AWS Encryption SDK compatible file encryption, audit trail verification, \
             and store backup and restore"
)]
struct Cli {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    fn discovery_account_requires_discovery() {
        assert!(Cli::try_parse_from(["trent", "decrypt", "--discovery-account", "1", "in", "-o", "out"]).is_err());
    }
}
