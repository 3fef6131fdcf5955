//! Where clap meets the habits people bring from nc, curl, wrk and tcpkali
//! ([`tcpkit::habits`] holds what each of their flags is called here):
//! before clap parses (what it cannot spell), after it refuses (what the
//! refused flag means here), and after it accepts (a bench flag the
//! scenario would silently ignore).

use std::ffi::OsString;

use tcpkit::habits::{curl, curl_continue_at, load_tool, nc, nc_quit_seconds, serve_address};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};
use tcpkit::{Setting, bench::Scenario};

const SUBCOMMANDS: [&str; 5] = ["serve", "talk", "demo", "fetch", "bench"];

/// The subcommand named on the command line, if any.
fn subcommand(args: &[OsString]) -> Option<&str> {
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| SUBCOMMANDS.contains(a))
}

/// Rewrites, or refuses with a hint, what clap cannot spell before it
/// parses: curl's `fetch -C -` (resume where the part file ends: fetch's
/// `-C`) and nc's `talk -q SECS` (here `-q` is quieter logs).
pub fn before_parse(args: Vec<OsString>) -> Result<Vec<OsString>, String> {
    match subcommand(&args) {
        Some("talk") => nc_quit_seconds(&args).map_or(Ok(args), Err),
        Some("fetch") => curl_continue_at(args),
        _ => Ok(args),
    }
}

/// What a flag clap refused means here, for the tool its user knows.
pub fn after_error(e: &clap::Error, args: &[OsString]) -> Option<String> {
    let sub = subcommand(args);
    if let Some(hint) = nc_keep_listening(e, args) {
        return Some(hint);
    }
    if let Some(hint) = bench_scenario_first(e, sub) {
        return Some(hint);
    }
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(flag)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let hint = match sub {
        Some("serve") => serve_address(flag, args),
        Some("fetch") => curl(flag).map(|m| format!("unknown flag '{flag}': {m}")),
        Some("bench") => load_tool(flag).map(|m| format!("unknown flag '{flag}': {m}")),
        _ => None,
    };
    hint.or_else(|| nc(flag, sub, args))
}

/// wrk's order, `bench -c 10 -d 1s 127.0.0.1:9999`: the address is taken
/// for the scenario, which bench needs first.
fn bench_scenario_first(e: &clap::Error, sub: Option<&str>) -> Option<String> {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg,
        _ => return None,
    };
    let value = match e.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) => value,
        _ => return None,
    };
    let scenario = sub == Some("bench") && e.kind() == ErrorKind::InvalidValue;
    (scenario && arg.contains("SCENARIO")).then(|| tcpkit::habits::scenario_first(value))
}

/// `-k` is talk's --insecure (with --tls); alone, or in `-lk`, it is nc's
/// "keep listening", which clap refuses as wanting --tls.
fn nc_keep_listening(e: &clap::Error, args: &[OsString]) -> Option<String> {
    let refused = matches!(
        e.kind(),
        ErrorKind::MissingRequiredArgument | ErrorKind::ArgumentConflict
    );
    refused.then(|| tcpkit::habits::nc_keep_listening(args))?
}

/// The bench flags a scenario does not use ([`Scenario::users`]), given
/// on the command line: a refusal naming the scenarios that do, rather
/// than a flag silently ignored (`bench pingpong --depth 8`).
pub fn unused_by_scenario(matches: &ArgMatches) -> Option<String> {
    let bench = matches.subcommand_matches("bench")?;
    let scenario = *bench.get_one::<Scenario>("scenario")?;
    let command = crate::cli::Cli::command();
    let args = command.find_subcommand("bench")?.get_arguments();
    args.filter(|arg| bench.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .filter_map(|arg| Setting::of_flag(&format!("--{}", arg.get_long()?)))
        .find_map(|setting| {
            let users = Scenario::users(setting)?;
            (!users.contains(&scenario)).then(|| {
                let names: Vec<_> = users.iter().map(|s| s.name()).collect();
                format!(
                    "{} does not use {}: it applies to {} only",
                    scenario.name(),
                    setting.flag(),
                    names.join(", ")
                )
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fetch_gets_curls_dash_c() {
        let args: Vec<OsString> = ["tcpkit", "talk", "-C", "-"].map(OsString::from).to_vec();
        assert_eq!(before_parse(args.clone()).unwrap(), args);
    }
}
