//! Fuzz target bodies (feature `fuzzing`), compiled by CI and called by the cargo-fuzz targets in `fuzz/`.
