//! clinicscan report crate (under construction).
