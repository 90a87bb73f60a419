//! Weights that PyTorch reads: `ofhnet export` / `import` round-tripped through the PyTorch
//! mirror (benches/reference/exchange.py), for every learned method's networks.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{Device, Tensor, TensorData};
use ofhnet::interop::weights;
use ofhnet::methods::GeneratorSpec;
use ofhnet::model::Model;
use ofhnet::nets::spec::{Preset, UpsampleSpec};
use ofhnet::train::checkpoint::{save_module, write_json};
use ofhnet::train::config::TrainConfig;
use ofhnet::train::stages::{files, save_generator};
use safetensors::SafeTensors;

fn python(py: &Path, args: &[&Path]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference/exchange.py");
    let out = Command::new(py)
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "exchange.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
}

/// Two occluded 16x16 faces: smooth colours with a zero hole.
fn probe_input(device: &Device) -> Tensor<4> {
    let mut v = Vec::with_capacity(2 * 3 * 16 * 16);
    for b in 0..2 {
        for c in 0..3 {
            for y in 0..16 {
                for x in 0..16 {
                    let hole = (4..9).contains(&(x + b)) && (5..10).contains(&y);
                    let value = 0.5 + 0.4 * ((x * 3 + y * 5 + c * 7 + b * 11) as f32 * 0.13).sin();
                    v.push(if hole { 0.0 } else { value });
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [2, 3, 16, 16]), device)
}

fn to_vec(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 data")
}

/// Writes `name -> (shape, values)` as a safetensors file.
fn write_probe(path: &Path, tensors: &[(&str, Tensor<4>)]) {
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let bytes = to_vec(t.clone())
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            (name.to_string(), t.dims().to_vec(), bytes)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = data
        .iter()
        .map(|(n, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("view");
            (n.clone(), view)
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).expect("write probe");
}

fn read_probe(path: &Path, name: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).expect("read probe");
    let st = SafeTensors::deserialize(&bytes).expect("parse probe");
    st.tensor(name)
        .expect("tensor")
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Every learned method's generator at the tiny preset (OFHNet with and without the bicubic
/// residual, with its discriminator), weights as initialised.
fn model_dirs(root: &Path, device: &Device) -> Vec<PathBuf> {
    let generators = [
        ("ofhnet", GeneratorSpec::default(), Some(false)),
        ("ofhnet-residual", GeneratorSpec::default(), Some(true)),
        ("vdsr", GeneratorSpec::Vdsr(Default::default()), None),
        ("fsrcnn", GeneratorSpec::Fsrcnn(Default::default()), None),
        ("urdgn", GeneratorSpec::Urdgn(Default::default()), None),
        ("edsr", GeneratorSpec::Edsr(Default::default()), None),
    ];
    generators
        .into_iter()
        .map(|(name, generator, residual)| {
            let config = TrainConfig {
                preset: Preset::Tiny,
                upsample: UpsampleSpec {
                    residual,
                    ..Default::default()
                },
                generator,
                ..Default::default()
            };
            let dir = root.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            save_module(
                &config.inpaint_config().init(device),
                &dir.join(files::INPAINT),
            )
            .unwrap();
            if name == "ofhnet" {
                save_module(
                    &config.discriminator_config().init(device),
                    &dir.join(files::DISCRIMINATOR),
                )
                .unwrap();
            }
            write_json(&dir.join(files::CONFIG), &config).unwrap();
            save_generator(&config.generator_init(device), &dir.join(files::UPSAMPLE)).unwrap();
            dir
        })
        .collect()
}

#[test]
fn weights_round_trip_through_pytorch_both_ways() {
    let Some(py) = crate::common::python_with("torch, safetensors") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::default();
    let input = probe_input(&device);
    let models = model_dirs(&tmp.path().join("models"), &device);

    // Rust -> PyTorch: export, and let PyTorch run the probe through the exported networks.
    let mut exports = Vec::new();
    for m in &models {
        let name = m.file_name().unwrap().to_string_lossy().to_string();
        let out = tmp.path().join("export").join(&name);
        let exported = weights::export(m, &out, &device).unwrap();
        assert_eq!(exported.tensors.len(), if name == "ofhnet" { 3 } else { 2 });
        let model = Model::load(m, &device).unwrap();
        let (inpainted, output) = model.forward(input.clone());
        write_probe(
            &out.join("probe.safetensors"),
            &[
                ("input", input.clone()),
                ("inpainted", inpainted),
                ("output", output),
            ],
        );
        exports.push((name, out));
    }
    let mut args: Vec<&Path> = vec![Path::new("check")];
    args.extend(exports.iter().map(|(_, d)| d.as_path()));
    python(&py, &args);

    // PyTorch -> Rust: PyTorch moves every weight and BatchNorm statistic and saves; ofhnet
    // imports, and the model gives PyTorch's outputs.
    let mut reexports = Vec::new();
    for (name, out) in &exports {
        let edited = tmp.path().join("edited").join(name);
        python(&py, &[Path::new("perturb"), out, &edited]);
        let model_dir = tmp.path().join("imported").join(name);
        let networks = weights::import(&edited, &model_dir, &device).unwrap();
        assert_eq!(networks.discriminator.is_some(), name == "ofhnet");
        let model = Model::load(&model_dir, &device).unwrap();
        let (inpainted, output) = model.forward(input.clone());
        let probe = edited.join("probe.safetensors");
        let inpaint_diff = max_diff(&to_vec(inpainted), &read_probe(&probe, "inpainted"));
        let output_diff = max_diff(&to_vec(output), &read_probe(&probe, "output"));
        eprintln!(
            "{name}: ofhnet's imported model vs PyTorch: {inpaint_diff:.3e} / {output_diff:.3e}"
        );
        assert!(
            inpaint_diff <= 1e-4 && output_diff <= 1e-4,
            "{name}: imported model differs from PyTorch's by {inpaint_diff} / {output_diff}"
        );
        // The perturbation must have changed the outputs, or this proves nothing.
        let before = read_probe(&out.join("probe.safetensors"), "output");
        assert!(
            max_diff(&before, &read_probe(&probe, "output")) > 1e-3,
            "{name}"
        );

        // And back again: the imported (PyTorch-trained) weights exported by ofhnet give
        // PyTorch the same outputs.
        let again = tmp.path().join("again").join(name);
        weights::export(&model_dir, &again, &device).unwrap();
        std::fs::copy(&probe, again.join("probe.safetensors")).unwrap();
        reexports.push(again);
    }
    let mut args: Vec<&Path> = vec![Path::new("check")];
    args.extend(reexports.iter().map(|d| d.as_path()));
    python(&py, &args);
}

#[test]
fn import_refuses_networks_that_config_does_not_configure() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Device::default();
    let models = model_dirs(&tmp.path().join("models"), &device);
    let out = tmp.path().join("export");
    weights::export(&models[2], &out, &device).unwrap(); // vdsr
    let path = out.join(weights::names::NETWORKS);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"depth\": 4", "\"depth\": 5")).unwrap();
    let err = weights::import(&out, &tmp.path().join("m"), &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("networks.json") && err.contains("generator"),
        "{err}"
    );
    assert!(
        !tmp.path().join("m").exists(),
        "nothing is written on a refused import"
    );
}
