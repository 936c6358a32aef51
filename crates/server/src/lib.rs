//! Tuilerie's server: configuration, HTTP application and listener, and the `tuilerie`
//! command line. The binary (`main.rs`) only calls [`cli::main`].
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod http;
pub mod metrics;
pub mod serve;
