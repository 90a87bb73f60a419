//! Landmark networks: training lowers the error, and the frozen copy inside the semantic
//! structure loss neither learns nor updates its BatchNorm statistics.

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Distribution, Tensor};
use indicatif::ProgressBar;
use ofhnet::Error;
use ofhnet::data::dataset::Dataset;
use ofhnet::interrupt::Cancel;
use ofhnet::train::landmarks::{
    LandmarkSpec, Role, load_landmark_net, mean_nrmse, train_landmarks,
};
use ofhnet::train::stages::frozen_landmark_net;

use crate::common::synthetic_dataset;

#[test]
fn landmark_training_lowers_nrmse_and_the_frozen_net_stays_frozen() {
    let data = Dataset::open(synthetic_dataset()).expect("dataset");
    let train = data.split("train").expect("train");
    let test = data.split("test").expect("test");
    let device = Device::flex();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut spec = LandmarkSpec::for_role(Role::Loss);
    spec.widths = [8, 8, 16, 16];
    spec.hidden = 64;
    spec.steps = Some(60);
    spec.lr = 3e-3;
    let untrained = spec.net_config().init(&device);
    let before = mean_nrmse(&untrained, &test, &device).expect("nrmse");
    // A stop request (a worker's Ctrl-C) stops the training before its next step.
    let run = |cancel: &Cancel| {
        train_landmarks(
            &spec,
            &train,
            Some(&test),
            tmp.path(),
            &device,
            &ProgressBar::hidden(),
            cancel,
        )
    };
    let stop = Cancel::new();
    stop.cancel("test stop");
    let stopped = run(&stop);
    assert!(
        matches!(stopped, Err(Error::Interrupted(_))),
        "{:?}",
        stopped.err()
    );
    assert!(!tmp.path().join("checkpoint").exists(), "no step was taken");
    let record = run(&Cancel::new()).expect("train");
    let after = record.test_nrmse.expect("test nrmse");
    assert!(after < before * 0.5, "NRMSE {before} -> {after}");
    let loaded = load_landmark_net(tmp.path(), &device).expect("load");
    let reloaded = mean_nrmse(&loaded, &test, &device).expect("nrmse");
    assert!(
        (reloaded - after).abs() < 1e-6,
        "trained {after} vs reloaded {reloaded}"
    );

    // Frozen on the autodiff device, as stage 2 uses it.
    let ad = device.clone().autodiff();
    let net = frozen_landmark_net(tmp.path(), &ad).expect("frozen");
    let stats = |n: &ofhnet::nets::landmark::LandmarkNet| -> Vec<f32> {
        n.stages[0]
            .bn
            .running_mean
            .value()
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .expect("f32")
    };
    let mean_before = stats(&net);
    let x = Tensor::<4>::random([4, 3, 128, 128], Distribution::Default, &ad).require_grad();
    let out = net.forward(x.clone());
    let grads = out.square().mean().backward();
    assert!(
        x.grad(&grads).is_some(),
        "gradients flow through to the generated face"
    );
    let params = GradientsParams::from_grads(grads, &net);
    assert!(
        params.is_empty(),
        "the frozen network has no parameter gradients"
    );
    assert_eq!(
        stats(&net),
        mean_before,
        "BatchNorm statistics must not move"
    );
    assert_eq!(net.num_params(), loaded.num_params());
}
