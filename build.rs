//! Embeds the store's schema migrations: every `migrations/NNNN_description.sql` (one SQL for
//! SQLite and PostgreSQL) or pair of `NNNN_description.sqlite.sql` and
//! `NNNN_description.postgres.sql` becomes one entry of `MIGRATIONS`, oldest first, and the
//! newest version is `SCHEMA_VERSION`. A new migration is then one new file (or pair).

use std::collections::BTreeMap;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    // version -> (description, sqlite file, postgres file)
    let mut found: BTreeMap<i64, (String, Option<String>, Option<String>)> = BTreeMap::new();
    let entries = std::fs::read_dir(&dir).expect("the migrations/ directory");
    for entry in entries {
        let path = entry.expect("a migrations/ entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        let (stem, only) = if let Some(s) = stem.strip_suffix(".sqlite") {
            (s, Some("sqlite"))
        } else if let Some(s) = stem.strip_suffix(".postgres") {
            (s, Some("postgres"))
        } else {
            (stem, None)
        };
        let (number, description) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("migrations/{name}: expected NNNN_description.sql"));
        let version: i64 = number
            .parse()
            .unwrap_or_else(|_| panic!("migrations/{name}: {number} is not a version number"));
        let file = path.display().to_string();
        let e = found
            .entry(version)
            .or_insert_with(|| (description.replace('_', " "), None, None));
        if only != Some("postgres") {
            assert!(
                e.1.is_none(),
                "migrations/{name}: version {version} twice for SQLite"
            );
            e.1 = Some(file.clone());
        }
        if only != Some("sqlite") {
            assert!(
                e.2.is_none(),
                "migrations/{name}: version {version} twice for PostgreSQL"
            );
            e.2 = Some(file);
        }
    }
    let mut out = String::from(
        "/// The migrations, embedded in the binary (oldest first; made by build.rs from \
         migrations/).\nconst MIGRATIONS: &[SchemaMigration] = &[\n",
    );
    for (expected, (version, (description, sqlite, postgres))) in (1..).zip(&found) {
        assert_eq!(
            *version, expected,
            "migrations/: version {expected} is missing"
        );
        let sqlite = sqlite
            .as_ref()
            .unwrap_or_else(|| panic!("version {version}: no SQLite SQL"));
        let postgres = postgres
            .as_ref()
            .unwrap_or_else(|| panic!("version {version}: no PostgreSQL SQL"));
        out.push_str(&format!(
            "    SchemaMigration {{\n        version: {version},\n        description: \
             {description:?},\n        sqlite: include_str!({sqlite:?}),\n        postgres: \
             include_str!({postgres:?}),\n    }},\n"
        ));
    }
    out.push_str("];\n\n/// The newest schema version this binary knows (a store written by a newer one is refused).\n");
    out.push_str(&format!(
        "pub const SCHEMA_VERSION: i64 = {};\n",
        found.keys().last().copied().unwrap_or(0)
    ));
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(target, out).expect("writing migrations.rs");
}
