//! The time source (defined with the domain, which takes time as an input).

pub use actors::clock::*;
