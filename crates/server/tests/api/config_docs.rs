//! The configuration reference cannot drift: every flag and environment variable the command
//! line defines, and every key the TOML file accepts, appears in docs/configuration.md; the
//! example file there sets every key and parses.

use clap::CommandFactory;
use doorway_server::cli::Cli;
use doorway_server::config::{Config, GlobalArgs, ServeArgs};

fn docs(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The keys the TOML file accepts, as its parser lists them when refusing an unknown one.
fn toml_keys() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe.toml");
    std::fs::write(&file, "no_such_key_at_all = 1\n").unwrap();
    let global = GlobalArgs { data_dir: None, database: None, config: Some(file) };
    let err = format!("{:#}", Config::resolve(&global, &ServeArgs::default()).unwrap_err());
    let expected = err.split("expected one of").nth(1).unwrap_or_else(|| panic!("no key list in: {err}"));
    let keys: Vec<String> = expected.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(keys.len() > 20, "{err}");
    keys
}

#[test]
fn configuration_reference_lists_every_flag_env_var_and_toml_key() {
    let reference = docs("docs/configuration.md");
    let cli = Cli::command();
    let serve = cli.find_subcommand("serve").unwrap();
    for arg in cli.get_arguments().chain(serve.get_arguments()) {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" || long == "version" {
            continue;
        }
        assert!(reference.contains(&format!("`--{long}")), "--{long} is missing from docs/configuration.md");
        if let Some(env) = arg.get_env() {
            let env = env.to_str().unwrap();
            assert!(reference.contains(&format!("`{env}`")), "{env} is missing from docs/configuration.md");
        }
    }
    for key in toml_keys() {
        assert!(reference.contains(&format!("`{key}`")), "TOML key {key} is missing from docs/configuration.md");
    }
}

#[test]
fn the_example_configuration_sets_every_key_and_parses() {
    let example = docs("docs/examples/doorway.toml");
    for key in toml_keys() {
        let set = example.lines().any(|line| {
            let line = line.trim_start_matches("# ").trim_start();
            line.starts_with(&format!("{key} =")) || line == format!("[[{key}]]")
        });
        assert!(set, "docs/examples/doorway.toml does not show {key}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("doorway.toml");
    std::fs::write(&file, example).unwrap();
    let global = GlobalArgs { data_dir: None, database: None, config: Some(file) };
    let config = Config::resolve(&global, &ServeArgs::default()).unwrap();
    assert_eq!(config.issuer, "https://id.example.com");
    assert_eq!(config.db_acquire_timeout, 5);
    assert_eq!(config.metrics_listen, Some("127.0.0.1:9090".parse().unwrap()));
}
