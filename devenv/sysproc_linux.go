package devenv

import "syscall"

// dieWithParent makes the kernel send sig to the child when the caller dies, so that a test
// binary killed by a timeout does not leave servers behind.
func dieWithParent(attr *syscall.SysProcAttr, sig syscall.Signal) {
	attr.Pdeathsig = sig
}
