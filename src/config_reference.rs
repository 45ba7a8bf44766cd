//! The configuration reference (`docs/configuration.md`) and the example file
//! (`mediadrive.example.toml`) checked against what the binary accepts: every key of every table,
//! every environment variable and flag, and every default the example states.

use std::collections::{BTreeMap, BTreeSet};

use clap::CommandFactory;

use super::{settings::FileSettings, Cli};

const REFERENCE: &str = include_str!("../docs/configuration.md");
const EXAMPLE: &str = include_str!("../mediadrive.example.toml");

/// The tables of the file, as the reference names its sections.
const TABLES: [&str; 8] = [
    "",
    "generation",
    "generation.models",
    "webhooks",
    "renders",
    "videojungle",
    "limits",
    "tus",
];

/// The keys the file accepts in `table`, read from the refusal of one it does not.
fn accepted_keys(table: &str) -> BTreeSet<String> {
    let header = match table {
        "" => String::new(),
        "generation.models" => "[[generation.models]]\n".into(),
        t => format!("[{t}]\n"),
    };
    let refusal = toml::from_str::<FileSettings>(&format!("{header}not_a_key = 1\n"))
        .expect_err("an unknown key is refused")
        .to_string();
    let expected = refusal
        .split("expected one of ")
        .nth(1)
        .or_else(|| refusal.split("expected ").nth(1))
        .unwrap_or_else(|| panic!("no list of keys in: {refusal}"));
    backticked(expected.lines().next().unwrap_or_default())
}

fn backticked(text: &str) -> BTreeSet<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

/// The reference's rows (their cells) by table and key.
fn reference_rows() -> BTreeMap<(String, String), Vec<String>> {
    let mut rows = BTreeMap::new();
    let mut table = String::new();
    for line in REFERENCE.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            table = heading
                .split('`')
                .nth(1)
                .expect("a section heading names its table")
                .trim_matches(['[', ']'])
                .to_string();
        } else if line.starts_with("Each `[[generation.models]]`") {
            table = "generation.models".into();
        } else if line.starts_with("## ") {
            table = "-".into();
        }
        let Some(row) = line.strip_prefix('|') else {
            continue;
        };
        let cells: Vec<String> = row.split('|').map(|c| c.trim().to_string()).collect();
        for key in backticked(&cells[0]) {
            rows.insert((table.clone(), key), cells.clone());
        }
    }
    rows
}

/// The example's keys by table, with the value it shows where it is not commented out.
fn example_keys() -> BTreeMap<(String, String), Option<toml::Value>> {
    let parsed: toml::Table = toml::from_str(EXAMPLE).unwrap();
    let mut keys = BTreeMap::new();
    let mut table = String::new();
    for line in EXAMPLE.lines() {
        let (commented, line) = match line.trim().strip_prefix('#') {
            Some(rest) => (true, rest.trim()),
            None => (false, line.trim()),
        };
        // Table headers count commented out too: the example's models are.
        let header = line
            .strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .map(|l| l.trim_matches(['[', ']']))
            .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '.'));
        if let Some(name) = header {
            table = name.to_string();
            continue;
        }
        let assignment = line;
        let Some((key, _)) = assignment.split_once(" = ") else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            continue;
        }
        let value = if commented || table == "generation.models" {
            None
        } else {
            let scope = match table.as_str() {
                "" => Some(&parsed),
                t => parsed.get(t).and_then(|v| v.as_table()),
            };
            scope.and_then(|s| s.get(key)).cloned()
        };
        keys.insert((table.clone(), key.to_string()), value);
    }
    keys
}

/// Whether the reference's default cell states `value`: numbers may be written with units
/// (`10 GiB`) or an explanation after them (`259200 (3 days)`).
fn states(cell: &str, value: &toml::Value) -> bool {
    let cell = cell.replace('`', "");
    match value {
        toml::Value::Integer(n) => {
            let number = cell.split(" (").next().unwrap_or_default().trim();
            number.parse::<i64>().ok() == Some(*n)
                || number
                    .parse::<bytesize::ByteSize>()
                    .is_ok_and(|b| b.as_u64() == *n as u64)
        }
        toml::Value::String(s) => cell == *s,
        toml::Value::Array(_) => cell.replace(' ', "") == value.to_string().replace(' ', ""),
        other => cell == other.to_string(),
    }
}

#[test]
fn every_key_of_the_file_is_in_the_reference_and_the_example() {
    let rows = reference_rows();
    let example = example_keys();
    let mut missing = Vec::new();
    for table in TABLES {
        for key in accepted_keys(table) {
            if [
                "generation",
                "webhooks",
                "renders",
                "videojungle",
                "limits",
                "tus",
            ]
            .contains(&key.as_str())
                || (table == "generation" && key == "models")
            {
                continue;
            }
            let at = (table.to_string(), key.clone());
            if !rows.contains_key(&at) {
                missing.push(format!("[{table}] {key}: not in docs/configuration.md"));
            }
            if !example.contains_key(&at) {
                missing.push(format!("[{table}] {key}: not in mediadrive.example.toml"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn the_reference_names_no_key_the_file_refuses() {
    let unknown: Vec<_> = reference_rows()
        .into_keys()
        .filter(|(table, key)| {
            TABLES.contains(&table.as_str()) && !accepted_keys(table).contains(key)
        })
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");
}

#[test]
fn the_reference_states_the_defaults_the_example_shows() {
    let rows = reference_rows();
    let mut wrong = Vec::new();
    for ((table, key), value) in example_keys() {
        let (Some(value), Some(cells)) = (value, rows.get(&(table.clone(), key.clone()))) else {
            continue;
        };
        // The first table also names the env variable and the flag before the default.
        let cell = if table.is_empty() {
            &cells[3]
        } else {
            &cells[1]
        };
        if !states(cell, &value) {
            wrong.push(format!(
                "[{table}] {key}: the reference says {cell}, the example {value}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_env_variable_and_flag_of_the_server_is_in_the_reference() {
    let cli = Cli::command();
    let serve = cli
        .find_subcommand("serve")
        .expect("a serve command")
        .clone();
    let mut missing = Vec::new();
    for arg in cli.get_arguments().chain(serve.get_arguments()) {
        let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let env = env.to_string_lossy();
        let row = REFERENCE
            .lines()
            .find(|l| l.starts_with('|') && l.contains(&format!("`{env}`")));
        match row {
            Some(row) if row.contains(&format!("`--{long}`")) => {}
            Some(_) => missing.push(format!("{env}: its row does not name --{long}")),
            None => missing.push(format!("{env} (--{long}): not in docs/configuration.md")),
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
