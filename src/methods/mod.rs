//! The methods a run can be: OFHNet and the paper's baselines, each behind the same trained
//! InpaintNet ("for fair comparison, we use our inpainting network (IN) to complete the input for
//! all methods").
//!
//! This module is the one home of what a method is. Each method is one file here with
//! - its block of the experiment file (`method: {type: NAME, ...}`), a struct that implements
//!   [`MethodSpec`]: its name, its preset and InpaintNet, its kind of stage 2 ([`Stage2Kind`])
//!   and the training configuration it asks for (its generator and the loss blocks its paper
//!   trains with);
//! - for a learned method, its stage-2 generator's block of a model's `config.json`
//!   (`generator: {type: ..., ...}`), a struct that implements [`GeneratorKind`]: how its sizes
//!   follow the preset and how its network is built;
//!
//! and one line of the [`methods!`] table at the bottom of this file, which makes the variants of
//! [`Method`] (the experiment's method), [`GeneratorSpec`] (the model's generator) and
//! [`Generator`] (the burn module) and their dispatch. A new method is a new file and one line.
//! The networks themselves live in [`crate::nets`].
//!
//! The serialized shapes (`type` tags, field names) are hashed into run keys and shared-model
//! keys, so they never change; new fields are options (an unset option stays out of the hash).

/// Declares a method's block of the experiment file: the fields every method has (`preset`,
/// `inpaint`, `composite`) and its own (options, so that an unset one stays out of run keys), and
/// the [`MethodBlock`] part of [`MethodSpec`] that follows from them: its name and its kind of
/// stage 2.
macro_rules! method_block {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($tag:expr, $kind:expr) {
            $( $(#[$fmeta:meta])* pub $field:ident: $fty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            pub preset: crate::nets::spec::Preset,
            pub inpaint: crate::nets::spec::InpaintSpec,
            /// Feed the generator the input's known pixels, and InpaintNet's pixels only inside
            /// the hole (instead of InpaintNet's whole output).
            #[serde(default = "crate::methods::yes")]
            pub composite: bool,
            $( $(#[$fmeta])* pub $field: $fty, )*
        }

        impl crate::methods::MethodBlock for $name {
            fn name(&self) -> &'static str {
                $tag
            }

            fn base(&self) -> (crate::nets::spec::Preset, &crate::nets::spec::InpaintSpec, bool) {
                (self.preset, &self.inpaint, self.composite)
            }

            fn stage2_kind(&self) -> crate::methods::Stage2Kind {
                $kind
            }
        }
    };
}

pub mod bicubic;
pub mod edsr;
pub mod fsrcnn;
pub mod ma;
pub mod ofhnet;
pub mod position_patch;
pub mod urdgn;
pub mod vdsr;

use burn::module::Module;
use burn::store::ModuleSnapshot;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::losses::LossesSpec;
use crate::nets::spec::{DiscriminatorSpec, InpaintSpec, Preset, UpsampleSpec};
use position_patch::PositionPatchConfig;

/// What a method does after stage 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage2Kind {
    /// Trains a generator (OFHNet, VDSR, FSRCNN, URDGN, EDSR).
    Generator,
    /// Builds patch dictionaries from the training faces (IN+Ma).
    Dictionary,
    /// Nothing: a fixed upscaling (IN+bicubic).
    None,
}

/// What a method asks of the training: its stage-2 generator (for a learned method) and the
/// networks and loss blocks it is trained with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Training {
    pub generator: GeneratorSpec,
    pub upsample: UpsampleSpec,
    pub discriminator: DiscriminatorSpec,
    pub losses: LossesSpec,
}

/// What every method's block declares with `method_block!`.
pub trait MethodBlock {
    /// The name the store, CSVs and reports use (the block's `type` tag).
    fn name(&self) -> &'static str;
    /// The network preset, InpaintNet's widths and whether the generator sees the input's known
    /// pixels composited over InpaintNet's output (every method has them).
    fn base(&self) -> (Preset, &InpaintSpec, bool);
    fn stage2_kind(&self) -> Stage2Kind;
}

/// A method's block of the experiment file.
pub trait MethodSpec: MethodBlock {
    /// The training it asks for, given the experiment's loss blocks. A method that trains no
    /// generator still trains stage 1 (with `losses.inpaint_l2`), so it returns the defaults
    /// with the L2 blocks.
    fn training(&self, losses: &LossesSpec) -> Training {
        Training {
            losses: losses.l2_only(),
            ..Training::default()
        }
    }
    /// IN+Ma's options (for a method whose stage 2 is [`Stage2Kind::Dictionary`]).
    fn position_patch(&self) -> Option<PositionPatchConfig> {
        None
    }
}

/// A learned method's stage-2 generator, as a model's `config.json` names it.
pub trait GeneratorKind: Sized {
    /// The burn module.
    type Net;
    /// burn's configuration of the network. Its JSON fields are the keyword arguments of the
    /// network's PyTorch mirror (what `ofhnet export` writes beside the weights).
    type Config: Serialize;
    /// The method it is reported under.
    const METHOD: &'static str;
    /// The class of `benches/reference/ofhnet_ref.py` that mirrors the network.
    const REFERENCE_CLASS: &'static str;
    /// Every size filled in from `preset`, so that a saved configuration says exactly what ran.
    fn resolved(&self, preset: Preset) -> Self;
    /// burn's configuration of the network (`upsample` is the configuration's UpsampleNet
    /// block, which only OFHNet's generator reads).
    fn net_config(&self, preset: Preset, upsample: &UpsampleSpec) -> Self::Config;
    /// Builds the network.
    fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device) -> Self::Net;
    /// The loss blocks the method trains with, given the experiment's.
    fn losses(&self, losses: &LossesSpec) -> LossesSpec;
}

/// A function of any generator network (see [`Generator::with_net`]).
pub trait NetFn {
    type Out;
    fn call<M: Module + ModuleSnapshot>(self, net: &M) -> Self::Out;
}

/// A fallible map of any generator network to one of the same type (see [`Generator::map_net`]).
pub trait NetMap {
    fn call<M: Module + ModuleSnapshot>(self, net: M) -> Result<M>;
}

/// serde's default for the `composite` fields.
pub(crate) fn yes() -> bool {
    true
}

impl Default for Method {
    fn default() -> Self {
        Method::Ofhnet(ofhnet::OfhnetMethod {
            composite: true,
            ..ofhnet::OfhnetMethod::default()
        })
    }
}

impl Default for GeneratorSpec {
    fn default() -> Self {
        GeneratorSpec::Upsample(ofhnet::UpsampleGenerator {})
    }
}

impl Method {
    /// The name the store and reports use for the method.
    pub fn label(&self) -> &'static str {
        self.spec().name()
    }

    /// Whether the method trains a stage-2 generator.
    pub fn trains_stage2(&self) -> bool {
        self.spec().stage2_kind() == Stage2Kind::Generator
    }

    /// IN+Ma's options, for an IN+Ma method.
    pub fn position_patch(&self) -> Option<PositionPatchConfig> {
        self.spec().position_patch()
    }
}

/// Makes, from one table of methods, the experiment's [`Method`], the model's
/// [`GeneratorSpec`] and the burn [`Generator`], with their dispatch. Each line is
/// `Variant(method block) [=> GeneratorVariant(generator block, network)]`; the variants' names in
/// snake case are the `type` tags.
macro_rules! methods {
    ($( $(#[$doc:meta])* $variant:ident($block:ty)
        $(=> $gen:ident($gblock:ty, $net:ty))? ),* $(,)?) => {
        /// The method a run trains and evaluates: a closed, tagged set (`type: ...`).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Method {
            $( $(#[$doc])* $variant($block), )*
        }

        impl Method {
            /// Every method with its block's defaults, in the table's order.
            pub fn all() -> Vec<Method> {
                vec![$( Method::$variant(<$block>::default()), )*]
            }

            /// The method's block, through the trait every block implements.
            pub fn spec(&self) -> &dyn MethodSpec {
                match self {
                    $( Method::$variant(m) => m, )*
                }
            }
        }

        /// The stage-2 generator of a model's configuration (`generator: {type: ...}`).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum GeneratorSpec {
            $( $( $gen($gblock), )? )*
        }

        impl GeneratorSpec {
            /// The method this generator is reported under.
            pub fn method(&self) -> &'static str {
                match self {
                    $( $( GeneratorSpec::$gen(_) => <$gblock as GeneratorKind>::METHOD, )? )*
                }
            }

            /// Every size filled in from `preset`.
            pub fn resolved(&self, preset: Preset) -> Self {
                match self {
                    $( $( GeneratorSpec::$gen(g) => GeneratorSpec::$gen(g.resolved(preset)), )? )*
                }
            }

            /// Builds the network on `device`.
            pub fn init(&self, preset: Preset, upsample: &UpsampleSpec, device: &Device)
                -> Generator {
                match self {
                    $( $( GeneratorSpec::$gen(g) =>
                        Generator::$gen(g.resolved(preset).init(preset, upsample, device)), )? )*
                }
            }

            /// The loss blocks its method trains with, given the experiment's.
            pub fn losses(&self, losses: &LossesSpec) -> LossesSpec {
                match self {
                    $( $( GeneratorSpec::$gen(g) => g.losses(losses), )? )*
                }
            }

            /// The network's PyTorch mirror: its class in `benches/reference/ofhnet_ref.py`
            /// and burn's configuration as JSON (the class's keyword arguments).
            pub fn reference(&self, preset: Preset, upsample: &UpsampleSpec)
                -> (&'static str, serde_json::Value) {
                match self {
                    $( $( GeneratorSpec::$gen(g) => (
                        <$gblock as GeneratorKind>::REFERENCE_CLASS,
                        // A burn Config is plain data: serialising it cannot fail.
                        serde_json::to_value(g.resolved(preset).net_config(preset, upsample))
                            .unwrap_or_default(),
                    ), )? )*
                }
            }
        }

        /// A stage-2 generator. A run holds one, so the variants' size difference does not
        /// matter (and burn's `Module` derive does not see through a `Box`).
        #[allow(clippy::large_enum_variant)]
        #[derive(Module, Debug)]
        pub enum Generator {
            $( $( $gen($net), )? )*
        }

        impl Generator {
            /// # Shapes
            /// - input `[batch, 3, 16, 16]` in [0, 1]
            /// - output `[batch, 3, 128, 128]`
            pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
                match self {
                    $( $( Generator::$gen(g) => g.forward(x), )? )*
                }
            }

            /// `f` of the network itself (not the enum around it): saving one writes the same
            /// file whichever way it was built.
            pub fn with_net<F: NetFn>(&self, f: F) -> F::Out {
                match self {
                    $( $( Generator::$gen(g) => f.call(g), )? )*
                }
            }

            /// The network itself mapped by `f` (loading weights into it).
            pub fn map_net<F: NetMap>(self, f: F) -> Result<Self> {
                Ok(match self {
                    $( $( Generator::$gen(g) => Generator::$gen(f.call(g)?), )? )*
                })
            }
        }
    };
}

methods! {
    /// OFHNet: InpaintNet + UpsampleNet with the discriminator and the semantic structure loss.
    Ofhnet(ofhnet::OfhnetMethod) => Upsample(ofhnet::UpsampleGenerator, crate::nets::upsample::UpsampleNet),
    /// IN+bicubic: the inpainted face upscaled 8x (PIL's bicubic).
    InBicubic(bicubic::BicubicMethod),
    /// IN+Ma: position-patch (Ma et al. 2010).
    InMa(ma::MaMethod),
    /// IN+VDSR (Kim et al. 2016).
    InVdsr(vdsr::VdsrMethod) => Vdsr(vdsr::VdsrGenerator, crate::nets::vdsr::Vdsr),
    /// IN+FSRCNN (Dong et al. 2016).
    InFsrcnn(fsrcnn::FsrcnnMethod) => Fsrcnn(fsrcnn::FsrcnnGenerator, crate::nets::fsrcnn::Fsrcnn),
    /// IN+URDGN (Yu & Porikli 2016).
    InUrdgn(urdgn::UrdgnMethod) => Urdgn(urdgn::UrdgnGeneratorSpec, crate::nets::urdgn::UrdgnGenerator),
    /// IN+EDSR (Lim et al. 2017).
    InEdsr(edsr::EdsrMethod) => Edsr(edsr::EdsrGenerator, crate::nets::edsr::Edsr),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every method's `type` tag is its name, and a learned method's generator reports under
    /// the same name.
    #[test]
    fn tags_are_names() {
        for m in Method::all() {
            let yaml = serde_yaml::to_string(&m).expect("yaml");
            let back: Method = serde_yaml::from_str(&yaml).expect("round trip");
            assert_eq!(back, m, "{yaml}");
            let tag = serde_json::to_value(&m).expect("json")["type"].clone();
            assert_eq!(tag, m.label(), "{yaml}");
            let t = m.spec().training(&LossesSpec::default());
            if m.trains_stage2() {
                assert_eq!(t.generator.method(), m.label(), "{yaml}");
            }
        }
    }

    /// Model `config.json` files written before the methods had one home still read, and write
    /// back byte for byte (their hashes key trained models); a misspelt size is an error.
    #[test]
    fn generator_blocks_keep_their_shape() {
        for json in [
            r#"{"type":"upsample"}"#,
            r#"{"type":"vdsr","depth":8,"width":16}"#,
            r#"{"type":"fsrcnn","d":56,"s":12,"m":4}"#,
            r#"{"type":"urdgn","widths":[64,32,16]}"#,
        ] {
            let g: GeneratorSpec = serde_json::from_str(json).expect(json);
            assert_eq!(serde_json::to_string(&g).expect("json"), json);
        }
        let e = serde_json::from_str::<GeneratorSpec>(r#"{"type":"vdsr","dpth":8}"#)
            .expect_err("unknown field");
        assert!(e.to_string().contains("dpth"), "{e}");
    }
}
