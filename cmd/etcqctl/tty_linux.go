//go:build linux

package main

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// terminal returns r as a file if it is a terminal (a tty, not any character device:
// /dev/null is none).
func terminal(r io.Reader) (*os.File, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return nil, false
	}
	var t syscall.Termios
	return f, termios(f, syscall.TCGETS, &t) == nil
}

// noEcho stops terminal f from echoing what is typed, and returns what turns its echo
// back on.
func noEcho(f *os.File) (restore func(), err error) {
	var old syscall.Termios
	if err := termios(f, syscall.TCGETS, &old); err != nil {
		return nil, err
	}
	t := old
	t.Lflag &^= syscall.ECHO
	t.Lflag |= syscall.ICANON | syscall.ISIG
	if err := termios(f, syscall.TCSETS, &t); err != nil {
		return nil, err
	}
	return func() { _ = termios(f, syscall.TCSETS, &old) }, nil
}

func termios(f *os.File, req uintptr, t *syscall.Termios) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), req, uintptr(unsafe.Pointer(t))); errno != 0 {
		return errno
	}
	return nil
}
