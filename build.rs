//! Embeds the store's schema migrations: every `migrations/NNNN_description.sql` (one SQL for
//! SQLite and PostgreSQL) or pair of `NNNN_description.sqlite.sql` and
//! `NNNN_description.postgres.sql` becomes one entry of `MIGRATIONS`, oldest first, and the
//! newest version is `SCHEMA_VERSION`. A new migration is then one new file (or pair).
//!
//! With `--features tch` it also compiles `src/nets/fused_tch.cpp` (LibTorch's batch-norm and
//! convolution backward kernels, which the `tch` crate does not wrap) against the headers of the LibTorch that
//! torch-sys links: `$LIBTORCH/include`, or with `LIBTORCH_USE_PYTORCH=1` the installed PyTorch's.

use std::collections::BTreeMap;
use std::path::Path;

fn main() {
    embed_migrations();
    #[cfg(feature = "tch")]
    fused_tch::compile();
}

fn embed_migrations() {
    println!("cargo:rerun-if-changed=migrations");
    // The manifest directory when the script runs (not when it was compiled), and paths in the
    // generated file relative to `CARGO_MANIFEST_DIR` as the library sees it: checkouts at
    // different paths that share a target directory (CI's clone and a developer's copy) reuse
    // this script's output, which must then still name the files of the checkout being built.
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let dir = Path::new(&root).join("migrations");
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
        let file = format!("/migrations/{name}");
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
             {description:?},\n        sqlite: include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \
             {sqlite:?})),\n        postgres: include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \
             {postgres:?})),\n    }},\n"
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

#[cfg(feature = "tch")]
mod fused_tch {
    use std::path::PathBuf;
    use std::process::Command;

    /// The LibTorch headers and C++ ABI, found as torch-sys finds them (its build script's
    /// `LIBTORCH`, `LIBTORCH_INCLUDE`, `LIBTORCH_CXX11_ABI`, `LIBTORCH_USE_PYTORCH` and
    /// `PYTHON_SYS_EXECUTABLE`), so that the shim is compiled for the library it links with.
    fn libtorch() -> (Vec<PathBuf>, String) {
        for var in [
            "LIBTORCH",
            "LIBTORCH_INCLUDE",
            "LIBTORCH_CXX11_ABI",
            "LIBTORCH_USE_PYTORCH",
            "PYTHON_SYS_EXECUTABLE",
        ] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if env("LIBTORCH_USE_PYTORCH").is_some() {
            let python = env("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|| "python".into());
            let script = "import torch\nfrom torch.utils import cpp_extension\n\
                print('ABI', int(torch._C._GLIBCXX_USE_CXX11_ABI))\n\
                [print('INCLUDE', p) for p in cpp_extension.include_paths()]";
            let output = Command::new(&python)
                .args(["-c", script])
                .output()
                .unwrap_or_else(|e| panic!("LIBTORCH_USE_PYTORCH: cannot run {python}: {e}"));
            assert!(
                output.status.success(),
                "LIBTORCH_USE_PYTORCH: {python} cannot import torch: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let text = String::from_utf8_lossy(&output.stdout);
            let mut includes = Vec::new();
            let mut abi = String::from("1");
            for line in text.lines() {
                if let Some(path) = line.strip_prefix("INCLUDE ") {
                    includes.push(PathBuf::from(path));
                } else if let Some(value) = line.strip_prefix("ABI ") {
                    abi = value.to_string();
                }
            }
            return (includes, abi);
        }
        let Some(root) = env("LIBTORCH_INCLUDE").or_else(|| env("LIBTORCH")) else {
            panic!(
                "--features tch: set LIBTORCH to a LibTorch 2.9.0 directory, or LIBTORCH_USE_PYTORCH=1 \
                 with torch==2.9.0 installed (scripts/tch-env.sh build does the latter)"
            );
        };
        let root = PathBuf::from(root);
        let includes = vec![
            root.join("include"),
            root.join("include/torch/csrc/api/include"),
        ];
        (
            includes,
            env("LIBTORCH_CXX11_ABI").unwrap_or_else(|| "1".into()),
        )
    }

    pub fn compile() {
        println!("cargo:rerun-if-changed=src/nets/fused_tch.cpp");
        let (includes, abi) = libtorch();
        cc::Build::new()
            .cpp(true)
            .file("src/nets/fused_tch.cpp")
            .includes(&includes)
            .flag("-std=c++17")
            .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
            .flag("-DGLOG_USE_GLOG_EXPORT")
            .warnings(false)
            .compile("ofhnet_fused_tch");
    }
}
