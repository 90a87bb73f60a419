//! The methods a run can be: OFHNet and the paper's baselines, each behind the same trained
//! InpaintNet ("for fair comparison, we use our inpainting network (IN) to complete the input for
//! all methods"). The learned ones (OFHNet, VDSR, FSRCNN, URDGN) are stage-2 generators
//! ([`crate::nets::generator::Generator`]); IN+bicubic needs no second stage, and IN+Ma's
//! "training" is building its patch dictionaries ([`position_patch`]).

pub mod position_patch;

/// Method names as they appear in the store, CSVs and reports.
pub mod names {
    pub const OFHNET: &str = "ofhnet";
    pub const IN_BICUBIC: &str = "in_bicubic";
    pub const IN_MA: &str = "in_ma";
    pub const IN_VDSR: &str = "in_vdsr";
    pub const IN_FSRCNN: &str = "in_fsrcnn";
    pub const IN_URDGN: &str = "in_urdgn";
}
