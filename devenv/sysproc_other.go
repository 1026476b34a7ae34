//go:build !linux

package devenv

import "syscall"

// dieWithParent is Linux-only; elsewhere a killed caller may leave its servers running.
func dieWithParent(attr *syscall.SysProcAttr, sig syscall.Signal) {}
