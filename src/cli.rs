//! The command line: `route53-registrator [run] [--config FILE] [--dry-run] [--once]`, `check-config`,
//! `healthcheck`, `--version`, `--help`.
//!
//! `run` is the default subcommand, so `route53-registrator --config f` runs the daemon. Usage errors exit 2
//! (clap's own code, which matches the exit code of a bad configuration).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// DNS service discovery for containers on ECS instances through a Route53 private hosted zone.
#[derive(Debug, Parser, PartialEq, Eq)]
#[command(
    name = "route53-registrator",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The options of `run`, accepted without the subcommand's name.
    #[command(flatten)]
    run: RunArgs,
}

/// What to do.
#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum Command {
    /// Run the daemon (the default).
    Run(RunArgs),
    /// Validate the configuration and print the effective one; exit 2 naming the key when it is invalid.
    CheckConfig(ConfigArg),
    /// Ask the running daemon's /healthz on http.listen; exit 0 when it answers 200.
    Healthcheck(ConfigArg),
}

/// Options of `run`.
#[derive(Debug, Args, Clone, Default, PartialEq, Eq)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Log every change that would be sent to Route53, and send none.
    #[arg(long)]
    pub dry_run: bool,
    /// Reconcile once and exit: 0 when every change was applied, 1 when any was rejected.
    #[arg(long)]
    pub once: bool,
}

/// The configuration file option every subcommand takes.
#[derive(Debug, Args, Clone, Default, PartialEq, Eq)]
pub struct ConfigArg {
    /// TOML configuration file (default: the file named by ROUTE53_REGISTRATOR_CONFIG, else none). Any key can
    /// be overridden by an `R53R_<SECTION>__<KEY>` environment variable.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl Cli {
    /// The subcommand to run, `run` when none was named.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Run(self.run))
    }
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("route53-registrator").chain(args.iter().copied()))
            .map(Cli::into_command)
    }

    fn run(config: Option<&str>, dry_run: bool, once: bool) -> Command {
        Command::Run(RunArgs {
            config: ConfigArg {
                config: config.map(PathBuf::from),
            },
            dry_run,
            once,
        })
    }

    #[test]
    fn commands_parse() {
        let cases: &[(&[&str], Command)] = &[
            (&[], run(None, false, false)),
            (&["run"], run(None, false, false)),
            (&["--config", "f.toml"], run(Some("f.toml"), false, false)),
            (
                &["--config=f.toml", "--dry-run"],
                run(Some("f.toml"), true, false),
            ),
            (&["--once", "--dry-run"], run(None, true, true)),
            (
                &["run", "--config", "f.toml", "--once"],
                run(Some("f.toml"), false, true),
            ),
            (
                &["check-config"],
                Command::CheckConfig(ConfigArg { config: None }),
            ),
            (
                &["check-config", "--config", "f.toml"],
                Command::CheckConfig(ConfigArg {
                    config: Some("f.toml".into()),
                }),
            ),
            (
                &["healthcheck", "--config", "f.toml"],
                Command::Healthcheck(ConfigArg {
                    config: Some("f.toml".into()),
                }),
            ),
        ];
        for (args, expected) in cases {
            assert_eq!(&parse(args).unwrap(), expected, "{args:?}");
        }
    }

    #[test]
    fn usage_errors_exit_2() {
        let cases: &[&[&str]] = &[
            &["--bogus"],
            &["check-config", "--dry-run"],
            &["healthcheck", "--once"],
            &["--once", "check-config"],
            &["--config"],
            &["frobnicate"],
        ];
        for args in cases {
            let err = parse(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
    }

    #[test]
    fn version_and_help_are_not_errors() {
        let err = parse(&["--version"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DisplayVersion);
        assert_eq!(err.exit_code(), 0);
        assert!(err.to_string().contains(env!("CARGO_PKG_VERSION")));
        let err = parse(&["--help"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DisplayHelp);
        assert_eq!(err.exit_code(), 0);
        let help = err.to_string();
        for word in [
            "check-config",
            "healthcheck",
            "--dry-run",
            "--once",
            "--config",
        ] {
            assert!(help.contains(word), "{word} missing from --help:\n{help}");
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
