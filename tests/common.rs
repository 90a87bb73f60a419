//! Helpers shared by the test modules.

use std::path::Path;

use image::RgbImage;

/// Writes a tiny CelebA-layout root by hand: `n` images of 178x218 with a gradient whose values
/// encode the image index, five- and 68-point rows, identities `i / 2` and partitions
/// train/val/test by `i % 3` (so the test knows every expected value).
pub fn write_mini_celeba(root: &Path, n: usize) {
    let img_dir = root.join("img_align_celeba");
    std::fs::create_dir_all(&img_dir).expect("create image dir");
    let mut partition = String::new();
    let mut identity = String::new();
    let mut l5 = format!(
        "{n}\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"
    );
    let header68: Vec<String> = (1..=68).map(|i| format!("x{i} y{i}")).collect();
    let mut l68 = format!("{n}\n{}\n", header68.join(" "));
    for i in 0..n {
        let name = format!("{:06}.jpg", i + 1);
        let img = RgbImage::from_fn(178, 218, |x, y| {
            image::Rgb([(x + i as u32 * 10) as u8, y as u8, 128])
        });
        img.save_with_format(img_dir.join(&name), image::ImageFormat::Png)
            .expect("write image");
        partition.push_str(&format!("{name} {}\n", i % 3));
        identity.push_str(&format!("{name} {}\n", 100 + i / 2));
        l5.push_str(&format!("{name} 69 112 107 112 89 134 68 151 108 151\n"));
        let pts: Vec<String> = (0..68).map(|k| format!("{} {}", 30 + k, 70 + k)).collect();
        l68.push_str(&format!("{name} {}\n", pts.join(" ")));
    }
    std::fs::write(root.join("list_eval_partition.txt"), partition).expect("write");
    std::fs::write(root.join("identity_CelebA.txt"), identity).expect("write");
    std::fs::write(root.join("list_landmarks_align_celeba.txt"), l5).expect("write");
    std::fs::write(root.join("landmarks68.txt"), l68).expect("write");
}

use std::path::PathBuf;
use std::sync::OnceLock;

use indicatif::ProgressBar;
use ofhnet::data::dataset::{ImportOptions, import};
use ofhnet::data::protocol::Protocol;
use ofhnet::data::synth::{SynthOptions, write_celeba_root};

/// A prepared dataset of 300 synthetic faces (30 identities; official split by identity),
/// made once per test process and shared by the tests that train.
pub fn synthetic_dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| make_synthetic_dataset(300, 3))
}

/// A prepared dataset of `count` synthetic faces (official split: 70% train, 10% val, 20%
/// test), in a directory that lives as long as the test process.
pub fn make_synthetic_dataset(count: usize, seed: u64) -> PathBuf {
    let tmp = tempfile::tempdir().expect("tempdir").keep();
    let root = tmp.join("synth");
    let options = SynthOptions {
        count,
        seed,
        images_per_identity: 10,
        val_fraction: 0.1,
        test_fraction: 0.2,
    };
    write_celeba_root(&root, &options, &ProgressBar::hidden()).expect("synth");
    let out = tmp.join("prepared");
    import(
        &ImportOptions {
            roots: vec![root],
            train_roots: Vec::new(),
            out: out.clone(),
            split: "official".parse().expect("split"),
            seed: 0,
            protocol: Protocol::default(),
            strict: true,
            force: false,
        },
        &ProgressBar::hidden(),
    )
    .expect("import");
    out
}

/// Tests read the store's tables directly, in SQL, to check what the library's typed API would
/// hide (duplicate curve rows, a schema from the future). The library has no raw-SQL door: every
/// statement of the project lives in src/harness/store/, and this opens its own connection.
pub trait RawSql {
    /// Runs one SQL statement and returns the first column of every row as text.
    fn query_strings(&self, sql: &str) -> Result<Vec<String>, String>;
}

impl RawSql for ofhnet::harness::store::Store {
    fn query_strings(&self, sql: &str) -> Result<Vec<String>, String> {
        use sqlx::{Connection, Row};
        sqlx::any::install_default_drivers();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let mut conn = sqlx::AnyConnection::connect(self.url())
                .await
                .map_err(|e| format!("{}: {e}", self.shown()))?;
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
                .fetch_all(&mut conn)
                .await
                .map_err(|e| format!("{sql}: {e}"))?;
            let text = rows
                .iter()
                .map(|r| {
                    r.try_get::<String, _>(0)
                        .or_else(|_| r.try_get::<i64, _>(0).map(|v| v.to_string()))
                        .or_else(|_| r.try_get::<f64, _>(0).map(|v| v.to_string()))
                        .map_err(|e| format!("{sql}: {e}"))
                })
                .collect();
            let _ = conn.close().await;
            text
        })
    }
}

/// A Python that imports `modules` (comma-separated, e.g. "torch, safetensors"):
/// `$OFHNET_PYTHON`, else the venv of scripts/tch-env.sh (`$OFHNET_TORCH_VENV`, default
/// ~/.cache/ofhnet/torch-venv), which holds torch, safetensors and tensorboard. `None` (the
/// caller skips) unless `OFHNET_REQUIRE_PYTHON` is set, as CI sets it: then a missing one fails.
pub fn python_with(modules: &str) -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    let candidates = [
        std::env::var_os("OFHNET_PYTHON").map(PathBuf::from),
        std::env::var_os("OFHNET_TORCH_VENV").map(|v| Path::new(&v).join("bin/python")),
        std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/ofhnet/torch-venv/bin/python")),
    ];
    let found = candidates.into_iter().flatten().find(|p| {
        std::process::Command::new(p)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("OFHNET_REQUIRE_PYTHON").is_none(),
            "OFHNET_REQUIRE_PYTHON is set but no Python imports {modules} \
             (scripts/tch-env.sh python makes one)"
        );
        eprintln!(
            "skipped: no Python that imports {modules} (scripts/tch-env.sh python makes one)"
        );
    }
    found
}
