//! Tuilerie's server: configuration, HTTP application and listener, and the `tuilerie`
//! command line. The binary (`main.rs`) only calls [`cli::main`].
#![forbid(unsafe_code)]

pub mod access;
pub mod api;
pub mod cli;
pub mod cli_ingest;
pub mod cli_publish;
pub mod cli_pyramid;
pub mod cli_pyramid_layer;
pub mod cli_style;
pub mod config;
pub mod featureinfo;
pub mod http;
pub mod layers;
pub mod metrics;
pub mod ogc;
pub mod preview;
pub mod publish;
pub mod serve;
pub mod tiles;
pub mod tms;
pub mod wms;
pub mod wmts;
