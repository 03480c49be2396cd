package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bin holds the binaries built once for the whole package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "etcq-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	code := func() int {
		defer os.RemoveAll(dir)
		for _, cmd := range []string{"etcq", "etcqctl"} {
			build := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "etcq.dev/etcq/cmd/"+cmd)
			build.Stdout, build.Stderr = os.Stderr, os.Stderr
			if err := build.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n", cmd, err)
				return 1
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}
