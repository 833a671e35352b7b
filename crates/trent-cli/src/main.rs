//! `trent`: the Trent command-line tool. One variant of [`Command`] per subcommand; each lives in its
//! own module.

mod audit;
mod aws_config;
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
    about = "Trent command-line tool: AWS Encryption SDK compatible file encryption, and audit trail verification"
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Encrypt(a) => encrypt::run(a),
        Command::Decrypt(a) => decrypt::run(a),
        Command::Audit(a) => audit::run(a),
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
    fn discovery_account_requires_discovery() {
        assert!(Cli::try_parse_from(["trent", "decrypt", "--discovery-account", "1", "in", "-o", "out"]).is_err());
    }
}
