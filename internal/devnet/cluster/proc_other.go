//go:build !linux

package cluster

import "syscall"

// sysProcAttr puts a node in its own process group; only Linux can tie
// its life to the parent's (Pdeathsig).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
