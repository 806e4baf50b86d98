package cluster

import "syscall"

// sysProcAttr puts a node in its own process group (a Ctrl-C at the
// terminal reaches only the parent, which stops the nodes in order) and
// has the kernel SIGKILL it if the parent dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
