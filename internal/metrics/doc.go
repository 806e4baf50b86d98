// Package metrics serves a Prometheus registry over HTTP. Each subsystem
// registers its own collectors on the registry it is given at construction
// (with Register, which reuses collectors a rebuilt service registered
// before); nothing registers on the global default registry.
//
// Layer: base (DESIGN 7).
package metrics
