//! clinicscan policy crate (under construction).
