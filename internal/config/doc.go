// Package config is the node's one configuration: defaults, a TOML file,
// environment overrides (HEMI_*) and command-line flags, in that order of
// precedence, then validation. The documented sample file
// (config.sample.toml at the repository root) is tested against Default so
// the two never drift. No package reads configuration from globals: each
// subsystem gets its part of Config at construction.
//
// Layer: assembly (DESIGN 7).
package config
