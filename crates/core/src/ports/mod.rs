//! The ports to storage that the domain defines and the backends implement.

pub mod catalog;
